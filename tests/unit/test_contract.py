"""The engine contract: params and slots check what users type; progress reports and cancels."""
from __future__ import annotations

import pytest

from engines.contract import AudioInput, Cancelled, Engine, InputSlot, InvalidRequest, Param, Progress
from engines.registry import Registry
from tests.fake_engines import ToneEngine


def test_float_param_enforces_its_range_and_says_so() -> None:
    speed = Param("speed", "float", 1.0, min=0.5, max=2.0, unit="x")
    assert speed.coerce("1.5") == 1.5
    assert speed.coerce(None) == 1.0
    with pytest.raises(InvalidRequest, match=r"Speed: 3x is outside 0.5x to 2x"):
        speed.coerce(3)
    with pytest.raises(InvalidRequest, match="not a number"):
        speed.coerce("fast")
    with pytest.raises(InvalidRequest, match="not a number"):
        speed.coerce(float("nan"))


def test_int_choice_bool_and_seed_params() -> None:
    steps = Param("steps", "int", 25, min=1, max=100)
    assert steps.coerce("30") == 30
    with pytest.raises(InvalidRequest, match="whole number"):
        steps.coerce(2.5)
    voice = Param("voice", "choice", "a", choices=(("a", "A"), ("b", "B")))
    with pytest.raises(InvalidRequest, match="'c' is not one of a, b"):
        voice.coerce("c")
    assert Param("x", "bool", False).coerce("yes") is True
    seed = Param("seed", "seed", -1)
    assert seed.coerce(-1) == -1 and seed.coerce(7) == 7
    with pytest.raises(InvalidRequest, match="random"):
        seed.coerce(-5)


def test_text_slot_rejects_empty_whitespace_and_too_long_text() -> None:
    slot = InputSlot("text", "text", "Text", max_chars=10)
    assert slot.check_text("  hi  ") == "hi"
    for empty in ("", "   \n\t", None):
        with pytest.raises(InvalidRequest, match="enter some text"):
            slot.check_text(empty)
    with pytest.raises(InvalidRequest, match="11 characters is more than this engine takes at once \\(10\\)"):
        slot.check_text("x" * 11)


def test_text_keeps_its_line_breaks_whichever_control_character_makes_them() -> None:
    slot = InputSlot("text", "text", "Text")
    # carriage returns (old Mac and Windows endings), form feed, vertical tab and next line separate words
    for text in ("Hello\rWorld", "Hello\r\nWorld", "Hello\x0cWorld", "Hello\x0bWorld", "Hello\x85World"):
        assert slot.check_text(text) == "Hello\nWorld", repr(text)
    assert slot.check_text("Hel\x00lo\x1b\tWorld\ud800") == "Hello\tWorld"  # other controls go, tabs stay


def test_validate_fills_defaults_and_rejects_unknown_params() -> None:
    engine = ToneEngine()
    request = engine.validate({"text": "hello"}, {"seconds": 2})
    assert request.params == {"seconds": 2.0, "hz": 440.0, "steps": 5, "step_seconds": 0.01}
    with pytest.raises(InvalidRequest, match="has no parameter volume"):
        engine.validate({"text": "hello"}, {"volume": 3})


class Cloner(Engine):
    """A voice needing its transcript always, a style clip needing it unless `sound_alone` is on."""

    name = "Cloner"
    inputs = (InputSlot("reference", "audio", "Reference voice", needs_transcript=True),
              InputSlot("style", "audio", "Style clip", required=False, needs_transcript=True,
                        transcript_optional_with="sound_alone"))
    params = (Param("sound_alone", "bool", False, label="Style from the sound alone"),)


def test_validate_refuses_a_clip_without_the_transcript_its_slot_needs_with_these_params() -> None:
    engine, told = Cloner(), AudioInput("voice.wav", "Hello there.")
    with pytest.raises(InvalidRequest, match=r"^Reference voice: Cloner needs the clip's transcript; enter its "):
        engine.validate({"reference": AudioInput("voice.wav", "  ")}, {})
    with pytest.raises(InvalidRequest, match=r"^Style clip: Cloner needs the clip's transcript unless Style from the "
                                             r"sound alone is on; enter its transcript"):
        engine.validate({"reference": told, "style": {"path": "style.wav", "transcript": None}}, {})
    assert engine.validate({"reference": told, "style": AudioInput("style.wav")}, {"sound_alone": True})
    assert engine.validate({"reference": {"path": "voice.wav", "transcript": "Hello there."}}, {})


def test_seeds_are_drawn_once_and_recorded() -> None:
    engine = Registry().get("builtin.hibari")
    request = engine.with_seeds_drawn(engine.validate({"text": "hi"}, {}))
    assert 0 <= request.params["seed"] < 2**31
    fixed = engine.with_seeds_drawn(engine.validate({"text": "hi"}, {"seed": 12}))
    assert fixed.params["seed"] == 12


def test_load_key_names_the_weights_selected() -> None:
    engine = Registry().get("builtin.hibari")
    assert engine.load_key({"voice": "emma", "speed": 2}) == "builtin.hibari[voice=emma]"


def test_progress_spans_map_onto_the_whole_and_cancellation_raises() -> None:
    reports: list[tuple[float | None, str]] = []
    cancelled = [False]
    progress = Progress(lambda f, s: reports.append((f, s)), lambda: cancelled[0])
    progress(0.5, "half")
    progress.span(0.5, 1.0)(0.5, "three quarters")
    progress.span(0.5, 1.0).span(0.0, 0.5)(1.0, "still three quarters")
    assert reports == [(0.5, "half"), (0.75, "three quarters"), (0.75, "still three quarters")]
    cancelled[0] = True
    with pytest.raises(Cancelled):
        progress(0.9, "never")
    with pytest.raises(Cancelled):
        progress.span(0, 1).check()
