"""Transcription of speech made by the default engine, offline, with word timestamps."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engines.contract import EngineError, InvalidRequest
from studio.jobs import JobState
from studio.readiness import EngineNotReady
from studio.services import Services
from tests.conftest import SENTENCE, word_error_rate, words


@pytest.fixture
def speech(services: Services) -> Path:
    job = services.jobs.wait(services.generation.submit("builtin.hibari", {"text": SENTENCE}, {"seed": 2}).id, 30)
    return services.generation.audio_path(job)  # type: ignore[return-value]


def test_transcribes_the_default_voice_with_word_timestamps(services: Services, speech: Path) -> None:
    job = services.jobs.wait(services.transcription.submit(speech).id, 60)
    assert job.state == JobState.succeeded, job.error
    result = job.result
    assert word_error_rate(SENTENCE, result["text"]) <= 0.1
    assert result["language"] == "en"
    timed = result["words"]
    assert len(timed) >= len(words(SENTENCE)) - 2
    starts = [w["start"] for w in timed]
    assert starts == sorted(starts) and timed[-1]["end"] <= sf.info(str(speech)).duration + 0.1
    fox = next(w for w in timed if "fox" in w["word"].lower())
    welcome = next(w for w in timed if "welcome" in w["word"].lower())
    assert fox["end"] < welcome["start"]  # the words are where they were said


def test_detects_the_language_when_not_told(services: Services, speech: Path) -> None:
    transcript = services.transcription.submit(speech, params={"language": "auto"})
    done = services.jobs.wait(transcript.id, 60)
    assert done.result["language"] == "en" and done.result["language_probability"] > 0.5


def test_bad_requests_are_refused(services: Services, speech: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="not one of"):
        services.transcription.submit(speech, params={"model": "enormous"})
    with pytest.raises(InvalidRequest, match="not a transcription engine"):
        services.transcription.transcribe(speech, engine_id="builtin.hibari")
    with pytest.raises(InvalidRequest, match="Whisper tiny.en only knows English; pick a multilingual model"):
        services.transcription.submit(speech, params={"language": "fr"})
    assert services.jobs.list(task="asr") == []


def test_a_model_that_is_not_downloaded_is_refused_offline_with_the_command(services: Services, speech: Path) -> None:
    with pytest.raises(EngineNotReady) as refused:
        services.transcription.submit(speech, params={"model": "base"})
    assert "Whisper base (145.0 MB), which is not on this machine, and the studio is offline" in str(refused.value)
    assert "amphion-studio download builtin.whisper -p model=base" in str(refused.value)
    assert services.jobs.list(task="asr") == []


def test_silence_transcribes_to_nothing(services: Services, tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.wav"
    sf.write(str(quiet), np.zeros(32_000, np.float32), 16_000)
    transcript = services.jobs.wait(services.transcription.submit(quiet, params={"vad_filter": True}).id, 60)
    assert transcript.state == JobState.succeeded and transcript.result["text"] == ""
