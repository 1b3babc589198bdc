"""Generation through the queue on the real default engine, and every kind of bad request."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from engines.contract import InvalidRequest
from studio.readiness import EngineNotReady
from studio.jobs import JobState
from studio.services import Services
from tests.conftest import SENTENCE, words


def test_a_generation_job_writes_the_audio_and_records_how_it_was_made(services: Services) -> None:
    job = services.generation.submit("builtin.hibari", {"text": SENTENCE}, {"speed": 1.1})
    assert job.task == "tts" and job.payload["params"]["seed"] >= 0  # the random seed was drawn and kept
    done = services.jobs.wait(job.id, 30)
    assert done.state == JobState.succeeded, done.error
    path = services.generation.audio_path(done)
    assert path is not None and path.parent == services.paths.generations
    info = sf.info(str(path))
    assert info.samplerate == 24_000 and info.channels == 1
    assert done.result["duration"] == pytest.approx(info.duration, abs=0.001)
    assert 0.2 < info.duration / len(words(SENTENCE)) < 0.7
    assert done.result["rtf"] > 0 and done.result["engine_seconds"] > 0


def test_retry_reproduces_the_same_audio(services: Services) -> None:
    first = services.jobs.wait(services.generation.submit("builtin.hibari", {"text": "Same again, please."}).id, 30)
    again = services.jobs.wait(services.jobs.retry(first.id).id, 30)
    a, _ = sf.read(str(services.generation.audio_path(first)))
    b, _ = sf.read(str(services.generation.audio_path(again)))
    assert np.array_equal(a, b)


@pytest.mark.parametrize(("inputs", "params", "message"), [
    ({"text": ""}, {}, "enter some text"),
    ({"text": " \n\t "}, {}, "enter some text"),
    ({"text": "\x00\x1b\x07"}, {}, "enter some text"),
    ({"text": "x" * 100_000}, {}, "100,000 characters is more than this engine takes at once"),
    ({"text": "🙂 🎉!"}, {}, "Nothing in the text can be spoken: Hibari reads English words and numbers, not 🙂, 🎉"),
    ({"text": "こんにちは。"}, {}, "Hibari reads English words and numbers, not こ, ん, に, ち, は"),
    ({"text": "hello"}, {"speed": 7}, "Speed: 7x is outside 0.5x to 2x"),
    ({"text": "hello"}, {"speed": "quick"}, "not a number"),
    ({"text": "hello"}, {"voice": "robot"}, "'robot' is not one of"),
    ({"text": "hello"}, {"pitch": 3}, "has no parameter pitch"),
])
def test_bad_requests_are_refused_before_a_job_exists(services: Services, inputs, params, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRequest, match=message):
        services.generation.submit("builtin.hibari", inputs, params)
    assert services.jobs.list() == []


def test_an_engine_that_is_not_ready_is_refused_with_the_fix(services: Services) -> None:
    with pytest.raises(EngineNotReady, match="pip install no-such-package"):
        services.generation.submit("test.missing", {"text": "hello"})
    with pytest.raises(InvalidRequest, match="no engine 'nope'"):
        services.generation.submit("nope", {"text": "hello"})


def test_control_characters_are_dropped_from_the_text(services: Services) -> None:
    job = services.generation.submit("builtin.hibari", {"text": "Bell\x07 and\x00 null.\r\nNext line."})
    assert job.payload["inputs"]["text"] == "Bell and null.\nNext line."
    assert services.jobs.wait(job.id, 30).state == JobState.succeeded


def test_text_the_check_lets_through_but_the_model_cannot_read_fails_the_job_in_words(services: Services) -> None:
    job = services.jobs.wait(services.generation.submit("builtin.hibari", {"text": "ᴀ ɐ"}).id, 30)  # IPA letters
    assert job.state == JobState.failed
    assert job.error.startswith("Nothing in the text can be spoken")
    follow_up = services.jobs.wait(services.generation.submit("builtin.hibari", {"text": "Still working."}).id, 30)
    assert follow_up.state == JobState.succeeded  # the worker carried on


def test_a_voice_not_on_this_machine_is_refused_offline_with_the_download_command(services: Services) -> None:
    with pytest.raises(EngineNotReady) as refused:
        services.generation.submit("builtin.hibari", {"text": "hello"}, {"voice": "emma"})
    assert "Voice emma (7.9 MB), which is not on this machine, and the studio is offline" in str(refused.value)
    assert "`amphion-studio download builtin.hibari -p voice=emma`" in str(refused.value)
    assert services.jobs.list() == []


def test_a_failure_while_loading_is_reported_in_words(services: Services) -> None:
    job = services.jobs.wait(services.load_model("test.broken").id, 10)
    assert job.state == JobState.failed and job.error == "The checkpoint test.ckpt is damaged: download it again."


def test_out_of_memory_unloads_the_other_models_and_retries_once(services: Services) -> None:
    tight = services.registry.get("test.tight")
    tight.manager = services.models
    assert services.jobs.wait(services.load_model("test.hog", {"megabytes": 8}).id, 10).state == JobState.succeeded
    job = services.jobs.wait(services.jobs.submit("generate", {"engine_id": "test.tight", "inputs": {},
                                                              "params": {}}).id, 10)
    assert job.state == JobState.succeeded, job.error
    assert [m.engine_id for m in services.models.models()] == ["test.tight"]
