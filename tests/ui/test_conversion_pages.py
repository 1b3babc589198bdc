"""The voice and singing conversion pages with NiceGUI's User fixture, on the real offline converter."""
from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from nicegui import ui
from nicegui.testing import User

from tests.audio_measures import speech, sung_tone, write

RESULT_WAIT = 200  # retries of 0.1 s
CTRL_ENTER = {"action": "keydown", "key": "Enter", "code": "Enter", "ctrlKey": True, "shiftKey": False,
              "altKey": False, "metaKey": False, "repeat": False, "location": 0}


async def give(user: User, slot: str, path: Path) -> None:
    upload = user.find(marker=f"slot-{slot}-upload").elements.pop()
    await upload.handle_uploads([ui.upload.SmallFileUpload(path.name, "audio/wav", path.read_bytes())])


def set_param(user: User, name: str, value: str) -> None:
    with user.scope(marker=f"param-{name}"):
        user.find(ui.number).clear().type(value)


def plotted(values: dict) -> np.ndarray:
    """A typed array of a figure (base64 float32) as numbers."""
    return np.frombuffer(base64.b64decode(values["bdata"]), np.float32)


def result_figure(user: User) -> dict:
    (plot,) = user.find(marker="result-plot").elements
    return plot.figure


async def test_voice_conversion_shows_the_result_beside_its_source(user: User, tmp_path: Path) -> None:
    await user.open("/")
    user.find(marker="nav-Voice conversion").click()
    await user.should_see("WORLD voice converter · ready")
    await give(user, "source", write(tmp_path / "speech.wav", *speech()))
    await user.should_see("speech.wav · 5.4 s")
    await give(user, "reference", write(tmp_path / "deep.wav", sung_tone(3.0, 110.0), 24_000))
    await user.should_see("deep.wav · 3.0 s")
    user.find("Match formants to the target").click()  # off: a tone has no vocal tract to match
    set_param(user, "semitones", "2")
    user.find(marker="convert").click()
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    await user.should_see("WORLD voice converter: speech.wav → deep.wav")
    (summary,) = user.find(marker="conversion-summary").elements
    assert summary.text.startswith("pitch -")  # matched down to 110 Hz, then 2 up: still well below
    assert summary.text.endswith(" st · formants ×1.00 · toward deep.wav")
    with user.scope(marker="source-player"):
        (source,) = user.find(ui.audio).elements
        assert source.props["src"].startswith("/media/uploads/")
    await user.should_see(marker="result-plot", retries=RESULT_WAIT)
    figure = result_figure(user)
    assert [trace["name"] for trace in figure["data"]] == ["source", "converted", "source", "converted"]
    axis = figure["layout"]["yaxis"]
    assert re.fullmatch(r"semitones from the source's median \(\d+ Hz\)", axis["title"]["text"])
    assert all(re.fullmatch(r"0|[+-]\d+", text) for text in axis["ticktext"]) and "0" in axis["ticktext"]
    source, converted = (np.nanmedian(plotted(trace["y"])) for trace in figure["data"][:2])
    shift = float(re.match(r"pitch (-?[\d.]+) st", summary.text.replace("−", "-")).group(1))
    assert source == pytest.approx(0.0, abs=0.5) and converted == pytest.approx(shift, abs=1.0)  # on the axis
    assert "st · %{customdata:.1f} Hz" in figure["data"][1]["hovertemplate"]


async def test_singing_conversion_labels_the_pitch_plot_with_notes(user: User, tmp_path: Path) -> None:
    await user.open("/singing")
    await user.should_see("Singing voice conversion")
    await user.should_see("WORLD singing converter · ready")
    await give(user, "source", write(tmp_path / "a3.wav", sung_tone(2.0, 220.0, vibrato_cents=40), 24_000))
    await user.should_see("a3.wav · 2.0 s")
    set_param(user, "semitones", "-12")
    user.find(marker="convert").click()
    await user.should_see(marker="result-plot", retries=RESULT_WAIT)
    await user.should_see("No target voice clip was given")
    axis = result_figure(user)["layout"]["yaxis"]
    assert axis["title"]["text"] == "pitch (note)"
    assert {"A2", "C3", "A3"} <= set(axis["ticktext"])  # the source's A3, an octave down, and between
    assert all(re.fullmatch(r"[A-G]\d", note) for note in axis["ticktext"])


async def test_a_missing_source_and_a_too_short_target_say_what_to_do(user: User, tmp_path: Path) -> None:
    await user.open("/conversion")
    user.find(marker="convert").click()
    await user.should_see("Source audio: WORLD voice converter needs this audio.")
    await give(user, "reference", write(tmp_path / "blip.wav", sung_tone(0.5, 200.0), 24_000))
    await user.should_see("blip.wav is 0.5 s long; at least 1 s is needed.")
    await user.should_not_see(marker="result-card")


async def test_a_silent_source_fails_with_its_reason_and_can_be_retried(user: User, tmp_path: Path) -> None:
    await user.open("/conversion")
    await give(user, "source", write(tmp_path / "silence.wav", np.zeros(24_000, np.float32), 24_000))
    await user.should_see("silence.wav · 1.0 s")
    user.find(marker="convert").click()
    await user.should_see("The source audio is silent", retries=RESULT_WAIT)
    await user.should_see(marker="retry-job")


async def test_ctrl_enter_converts_and_the_chosen_clips_survive_a_reload(user: User, tmp_path: Path) -> None:
    await user.open("/conversion")
    await give(user, "source", write(tmp_path / "tone.wav", sung_tone(1.5, 200.0), 24_000))
    await user.should_see("tone.wav · 1.5 s")
    await user.open("/conversion")
    await user.should_see("tone.wav · 1.5 s")
    user.find(marker="keyboard-run").trigger("key", CTRL_ENTER)
    await user.should_see(marker="result-card", retries=RESULT_WAIT)


async def test_a_recent_upload_can_be_picked_as_the_target(user: User, tmp_path: Path) -> None:
    await user.open("/conversion")
    await give(user, "source", write(tmp_path / "voice.wav", sung_tone(1.5, 180.0), 24_000))
    await user.should_see("voice.wav · 1.5 s")
    with user.scope(marker="slot-reference"):
        user.find("Recent uploads").click()
    await user.should_see(marker="recent-uploads")
    with user.scope(marker="recent-uploads"):
        user.find(ui.item).click()
    with user.scope(marker="slot-reference-current"):
        await user.should_see("voice.wav · 1.5 s")
