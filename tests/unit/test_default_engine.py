"""The embedded default engine makes real, intelligible speech offline, reproducibly for a given seed."""
from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import pytest

from engines.contract import EngineError, Progress
from engines.registry import Registry
from tests.conftest import SENTENCE, put_in_hub_cache, transcribe, word_error_rate, words


@pytest.fixture(scope="module")
def hibari():  # type: ignore[no-untyped-def]
    engine = Registry().get("builtin.hibari")
    return engine, engine.load("cpu", Progress(), {"voice": "heart"})


def speak(hibari, text: str, **params):  # type: ignore[no-untyped-def]
    engine, model = hibari
    return engine.run(model, engine.validate({"text": text}, params), Progress())


def test_speech_has_a_plausible_duration_for_the_text(hibari) -> None:  # type: ignore[no-untyped-def]
    result = speak(hibari, SENTENCE, seed=1)
    assert result.sample_rate == 24_000 and result.audio.dtype == np.float32 and result.audio.ndim == 1
    per_word = result.duration / len(words(SENTENCE))
    assert 0.2 < per_word < 0.7, f"{per_word:.2f} s per word"
    assert 0.05 < np.abs(result.audio).max() <= 1.0


def test_what_it_says_is_what_was_typed(hibari, whisper, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import soundfile as sf

    result = speak(hibari, SENTENCE, seed=3)
    path = tmp_path / "speech.wav"
    sf.write(str(path), result.audio, result.sample_rate)
    assert word_error_rate(SENTENCE, transcribe(whisper, path)) <= 0.1


def test_the_same_seed_gives_identical_audio_and_another_seed_does_not(hibari) -> None:  # type: ignore[no-untyped-def]
    a = speak(hibari, "Seeds make results repeatable.", seed=42).audio
    b = speak(hibari, "Seeds make results repeatable.", seed=42).audio
    c = speak(hibari, "Seeds make results repeatable.", seed=43).audio
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_speed_changes_the_pace(hibari) -> None:  # type: ignore[no-untyped-def]
    normal = speak(hibari, SENTENCE, seed=1, speed=1.0).duration
    fast = speak(hibari, SENTENCE, seed=1, speed=2.0).duration
    slow = speak(hibari, SENTENCE, seed=1, speed=0.5).duration
    assert 0.4 < fast / normal < 0.65
    assert 1.6 < slow / normal < 2.5


def test_progress_is_reported_per_sentence_and_cancel_stops_it(hibari) -> None:  # type: ignore[no-untyped-def]
    engine, model = hibari
    stages: list[str] = []
    engine.run(model, engine.validate({"text": "One. Two. Three."}, {}), Progress(lambda f, s: stages.append(s)))
    assert "Speaking sentence 3 of 3" in stages
    from engines.contract import Cancelled

    with pytest.raises(Cancelled):
        engine.run(model, engine.validate({"text": "One. Two."}, {}), Progress(is_cancelled=lambda: True))


def test_text_with_nothing_speakable_gets_a_clear_message(hibari) -> None:  # type: ignore[no-untyped-def]
    for text in ("🙂🎉🚀", "日本語のテキスト"):
        with pytest.raises(EngineError, match="Nothing in the text can be spoken"):
            speak(hibari, text)
    mixed = speak(hibari, "Hello 🙂 world", seed=1)
    assert mixed.duration > 0.5


def test_a_voice_that_is_not_downloaded_fails_offline_with_advice(offline_hub: Path) -> None:
    engine = Registry().get("builtin.hibari")
    with pytest.raises(EngineError, match="Voice emma .* is not on this machine.*offline.*'heart' works offline"):
        engine.load("cpu", Progress(), {"voice": "emma"})


def test_a_downloaded_voice_is_found_in_the_standard_hub_cache(offline_hub: Path) -> None:
    bundled = Path(str(importlib.resources.files("hibari") / "assets" / "hibari.onnx"))
    put_in_hub_cache(offline_hub, "maureesewilliams/hibari", "voices/bf_emma.int8.onnx", bundled)
    engine = Registry().get("builtin.hibari")
    model = engine.load("cpu", Progress(), {"voice": "emma"})
    assert model.voice == "emma" and model.model_path.endswith("voices/bf_emma.int8.onnx")
    result = engine.run(model, engine.validate({"text": "Colour and flavour."}, {"voice": "emma", "seed": 1}),
                        Progress())
    assert result.duration > 0.5
