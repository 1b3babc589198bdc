"""Enhancement as a conversion task: the offline DeepFilterNet3 engine through the job queue on real speech."""
from __future__ import annotations

import numpy as np
import soundfile as sf

from studio.jobs import JobState
from studio.services import Services
from tests.audio_measures import speech, write
from tests.unit.test_api import client, finished  # noqa: F401  (the ASGI client fixture)


def test_the_offline_denoiser_is_the_default_and_takes_the_noise_out(services: Services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert services.conversion.default_engine("enhance").id == "builtin.deepfilter"
    audio, rate = speech()
    noise = 0.02 * np.random.default_rng(1).standard_normal(len(audio)).astype(np.float32)
    job = services.conversion.submit("enhance", {"path": str(write(tmp_path / "noisy.wav", audio + noise, rate))})
    done = services.jobs.wait(job.id, 120)
    assert done.state == JobState.succeeded, done.error
    cleaned, cleaned_rate = sf.read(str(services.generation.audio_path(done)), dtype="float32")
    assert cleaned_rate == rate and len(cleaned) == len(audio)  # length and rate kept
    quiet = np.abs(audio) < 1e-3  # where the speech itself is (nearly) silent, what is left is noise
    before = np.sqrt(np.mean(noise[quiet] ** 2))
    after = np.sqrt(np.mean(cleaned[quiet] ** 2))
    assert 20 * np.log10(before / after) > 10  # at least 10 dB less noise in the pauses
    speech_part = ~quiet
    assert np.corrcoef(cleaned[speech_part], audio[speech_part])[0, 1] > 0.8  # and the speech is still there


def noisy_clip(tmp_path) -> tuple:  # type: ignore[no-untyped-def]
    audio, rate = speech()
    noise = 0.02 * np.random.default_rng(2).standard_normal(len(audio)).astype(np.float32)
    return write(tmp_path / "noisy.wav", audio + noise, rate), len(audio), rate


async def test_enhancement_over_http(client, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    path, frames, rate = noisy_clip(tmp_path)
    listing = (await client.get("/api/convert/engines", params={"task": "enhance"})).json()
    assert listing["default"] == "builtin.deepfilter"
    assert {"amphion.metis_se", "amphion.metis_tse"} <= {e["id"] for e in listing["engines"]}
    upload = await client.post("/api/uploads", files={"file": (path.name, path.read_bytes(), "audio/wav")})
    response = await client.post("/api/convert", json={"task": "enhance", "source": upload.json()["id"],
                                                       "params": {"attenuation_db": 20}})
    assert response.status_code == 202, response.text
    job = await finished(client, response.json()["id"], timeout=60)
    assert job["state"] == "succeeded" and job["engine_id"] == "builtin.deepfilter"
    assert job["result"]["extras"]["attenuation_db"] == 20


def test_enhancement_from_the_command_line(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from studio.cli import main

    path, frames, rate = noisy_clip(tmp_path)
    out = tmp_path / "clean.wav"
    assert main(["convert", str(path), "-t", "enhance", "-o", str(out)]) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    info = sf.info(str(out))
    assert info.samplerate == rate and info.frames == frames
