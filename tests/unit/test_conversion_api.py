"""Conversion over HTTP: upload the clips, convert, poll, download; 4xx with reasons for bad requests."""
from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from tests.audio_measures import pitch_shift, speech, sung_tone, write
from tests.unit.test_api import client, finished  # noqa: F401  (the ASGI client fixture)


async def upload(client: httpx.AsyncClient, path: Path) -> str:  # noqa: F811
    response = await client.post("/api/uploads", files={"file": (path.name, path.read_bytes(), "audio/wav")})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_upload_convert_and_download(client: httpx.AsyncClient, tmp_path: Path) -> None:  # noqa: F811
    audio, rate = speech()
    source = await upload(client, write(tmp_path / "speech.wav", audio, rate))
    target = await upload(client, write(tmp_path / "high.wav", sung_tone(3.0, 330.0), rate))
    response = await client.post("/api/convert", json={"source": source, "reference": target,
                                                       "params": {"match_formants": False, "semitones": 0}})
    assert response.status_code == 202, response.text
    job = await finished(client, response.json()["id"], timeout=60)
    assert job["state"] == "succeeded" and job["engine_id"] == "builtin.world_vc"
    assert job["result"]["extras"]["semitones_applied"] > 4  # up toward the 330 Hz target
    download = await client.get(job["audio_url"], params={"format": "flac"})
    converted, converted_rate = sf.read(io.BytesIO(download.content), dtype="float32")
    assert converted_rate == rate and len(converted) == len(audio)
    assert pitch_shift(audio, converted, rate) == pytest.approx(job["result"]["extras"]["semitones_applied"], abs=0.3)


async def test_engines_of_a_task_and_the_default(client: httpx.AsyncClient) -> None:  # noqa: F811
    listing = (await client.get("/api/convert/engines", params={"task": "svc"})).json()
    assert listing["default"] == "builtin.world_svc"
    (engine,) = [e for e in listing["engines"] if e["id"] == "builtin.world_svc"]
    assert engine["sample_rate"] == 0 and engine["readiness"]["state"] == "ready"
    assert {p["name"] for p in engine["params"]} >= {"semitones", "pitch_match", "formant_shift", "vibrato"}


@pytest.mark.parametrize(("body", "status", "reason"), [
    ({"source": "nope"}, 404, "Source audio: the upload 'nope' does not exist"),
    ({"source": "SOURCE", "engine": "nope"}, 404, "No engine 'nope'"),
    ({"source": "SOURCE", "engine": "builtin.hibari"}, 400, "not a voice conversion engine"),
    ({"source": "SOURCE", "params": {"formant_shift": 3}}, 400, "Formant shift: 3x is outside 0.7x to 1.4x"),
    ({"source": "SOURCE", "params": {"pitch": 1}}, 400, "has no parameter pitch"),
    ({"source": "SOURCE", "task": "tts"}, 400, "task: Input should be 'vc', 'svc', 'enhance' or 'codec'."),
    ({}, 400, "source is required."),
])
async def test_bad_requests_get_a_4xx_with_a_reason(client: httpx.AsyncClient, tmp_path: Path,  # noqa: F811
                                                    body: dict, status: int, reason: str) -> None:
    if body.get("source") == "SOURCE":
        body["source"] = await upload(client, write(tmp_path / "a.wav", sung_tone(1.0, 200.0), 24_000))
    response = await client.post("/api/convert", json=body)
    assert response.status_code == status, response.text
    assert reason in str(response.json()["detail"])
    assert (await client.get("/api/jobs")).json() == []


async def test_a_silent_source_fails_with_its_reason(client: httpx.AsyncClient, tmp_path: Path) -> None:  # noqa: F811
    source = await upload(client, write(tmp_path / "silence.wav", np.zeros(24_000, np.float32), 24_000))
    job = await finished(client, (await client.post("/api/convert", json={"source": source})).json()["id"])
    assert job["state"] == "failed" and "is silent" in job["error"]


async def test_a_library_voice_is_a_target(client: httpx.AsyncClient, tmp_path: Path) -> None:  # noqa: F811
    audio, rate = speech()
    source = await upload(client, write(tmp_path / "speech.wav", audio, rate))
    voice = (await client.post("/api/profiles", json={"name": "High"})).json()
    with open(write(tmp_path / "high.wav", sung_tone(3.0, 330.0), rate), "rb") as f:
        await client.post(f"/api/profiles/{voice['id']}/samples", files={"file": ("high.wav", f)},
                          data={"transcribe": "false"})
    response = await client.post("/api/convert", json={"source": source, "reference": {"profile": "high"},
                                                       "params": {"match_formants": False}})
    assert response.status_code == 202, response.text
    job = await finished(client, response.json()["id"], timeout=60)
    assert job["title"] == "WORLD voice converter: speech.wav → High"
    assert job["result"]["extras"]["semitones_applied"] > 4 and job["result"]["references"]["reference"]["profile"] \
        == voice["id"]
    for reference, status, reason in (({"profile": "Nobody"}, 404, "there is no voice profile 'Nobody'"),
                                      ({"path": "/etc/passwd"}, 400, "reference.path is not a field this takes"),
                                      ({}, 400, "Name the library voice")):
        refused = await client.post("/api/convert", json={"source": source, "reference": reference})
        assert refused.status_code == status and reason in str(refused.json()["detail"]), refused.text
