"""Codecs as a conversion task: the offline Opus codec through the job queue, the REST API and the CLI, on speech
made by the default engine. A higher bit rate must sound closer to the source (PESQ), and the result keeps the
source's length and sample rate."""
from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from studio.audio.io import resample
from studio.metrics.spectral import pesq_score
from studio.services import Services
from tests.audio_measures import speech, write
from tests.codec_jobs import encode_decode
from tests.unit.test_api import client, finished  # noqa: F401  (the ASGI client fixture)


def test_opus_is_the_default_codec_and_more_bits_sound_closer_to_the_source(services: Services,
                                                                             tmp_path: Path) -> None:
    assert services.conversion.default_engine("codec").id == "builtin.opus"
    audio, rate = speech()
    path = write(tmp_path / "speech.wav", audio, rate)
    quality = {}
    for kbps in (6, 32):
        job, decoded, decoded_rate = encode_decode(services, path, bitrate_kbps=kbps)
        extras = job.result["extras"]
        assert decoded_rate == rate and len(decoded) == len(audio)  # lines up with the source
        assert extras["bitrate_kbps"] == pytest.approx(kbps, rel=0.25)  # what the file really took
        quality[kbps] = pesq_score(resample(audio, rate, 16_000), resample(decoded, rate, 16_000), "wb")
    assert quality[32] > 4.0 > quality[6] + 0.5  # transparent-ish at 32 kbit/s, clearly degraded at 6


def test_a_bit_rate_out_of_range_is_refused_with_the_range(services: Services, tmp_path: Path) -> None:
    from engines.contract import InvalidRequest

    audio, rate = speech()
    with pytest.raises(InvalidRequest, match="6"):
        services.conversion.submit("codec", {"path": str(write(tmp_path / "s.wav", audio, rate))},
                                   params={"bitrate_kbps": 1})


async def test_codec_over_http(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    audio, rate = speech()
    path = write(tmp_path / "speech.wav", audio, rate)
    listing = (await client.get("/api/convert/engines", params={"task": "codec"})).json()
    assert listing["default"] == "builtin.opus"
    upload = await client.post("/api/uploads", files={"file": (path.name, path.read_bytes(), "audio/wav")})
    response = await client.post("/api/convert", json={"task": "codec", "source": upload.json()["id"],
                                                       "params": {"bitrate_kbps": 8}})
    assert response.status_code == 202, response.text
    job = await finished(client, response.json()["id"], timeout=60)
    assert job["state"] == "succeeded" and job["engine_id"] == "builtin.opus"
    assert job["result"]["extras"]["nominal_kbps"] == 8


def test_codec_from_the_command_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from studio.cli import main

    audio, rate = speech()
    path = write(tmp_path / "speech.wav", audio, rate)
    out = tmp_path / "decoded.flac"
    assert main(["convert", str(path), "-t", "codec", "-p", "bitrate_kbps=12", "-o", str(out)]) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    info = sf.info(str(out))
    assert info.samplerate == rate and info.frames == len(audio)
