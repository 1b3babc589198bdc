"""The voice library page and the transcribe page with NiceGUI's User fixture, on real speech and real Whisper."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from nicegui import ui
from nicegui.testing import User

from studio.services import Services, build_services
from studio.settings import Settings
from tests.conftest import SENTENCE
from tests.library_fixtures import SR, hibari_speech, padded, wav_bytes

JOB_WAIT = 300  # retries of 0.1 s


@pytest.fixture(scope="module")
def speech_wav() -> bytes:
    return wav_bytes(padded(hibari_speech(SENTENCE), 1.5, 1.5))


@pytest.fixture
def seed(studio_home: Path) -> Iterator[Services]:
    """The studio's data as another process sees it (same STUDIO_HOME): for putting things there before the page."""
    services = build_services(Settings.load())
    yield services
    services.stop()


async def upload(user: User, marker: str, name: str, data: bytes) -> None:
    element = user.find(marker=f"{marker}-upload").elements.pop()
    await element.handle_uploads([ui.upload.SmallFileUpload(name, "audio/wav", data)])


async def test_create_a_voice_and_names_must_be_unique(user: User) -> None:
    await user.open("/library")
    await user.should_see("No voices yet")
    user.find(marker="new-profile").click()
    await user.should_see(marker="profile-name-input")
    user.find(marker="profile-name-input").type("Anna")
    user.find(marker="profile-description-input").type("Calm and warm")
    user.find(marker="save-profile").click()
    await user.should_see(marker="profile-Anna")
    with user.scope(marker="profile-detail"):
        await user.should_see("Anna")
        await user.should_see("Calm and warm")
    user.find(marker="new-profile").click()
    await user.should_see(marker="profile-name-input")
    user.find(marker="profile-name-input").type("ANNA")
    user.find(marker="save-profile").click()
    await user.should_see("A voice called “Anna” already exists; choose another name.")


async def test_a_sample_is_added_transcribed_doctored_fixed_and_deleted(seed: Services, user: User,
                                                                        speech_wav: bytes) -> None:
    voice = seed.library.create_profile("Narrator")
    await user.open("/library")
    await user.should_see(marker="profile-Narrator")
    await upload(user, "sample-input", "take.wav", speech_wav)
    await user.should_see("Added take.wav", retries=50)
    await user.should_see(marker="sample-player")
    await user.should_see("Could be better")  # 1.5 s of silence at each end
    (sample,) = seed.library.samples(voice.id)
    await user.should_see("Transcript: by builtin.whisper", retries=JOB_WAIT)  # transcribed automatically
    assert "quick brown fox" in seed.library.sample(sample.id).transcript.lower()
    user.find(marker="fix-trim").click()
    await user.should_see("Done: Trim silence: take.wav", retries=JOB_WAIT)
    await user.should_see("v2")
    await user.should_see("Good reference")
    original, trimmed = seed.library.versions(sample.id)
    assert trimmed.parent_id == original.id and trimmed.duration < original.duration - 2
    with user.scope(marker=f"sample-{trimmed.id}"):
        user.find(marker="sample-transcript").clear().type("Edited by hand.")
        user.find(marker="save-transcript").click()
    await user.should_see("Transcript saved")
    assert seed.library.sample(trimmed.id).transcript == "Edited by hand."
    with user.scope(marker=f"sample-{trimmed.id}"):
        user.find(marker="delete-sample").click()
    await user.should_see(marker="confirm")
    user.find(marker="confirm").click()
    await user.should_see("Sample deleted")
    assert [s.id for s in seed.library.samples(voice.id)] == [original.id]
    user.find(marker="delete-profile").click()
    await user.should_see("Delete the voice “Narrator” and its 1 sample? This cannot be undone.")
    await user.should_see(marker="confirm")
    user.find(marker="confirm").click()
    await user.should_see("No voices yet")
    assert seed.library.profiles() == [] and not original.normalised.exists()


async def test_a_short_upload_is_refused_on_the_page(seed: Services, user: User) -> None:
    seed.library.create_profile("Short")
    await user.open("/library")
    await upload(user, "sample-input", "blip.wav", wav_bytes(np.zeros(SR, np.float32)))
    await user.should_see("blip.wav is 1.0 s long; at least 2 s is needed.")


async def test_a_browser_recording_arrives_as_a_sample_and_plain_http_is_explained(seed: Services, user: User,
                                                                                   speech_wav: bytes,
                                                                                   tmp_path: Path) -> None:
    voice = seed.library.create_profile("Recorded")
    (tmp_path / "recording.webm.wav").write_bytes(speech_wav)
    recorded = seed.uploads.store_file(tmp_path / "recording.webm.wav", "recording-2026.wav")  # what the POST stored
    await user.open("/library")
    record = user.find(marker="sample-input-record")
    record.trigger("recorder", {"state": "recording"})
    await user.should_see("Recording… press Stop when you are done.")
    await user.should_see("Stop")
    record.trigger("recorder", {"state": "done", "upload_id": recorded.id})
    await user.should_see("Added recording-2026.wav", retries=50)
    (sample,) = seed.library.samples(voice.id)
    assert sample.source == "recording" and sample.duration == pytest.approx(recorded.duration)
    user.find(marker="sample-input-record").trigger("recorder", {"state": "error", "reason": "insecure"})
    await user.should_see("only allows the microphone on a secure page")


async def test_transcribe_page_shows_the_words_and_downloads_srt(user: User, speech_wav: bytes) -> None:
    await user.open("/transcribe")
    user.find(marker="transcribe").click()
    await user.should_see("Upload, record or pick the audio to transcribe first.")
    await upload(user, "transcribe-audio", "speech.wav", speech_wav)
    await user.should_see("speech.wav · ")
    user.find(marker="transcribe").click()
    await user.should_see(marker="transcript-card", retries=JOB_WAIT)
    (text,) = user.find(marker="transcript-text").elements
    assert "quick brown fox" in text.value.lower()
    await user.should_see("en · ")
    await user.should_see("Words with timestamps")
    user.find(marker="download-srt").click()
    srt = (await user.download.next()).content
    assert srt.startswith(b"1\n00:00:0") and b"-->" in srt and b"fox" in srt.lower()


async def test_transcribe_a_sample_picked_from_the_library(seed: Services, user: User, tmp_path: Path) -> None:
    voice = seed.library.create_profile("Picked")
    (tmp_path / "hum.wav").write_bytes(wav_bytes(np.full(3 * SR, 0.1, np.float32)))
    (tmp_path / "fox.wav").write_bytes(wav_bytes(hibari_speech(SENTENCE)))
    seed.library.add_file(voice.id, tmp_path / "hum.wav", transcript="x", transcribe=False)
    fox = seed.library.add_file(voice.id, tmp_path / "fox.wav", transcript="x", transcribe=False)
    await user.open("/transcribe")
    user.find("From the library").click()
    await user.should_see(marker="library-pick")
    user.find(marker="library-pick").click()
    user.find(f"Picked · fox.wav · {fox.duration:.1f} s").click()
    user.find(marker="library-use").click()
    await user.should_see(marker="transcribe-audio-clear", retries=30)  # the picked clip is in the input
    user.find(marker="transcribe").click()
    await user.should_see(marker="transcript-card", retries=JOB_WAIT)
    (text,) = user.find(marker="transcript-text").elements
    assert "quick brown fox" in text.value.lower()
