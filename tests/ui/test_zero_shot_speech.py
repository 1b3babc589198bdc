"""A zero-shot engine on the speech page: a voice from the library, or a clip with its transcript."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from studio.services import Services, build_services
from studio.settings import Settings
from tests.conftest import SENTENCE
from tests.library_fixtures import SR, hibari_speech, noisy, wav_bytes, write

JOB_WAIT = 300


@pytest.fixture
def seed(studio_home: Path, tmp_path: Path) -> Iterator[Services]:
    """A voice in the library, put there before the studio starts."""
    services = build_services(Settings.load())
    voice = services.library.create_profile("Narrator")
    services.library.add_file(voice.id, write(tmp_path / "n.wav", hibari_speech(SENTENCE)), transcript=SENTENCE)
    yield services
    services.stop()


@pytest.fixture
def short_voice(studio_home: Path, tmp_path: Path) -> Iterator[Services]:
    """A voice whose only sample lasts 2.5 s: enough for the prompted test engine (2 s), short of its best (3-12 s)."""
    services = build_services(Settings.load())
    voice = services.library.create_profile("Quick")
    services.library.add_file(voice.id, write(tmp_path / "q.wav", hibari_speech(SENTENCE)[: int(2.5 * SR)]))
    yield services
    services.stop()


ENGINE_ADVICE = "For Prompted test engine: 2.5 s works, but is outside its sweet spot (best 3-12 s, takes 2-30 s)."


async def upload_clip(user: User, name: str, audio) -> None:  # type: ignore[no-untyped-def]
    upload = user.find(marker="slot-reference-clip-upload").elements.pop()
    await upload.handle_uploads([ui.upload.SmallFileUpload(name, "audio/wav", wav_bytes(audio))])


async def pick_engine(user: User, label: str) -> None:
    user.find(marker="engine-picker").click()
    user.find(label).click()


async def test_a_library_voice_reaches_the_engine(seed: Services, user: User) -> None:
    await user.open("/speech")
    await pick_engine(user, "Prompted test engine · ready")
    await user.should_see("Reference voice")
    await user.should_see("Narrator (1 samples)")
    await user.should_see("Uses “n.wav”", retries=50)
    user.find(marker="speech-text").type("Say it in my voice.")
    user.find(marker="generate").click()
    await user.should_see(marker="result-card", retries=JOB_WAIT)
    job = seed.jobs.list(limit=1)[0]
    assert job.result["references"]["reference"]["profile_name"] == "Narrator"
    assert job.result["extras"]["transcript"] == SENTENCE


async def test_a_clip_needs_its_transcript_and_transcribe_fills_it(seed: Services, user: User) -> None:
    await user.open("/speech")
    await pick_engine(user, "Prompted test engine · ready")
    (mode,) = user.find(marker="slot-reference-mode").elements
    mode.set_value("clip")  # what tapping "Reference clip" does
    user.find(marker="speech-text").type("Now from a clip.")
    user.find(marker="generate").click()
    await user.should_see("Reference voice: upload, record or pick a clip.")
    await upload_clip(user, "me.wav", hibari_speech(SENTENCE))
    await user.should_see("me.wav · ", retries=20)
    await user.should_see("A good reference: clean, clear speech", retries=50)
    user.find(marker="generate").click()
    await user.should_see("needs the clip's transcript")
    user.find(marker="slot-reference-transcribe").click()
    (box,) = user.find(marker="slot-reference-transcript").elements
    assert box.props["label"] == "What the clip says (required)"
    for _ in range(JOB_WAIT):
        if box.value:
            break
        await asyncio.sleep(0.1)
    assert "fox" in box.value.lower()
    user.find(marker="generate").click()
    await user.should_see(marker="result-card", retries=JOB_WAIT)
    job = seed.jobs.list(limit=1, task="tts")[0]
    assert "fox" in job.result["extras"]["transcript"].lower()


async def test_a_clip_needs_no_transcript_while_a_param_says_the_engine_does_without(seed: Services,
                                                                                     user: User) -> None:
    await user.open("/speech")
    await pick_engine(user, "Prompted engine, transcript optional · ready")
    await user.should_see("needs its transcript unless Voice from the sound alone is on")
    (mode,) = user.find(marker="slot-reference-mode").elements
    mode.set_value("clip")
    (box,) = user.find(marker="slot-reference-transcript").elements
    assert box.props["label"] == "What the clip says (required unless Voice from the sound alone is on)"
    user.find(marker="speech-text").type("No transcript needed.")
    upload = user.find(marker="slot-reference-clip-upload").elements.pop()
    await upload.handle_uploads([ui.upload.SmallFileUpload("me.wav", "audio/wav", wav_bytes(hibari_speech(SENTENCE)))])
    await user.should_see("me.wav · ", retries=20)
    user.find(marker="generate").click()
    await user.should_see("needs the clip's transcript")
    with user.scope(marker="param-sound_alone"):
        (switch,) = user.find(ui.switch).elements
    switch.set_value(True)
    user.find(marker="generate").click()
    await user.should_see(marker="result-card", retries=JOB_WAIT)
    job = seed.jobs.list(limit=1, task="tts")[0]
    assert job.payload["params"]["sound_alone"] is True and job.result["extras"]["transcript"] == ""


async def test_a_short_or_noisy_clip_gets_the_doctors_warnings_for_this_engine_before_generating(
        seed: Services, user: User) -> None:
    await user.open("/speech")
    await pick_engine(user, "Prompted test engine · ready")
    (mode,) = user.find(marker="slot-reference-mode").elements
    mode.set_value("clip")
    speech = hibari_speech(SENTENCE)
    await upload_clip(user, "short.wav", speech[: int(2.5 * SR)])
    await user.should_see("short.wav · 2.5 s", retries=20)
    await user.should_see("Usable, but could be better: short (2.5 s)", retries=50)
    await user.should_see(ENGINE_ADVICE)
    await upload_clip(user, "noisy.wav", noisy(speech, level=0.05))
    await user.should_see("Not a good reference yet: noisy: speech is only", retries=50)
    await user.should_not_see(ENGINE_ADVICE)  # its length suits the engine
    assert seed.jobs.list(kinds=("generate",)) == []  # all of it before anything is queued


async def test_a_library_voice_gets_the_fit_advice_a_clip_gets(short_voice: Services, user: User) -> None:
    await user.open("/speech")
    await pick_engine(user, "Prompted test engine · ready")
    await user.should_see("Quick (1 samples)")
    await user.should_see("Uses “q.wav” (2.5 s): Usable, but could be better: short (2.5 s)", retries=50)
    await user.should_see(ENGINE_ADVICE)
