"""The library and transcription REST API through HTTP: CRUD, every refusal with its status and reason."""
from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
import soundfile as sf

from studio.services import Services
from studio.uploads import MAX_UPLOAD_BYTES
from tests.conftest import SENTENCE, word_error_rate
from tests.library_fixtures import SR, hibari_speech, padded, wav_bytes
from tests.unit.test_api import client, finished  # noqa: F401  (the API on the test's services)


@pytest.fixture(scope="module")
def wav() -> bytes:
    return wav_bytes(padded(hibari_speech(SENTENCE), 1.5, 1.5))


async def test_profiles_crud_and_name_clashes(client: httpx.AsyncClient) -> None:
    made = await client.post("/api/profiles", json={"name": "Anna", "description": "calm", "language": "en"})
    assert made.status_code == 201
    anna = made.json()
    clash = await client.post("/api/profiles", json={"name": "ANNA"})
    assert clash.status_code == 409 and "already exists" in clash.json()["detail"]
    assert (await client.post("/api/profiles", json={"name": "  "})).status_code == 400
    assert (await client.post("/api/profiles", json={"name": "B", "language": "Klingon!"})).status_code == 400
    renamed = await client.patch(f"/api/profiles/{anna['id']}", json={"name": "Anna K", "language": "ru"})
    assert renamed.json()["name"] == "Anna K" and renamed.json()["description"] == "calm"
    assert [p["name"] for p in (await client.get("/api/profiles")).json()] == ["Anna K"]
    assert (await client.get("/api/profiles/nope")).status_code == 404
    assert (await client.patch("/api/profiles/nope", json={"name": "x"})).status_code == 404
    assert (await client.delete(f"/api/profiles/{anna['id']}")).status_code == 204
    assert (await client.get(f"/api/profiles/{anna['id']}")).status_code == 404


async def test_samples_add_list_doctor_fix_and_delete(client: httpx.AsyncClient, wav: bytes) -> None:
    voice = (await client.post("/api/profiles", json={"name": "V"})).json()
    added = await client.post(f"/api/profiles/{voice['id']}/samples", files={"file": ("take.wav", wav, "audio/wav")},
                              data={"transcript": SENTENCE})
    assert added.status_code == 201, added.text
    sample = added.json()
    assert sample["transcript"] == SENTENCE and sample["url"].endswith("/normalised.wav")
    assert sample["duration"] == pytest.approx(len(wav) / 2 / SR, abs=0.05)
    assert (await client.get("/api/uploads")).json() == []  # the file went into the sample, not the uploads
    report = (await client.get(f"/api/samples/{sample['id']}/doctor")).json()
    assert report["verdict"] == "warn" and report["fixes"] == ["trim"]
    assert any(e["engine_id"] == "test.prompted" and e["describe"] for e in report["engines"])
    job = await client.post(f"/api/samples/{sample['id']}/fix", json={"fix": "trim"})
    assert job.status_code == 202
    done = await finished(client, job.json()["id"])
    version = (await client.get(f"/api/samples/{done['result']['sample_id']}")).json()
    assert version["parent_id"] == sample["id"] and version["doctor"]["verdict"] == "ok"
    audio = await client.get(f"/api/samples/{version['id']}/audio")
    assert audio.status_code == 200 and sf.info(io.BytesIO(audio.content)).duration < sample["duration"] - 2
    listed = (await client.get(f"/api/profiles/{voice['id']}/samples")).json()
    assert [s["id"] for s in listed] == [sample["id"], version["id"]]
    edited = await client.patch(f"/api/samples/{sample['id']}", json={"transcript": "Edited."})
    assert edited.json()["transcript"] == "Edited." and edited.json()["transcript_source"] == "user"
    painted = await client.post(f"/api/samples/{sample['id']}/fix", json={"fix": "paint"})
    assert painted.status_code == 400 and painted.json()["detail"].startswith("fix: Input should be 'trim'")
    assert (await client.delete(f"/api/samples/{sample['id']}")).status_code == 204
    assert (await client.get(f"/api/samples/{sample['id']}")).status_code == 404
    assert (await client.delete(f"/api/samples/{sample['id']}")).status_code == 404


async def test_sample_refusals_say_what_to_fix(client: httpx.AsyncClient, wav: bytes) -> None:
    voice = (await client.post("/api/profiles", json={"name": "R"})).json()
    url = f"/api/profiles/{voice['id']}/samples"
    cases = [
        ({"files": {"file": ("short.wav", wav_bytes(np.zeros(SR, np.float32)))}}, 400, "at least 2 s"),
        ({"files": {"file": ("empty.wav", b"")}}, 400, "empty"),
        ({"files": {"file": ("bad.wav", b"RIFF" + b"\x00" * 400)}}, 400, "bad.wav"),
        ({"files": {"file": ("notes.txt", b"hello")}}, 415, "takes audio"),
        ({"files": {"file": ("big.wav", io.BytesIO(b"\0" * (MAX_UPLOAD_BYTES + 2**20)))}}, 413, "50 MB"),
        ({"data": {"upload_id": "missing"}}, 404, "No upload"),
        ({}, 400, "either a file or the upload_id"),
    ]
    for kwargs, status, reason in cases:
        response = await client.post(url, **kwargs)
        assert response.status_code == status, (kwargs, response.text)
        assert reason in response.json()["detail"]
    assert (await client.get(url)).json() == [] and (await client.get("/api/uploads")).json() == []
    missing = await client.post("/api/profiles/nobody/samples", files={"file": ("a.wav", wav)})
    assert missing.status_code == 404


async def test_a_sample_from_an_earlier_upload_and_from_a_generation(client: httpx.AsyncClient, wav: bytes) -> None:
    voice = (await client.post("/api/profiles", json={"name": "U"})).json()
    upload = (await client.post("/api/uploads", files={"file": ("rec.wav", wav)})).json()
    added = await client.post(f"/api/profiles/{voice['id']}/samples",
                              data={"upload_id": upload["id"], "transcript": "t"})
    assert added.status_code == 201 and added.json()["duration"] == pytest.approx(upload["duration"])
    generated = await client.post("/api/generate", json={"text": SENTENCE, "params": {"seed": 1}})
    job = await finished(client, generated.json()["id"])
    kept = await client.post(f"/api/profiles/{voice['id']}/samples/from-generation", json={"job_id": job["id"]})
    assert kept.status_code == 201 and kept.json()["transcript"] == SENTENCE and kept.json()["source"] == "generation"
    gone = await client.post(f"/api/profiles/{voice['id']}/samples/from-generation", json={"job_id": "nojob"})
    assert gone.status_code == 404


async def test_transcribe_a_file_and_wait_for_the_words(client: httpx.AsyncClient, wav: bytes) -> None:
    answer = await client.post("/api/transcribe", files={"file": ("speech.wav", wav)},
                               data={"wait": "true", "language": "en"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert word_error_rate(SENTENCE, body["text"]) <= 0.1 and body["language"] == "en"
    assert body["words"][0]["start"] >= 1.0  # after the 1.5 s of silence, give or take Whisper's timing
    queued = await client.post("/api/transcribe", data={"upload_id": body["upload_id"]})
    assert queued.status_code == 202
    assert (await finished(client, queued.json()["id"]))["result"]["text"] == body["text"]
    refused = await client.post("/api/transcribe", data={"upload_id": body["upload_id"], "engine": "builtin.hibari"})
    assert refused.status_code == 400 and "not a transcription engine" in refused.json()["detail"]
    jobs = len((await client.get("/api/jobs")).json())
    refused = await client.post("/api/transcribe", data={"upload_id": body["upload_id"], "language": "fr",
                                                          "wait": "true"})
    assert refused.status_code == 400 and "Whisper tiny.en only knows English" in refused.json()["detail"]
    offline = await client.post("/api/transcribe", data={"upload_id": body["upload_id"], "model": "base"})
    assert offline.status_code == 409
    assert "`amphion-studio download builtin.whisper -p model=base`" in offline.json()["detail"]
    assert len((await client.get("/api/jobs")).json()) == jobs  # refused before anything was queued


async def test_a_transcription_that_fails_is_a_500_like_a_failed_generation(client: httpx.AsyncClient,
                                                                            services: Services, wav: bytes) -> None:
    upload = (await client.post("/api/uploads", files={"file": ("speech.wav", wav)})).json()
    services.uploads.get(upload["id"]).normalised.unlink()  # the job cannot read it: a failure, not bad input
    failed = await client.post("/api/transcribe", data={"upload_id": upload["id"], "wait": "true"})
    assert failed.status_code == 500 and "normalised.wav" in failed.json()["detail"]
