"""The official OpenAI Python client against the running studio's /v1/audio/speech, unchanged but for base_url."""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
import soundfile as sf

from studio.api.openai import OPENAI_VOICES
from studio.audio.io import read_audio
from tests.conftest import SENTENCE, transcribe, word_error_rate

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


@pytest.fixture
def client(live_studio: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=live_studio + "/v1", api_key="not-checked", max_retries=2, timeout=60)


def speech(client: openai.OpenAI, text: str, **options: object) -> bytes:
    options = {"model": "tts-1", "voice": "alloy", **options}
    return client.audio.speech.create(input=text, **options).read()  # type: ignore[arg-type]


def decoded(data: bytes, suffix: str, tmp_path: Path) -> tuple[np.ndarray, int]:
    path = tmp_path / f"speech-{uuid.uuid4().hex[:6]}.{suffix}"
    path.write_bytes(data)
    return read_audio(path)


def test_the_official_client_gets_speech_it_can_understand(client: openai.OpenAI, whisper, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    audio, rate = decoded(speech(client, SENTENCE), "mp3", tmp_path)  # mp3 is OpenAI's default format
    assert rate == 24_000 and 2.5 < len(audio) / rate < 8
    path = tmp_path / "heard.wav"
    sf.write(str(path), audio, rate)
    assert word_error_rate(SENTENCE, transcribe(whisper, path)) < 0.25


@pytest.mark.parametrize("fmt", ["mp3", "flac", "wav", pytest.param("opus", marks=needs_ffmpeg),
                                 pytest.param("aac", marks=needs_ffmpeg)])
def test_every_response_format_decodes_to_the_same_speech(client: openai.OpenAI, tmp_path: Path, fmt: str) -> None:
    reference, _ = decoded(speech(client, "Formats for every client.", response_format="wav"), "wav", tmp_path)
    audio, _ = decoded(speech(client, "Formats for every client.", response_format=fmt), fmt, tmp_path)
    assert abs(len(audio) / 24_000 - len(reference) / 24_000) < 0.1  # codec padding aside, the same length


def test_pcm_is_raw_16_bit_at_24_khz(client: openai.OpenAI, live_studio: str, tmp_path: Path) -> None:
    raw = client.audio.speech.with_raw_response.create(model="tts-1", voice="alloy", input="Raw samples, no header.",
                                                       response_format="pcm")
    pcm = np.frombuffer(raw.content, dtype="<i2")
    kept = httpx.get(f"{live_studio}/api/history/{raw.headers['x-studio-generation']}/audio").content
    reference, rate = decoded(kept, "wav", tmp_path)
    assert rate == 24_000 and len(pcm) == len(reference) > 24_000
    assert np.abs(pcm / 32767.0 - reference).max() < 1e-4


def test_engine_ids_voices_speed_and_instructions(client: openai.OpenAI, live_studio: str, tmp_path: Path) -> None:
    text = "Speed is a parameter every client sends."
    normal, _ = decoded(speech(client, text, model="builtin.hibari", voice="heart", response_format="wav"), "wav",
                        tmp_path)
    fast, _ = decoded(speech(client, text, model="gpt-4o-mini-tts", voice={"id": "heart"}, speed=1.5,
                             response_format="wav"), "wav", tmp_path)
    assert len(fast) / len(normal) == pytest.approx(1 / 1.5, rel=0.15)
    raw = client.audio.speech.with_raw_response.create(model="tts-1-hd", voice="coral", input=text,
                                                       instructions="Speak like a pirate.")
    assert raw.headers["x-studio-ignored"] == "instructions"  # accepted; Hibari cannot use it
    assert raw.headers["content-type"] == "audio/mpeg"
    kept = httpx.get(f"{live_studio}/api/history/{raw.headers['x-studio-generation']}").json()
    assert kept["text"] == text and kept["params"]["voice"] == "heart"  # kept in the history like any other


@pytest.mark.parametrize(("options", "error", "status", "message"), [
    ({"voice": "nobody"}, openai.NotFoundError, 404, "No voice 'nobody' for Hibari"),
    ({"model": "tts-9"}, openai.NotFoundError, 404, "No model 'tts-9'"),
    ({"model": "test.missing"}, openai.ConflictError, 409, "pip install no-such-package"),
    ({"speed": 3.0}, openai.BadRequestError, 400, "Speed: 3x is outside 0.5x to 2x"),
    ({"speed": 9.0}, openai.BadRequestError, 400, "speed: Input should be less than or equal to 4"),
    ({"input": ""}, openai.BadRequestError, 400, "Text: enter some text first"),
    ({"input": "x" * 20_001}, openai.APIStatusError, 413, "Hibari takes at most 20,000 at once"),
    ({"stream_format": "sse"}, openai.BadRequestError, 400, 'stream_format "sse" is not supported'),
])
def test_errors_reach_the_client_with_what_to_fix(client: openai.OpenAI, options: dict, error: type,
                                                  status: int, message: str) -> None:
    with pytest.raises(error) as raised:
        speech(client, options.pop("input", "Hello."), **options)
    assert raised.value.status_code == status
    assert message in raised.value.message and raised.value.body["message"] == raised.value.response.json()["detail"]
    assert raised.value.response.headers["x-should-retry"] == "false"


def test_a_failed_generation_is_an_error_the_client_does_not_retry(client: openai.OpenAI, live_studio: str) -> None:
    def failures() -> int:
        return len(httpx.get(f"{live_studio}/api/jobs", params={"state": "failed", "limit": 500}).json())

    before = failures()
    with pytest.raises(openai.InternalServerError, match="Nothing in the text can be spoken"):
        speech(client, "ᴀ ɐ")  # Latin letters, so not refused up front, but the model reads neither
    assert failures() == before + 1  # one job: the client obeyed x-should-retry instead of trying three times
    with pytest.raises(openai.BadRequestError, match="Hibari reads English words and numbers, not 🙂"):
        speech(client, "🙂 🙂 🙂 🙂")  # refused before a job is queued
    assert failures() == before + 1


@pytest.mark.parametrize("voice", sorted(OPENAI_VOICES))
def test_every_openai_voice_gets_speech_or_says_how_to_download_it_offline(client: openai.OpenAI, tmp_path: Path,
                                                                           voice: str) -> None:
    hibari_voice = OPENAI_VOICES[voice]
    if hibari_voice == "heart":  # ships with the studio
        audio, rate = decoded(speech(client, "Built in.", voice=voice, response_format="wav"), "wav", tmp_path)
        assert rate == 24_000 and len(audio) > rate // 2
        return
    with pytest.raises(openai.ConflictError) as refused:
        speech(client, "Hello.", voice=voice)
    assert f"Voice {hibari_voice} (" in refused.value.message and "the studio is offline" in refused.value.message
    assert f"`amphion-studio download builtin.hibari -p voice={hibari_voice}`" in refused.value.message
    assert refused.value.body["param"] == "voice" and refused.value.body["code"] == "not_downloaded"


def test_models_and_voices_are_listed(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert "builtin.hibari" in ids and {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= set(ids)
    voices = client.get("/audio/voices", cast_to=object)
    assert voices["voices"][:5] == ["heart", "emma", "fenrir", "fable", "kore"]  # type: ignore[index]
    assert voices["aliases"]["alloy"] == "heart"  # type: ignore[index]


def test_a_voice_profile_by_name(client: openai.OpenAI, live_studio: str) -> None:
    from tests.library_fixtures import hibari_speech, wav_bytes

    name = f"Narrator {uuid.uuid4().hex[:6]}"
    profile = httpx.post(f"{live_studio}/api/profiles", json={"name": name}).json()
    added = httpx.post(f"{live_studio}/api/profiles/{profile['id']}/samples", timeout=60,
                       files={"file": ("take.wav", wav_bytes(hibari_speech(SENTENCE)), "audio/wav")},
                       data={"transcript": SENTENCE})
    assert added.status_code == 201, added.text
    raw = client.audio.speech.with_raw_response.create(model="test.prompted", voice=name.upper(),
                                                       input="Spoken with a library voice.", response_format="wav")
    kept = httpx.get(f"{live_studio}/api/history/{raw.headers['x-studio-generation']}").json()
    assert kept["profile_id"] == profile["id"] and kept["inputs"]["reference"]["sample"] == added.json()["id"]
    assert kept["inputs"]["reference"]["transcript"] == SENTENCE  # the engine heard the sample's transcript
    with pytest.raises(openai.BadRequestError, match=f"Hibari cannot speak with a voice profile such as “{name}”"):
        speech(client, "Hello.", voice=name)
