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
from tests.library_fixtures import hibari_speech, wav_bytes, write

JOB_WAIT = 300


@pytest.fixture
def seed(studio_home: Path, tmp_path: Path) -> Iterator[Services]:
    """A voice in the library, put there before the studio starts."""
    services = build_services(Settings.load())
    voice = services.library.create_profile("Narrator")
    services.library.add_file(voice.id, write(tmp_path / "n.wav", hibari_speech(SENTENCE)), transcript=SENTENCE)
    yield services
    services.stop()


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
    upload = user.find(marker="slot-reference-clip-upload").elements.pop()
    await upload.handle_uploads([ui.upload.SmallFileUpload("me.wav", "audio/wav", wav_bytes(hibari_speech(SENTENCE)))])
    await user.should_see("me.wav · ", retries=20)
    await user.should_see(marker="slot-reference-doctor", retries=20)
    user.find(marker="generate").click()
    await user.should_see("needs the clip's transcript")
    user.find(marker="slot-reference-transcribe").click()
    (box,) = user.find(marker="slot-reference-transcript").elements
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
