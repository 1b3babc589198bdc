"""The REST API: health, generate with 4xx reasons, job control, audio in four formats, model control."""
from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import soundfile as sf
from fastapi import FastAPI

from studio.api import build_routers
from studio.services import Services


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    for router in build_routers(services):
        app.include_router(router)
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
    ({"text": "   "}, 400, "enter some text"),
    ({"text": "x" * 100_000}, 400, "more than this engine takes at once"),
    ({"text": "hi", "params": {"speed": 9}}, 400, "outside 0.5x to 2x"),
    ({"text": "hi", "engine": "test.missing"}, 409, "pip install no-such-package"),
    ({"text": "hi", "engine": "nope"}, 404, "No engine 'nope'"),
    ({"text": 5}, 422, ""),
    ({"engine": "test.prompted", "text": "hi", "inputs": {"reference": {"path": "/etc/passwd"}}}, 400,
     "cannot name files on the server"),
])
async def test_bad_requests_get_a_4xx_with_a_reason(client: httpx.AsyncClient, body: dict, status: int,
                                                    reason: str) -> None:
    response = await client.post("/api/generate", json=body)
    assert response.status_code == status
    assert reason in str(response.json()["detail"])
    assert (await client.get("/api/jobs")).json() == []


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
