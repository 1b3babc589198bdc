"""The REST API: health, generate with 4xx reasons, job control, audio in four formats, model control."""
from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import soundfile as sf
from fastapi import FastAPI

from studio.api import mount
from studio.services import Services
from tests.conftest import SENTENCE
from tests.library_fixtures import hibari_speech, wav_bytes


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    mount(app, services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://studio") as client:
        yield client


async def finished(client: httpx.AsyncClient, job_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = (await client.get(f"/api/jobs/{job_id}")).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise TimeoutError(job_id)


async def test_health_reports_device_memory_models_and_jobs(client: httpx.AsyncClient) -> None:
    health = (await client.get("/api/health")).json()
    assert health["status"] == "ok" and health["device"] == "cpu"
    assert health["memory"]["total"] > health["memory"]["available"] > 0
    assert health["models_loaded"] == [] and health["jobs"] == {"queued": 0, "running": 0}


async def test_generate_then_download_every_format(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/generate", json={"text": "Scripts can drive the studio.", "params": {"seed": 9}})
    assert response.status_code == 202
    job = await finished(client, response.json()["id"])
    assert job["state"] == "succeeded" and job["payload"]["params"]["seed"] == 9
    for fmt, container in (("wav", "WAV"), ("mp3", "MP3"), ("flac", "FLAC"), ("ogg", "OGG")):
        audio = await client.get(job["audio_url"], params={"format": fmt})
        assert audio.status_code == 200, fmt
        assert fmt in audio.headers["content-disposition"]
        info = sf.info(io.BytesIO(audio.content))
        assert info.format == container and abs(info.duration - job["result"]["duration"]) < 0.01
    assert (await client.get("/api/health")).json()["models_loaded"] == ["builtin.hibari[voice=heart]"]


@pytest.mark.parametrize(("body", "status", "reason"), [
    ({"text": "   "}, 400, "Text: enter some text first."),
    ({"text": "\u0000\u0007"}, 400, "Text: enter some text first."),
    ({"text": "x" * 100_000}, 413, "more than this engine takes at once (20,000)"),
    ({"text": "x" * 1_000_001}, 413, "text is longer than 1,000,000 characters; split the text."),
    ({"text": "🙂🎉"}, 400, "Nothing in the text can be spoken: Hibari reads English words and numbers, not 🙂, 🎉."),
    ({"text": "日本語です"}, 400, "not 日, 本, 語, で, す"),
    ({"text": "hi", "params": {"speed": 9}}, 400, "outside 0.5x to 2x"),
    ({"text": "hi", "engine": "test.missing"}, 409, "pip install no-such-package"),
    ({"text": "hi", "engine": "nope"}, 404, "No engine 'nope'"),
    ({"text": 5}, 400, "text: Input should be a valid string."),
    ({"text": "hi", "colour": "red"}, 400, "colour is not a field this takes: leave it out"),
    ({"Text": "hi"}, 400, "Text is not a field this takes: leave it out"),  # named as written, capital and all
    ({"text": "hi", "profile": "Anna"}, 400, "Hibari (builtin.hibari) takes no reference voice"),
    ({"engine": "test.prompted", "text": "hi", "profile": "Nobody"}, 404, "There is no voice profile 'Nobody'"),
    ({"text": "hi", "language": "fr"}, 400, "Hibari (builtin.hibari) has no language parameter (it speaks en)"),
    ({"engine": "test.tone", "text": "hi", "seed": 5}, 400, "Test tone (test.tone) has no seed parameter"),
    ({"text": "hi", "seed": 5, "params": {"seed": 6}}, 400, "seed is 5 but params.seed is 6: give it once."),
    ({"text": "hi", "seed": -2}, 400, "Seed: -2 is outside 0 to 4294967295"),
    ({"engine": "test.prompted", "text": "hi", "inputs": {"reference": {"path": "/etc/passwd"}}}, 400,
     "cannot name files on the server"),
    ({"engine": "test.prompted", "text": "hi", "inputs": {"reference": {"upload": "gone"}}}, 404,
     "the upload 'gone' does not exist"),
])
async def test_bad_requests_get_a_4xx_with_a_reason(client: httpx.AsyncClient, body: dict, status: int,
                                                    reason: str) -> None:
    response = await client.post("/api/generate", json=body)
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert (await client.get("/api/jobs")).json() == []


async def test_a_body_that_is_not_json_or_a_bad_query_is_a_400_sentence(client: httpx.AsyncClient) -> None:
    broken = await client.post("/api/generate", content=b"{text:", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["detail"] == "The body is not valid JSON."
    limit = await client.get("/api/jobs", params={"limit": "lots"})
    assert limit.status_code == 400
    assert limit.json()["detail"] == "limit: Input should be a valid integer, unable to parse string as an integer."


@pytest.fixture
async def anna(client: httpx.AsyncClient) -> dict:
    """A voice profile called Anna with one sample (real speech, with its transcript)."""
    voice = (await client.post("/api/profiles", json={"name": "Anna"})).json()
    added = await client.post(f"/api/profiles/{voice['id']}/samples", data={"transcript": SENTENCE},
                              files={"file": ("anna.wav", wav_bytes(hibari_speech(SENTENCE)), "audio/wav")})
    assert added.status_code == 201, added.text
    return {**voice, "sample": added.json()["id"]}


async def test_seed_language_and_profile_fill_the_engines_own_fields(client: httpx.AsyncClient, anna: dict) -> None:
    made = await client.post("/api/generate", params={"wait": True},
                             json={"text": "Seeds travel on top.", "seed": 5, "language": "en"})
    assert made.status_code == 200, made.text
    assert made.json()["seed"] == 5 and made.json()["params"]["seed"] == 5
    for key in ("anna", anna["id"]):
        cloned = await client.post("/api/generate", params={"wait": True},
                                   json={"engine": "test.prompted", "text": "In Anna's voice.", "profile": key})
        assert cloned.status_code == 200, cloned.text
        item = cloned.json()
        assert item["profile_id"] == anna["id"] and item["inputs"]["reference"]["sample"] == anna["sample"]
    twice = await client.post("/api/generate", json={"engine": "test.prompted", "text": "hi", "profile": "anna",
                                                     "inputs": {"reference": {"profile": "anna"}}})
    assert twice.status_code == 400 and "given twice" in twice.json()["detail"]


async def test_the_history_is_filtered_by_a_profile_name_or_id(client: httpx.AsyncClient, anna: dict) -> None:
    cloned = await client.post("/api/generate", params={"wait": True},
                               json={"engine": "test.prompted", "text": "Anna again.", "profile": "Anna"})
    await client.post("/api/generate", params={"wait": True}, json={"text": "Nobody's voice."})
    for key in ("Anna", "ANNA", anna["id"]):
        listing = (await client.get("/api/history", params={"profile": key})).json()
        assert [i["id"] for i in listing["items"]] == [cloned.json()["id"]], key
    assert (await client.get("/api/history/stats", params={"profile": "anna"})).json()["count"] == 1
    unknown = await client.get("/api/history", params={"profile": "Nobody"})
    assert unknown.status_code == 404 and "There is no voice profile 'Nobody'" in unknown.json()["detail"]
    assert (await client.delete(f"/api/profiles/{anna['id']}")).status_code == 204
    kept = (await client.get("/api/history", params={"profile": anna["id"]})).json()  # its generations stay
    assert [i["id"] for i in kept["items"]] == [cloned.json()["id"]]


async def test_cancel_and_retry(client: httpx.AsyncClient) -> None:
    slow = await client.post("/api/generate", json={"engine": "test.tone", "text": "t",
                                                    "params": {"steps": 400, "step_seconds": 0.01}})
    job_id = slow.json()["id"]
    assert (await client.post(f"/api/jobs/{job_id}/cancel")).status_code == 200
    assert (await finished(client, job_id))["state"] == "cancelled"
    assert (await client.post(f"/api/jobs/{job_id}/cancel")).status_code == 409
    retry = await client.post(f"/api/jobs/{job_id}/retry")
    assert retry.status_code == 202 and retry.json()["retry_of"] == job_id
    assert (await client.get("/api/jobs/nope")).status_code == 404
    assert (await client.get(f"/api/jobs/{job_id}/audio")).status_code == 404


async def test_models_load_pin_unload(client: httpx.AsyncClient) -> None:
    job = (await client.post("/api/models/test.hog/load", json={"options": {"megabytes": 16}})).json()
    assert (await finished(client, job["id"]))["state"] == "succeeded"
    models = (await client.get("/api/models")).json()
    (model,) = models["models"]
    assert model["key"] == "test.hog[megabytes=16]" and model["footprint"] > 14_000_000
    assert (await client.post("/api/models/pin", json={"key": model["key"]})).json()["pinned"] is True
    unloaded = (await client.post("/api/models/unload", json={"key": model["key"]})).json()
    assert unloaded["freed"] > 10_000_000 and "freed" in unloaded["message"]
    assert (await client.post("/api/models/unload", json={"key": model["key"]})).status_code == 404


async def test_unload_all_frees_every_model_and_says_how_much(client: httpx.AsyncClient) -> None:
    for megabytes in (16, 24):
        job = (await client.post("/api/models/test.hog/load", json={"options": {"megabytes": megabytes}})).json()
        assert (await finished(client, job["id"]))["state"] == "succeeded"
    assert len((await client.get("/api/models")).json()["models"]) == 2
    reports = (await client.post("/api/models/unload-all")).json()
    freed = {r["key"]: r["freed"] for r in reports}
    assert set(freed) == {"test.hog[megabytes=16]", "test.hog[megabytes=24]"}
    assert freed["test.hog[megabytes=16]"] > 10_000_000 and freed["test.hog[megabytes=24]"] > 18_000_000
    assert all(r["message"].startswith(f"Unloaded {r['key']}: freed") for r in reports)
    assert (await client.get("/api/models")).json()["models"] == []
    health = (await client.get("/api/health")).json()
    assert health["models_loaded"] == [] and health["memory"]["models"] == 0
    assert (await client.post("/api/models/unload-all")).json() == []


async def test_engines_are_listed_with_params_and_readiness(client: httpx.AsyncClient) -> None:
    engines = {e["id"]: e for e in (await client.get("/api/engines", params={"task": "tts"})).json()}
    hibari = engines["builtin.hibari"]
    assert hibari["readiness"]["state"] == "ready"
    speed = next(p for p in hibari["params"] if p["name"] == "speed")
    assert (speed["min"], speed["max"], speed["default"]) == (0.5, 2.0, 1.0)
    assert engines["test.missing"]["readiness"]["hints"] == ["pip install no-such-package"]
