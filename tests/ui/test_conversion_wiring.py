"""The conversion pages wired to the library and the history (User fixture, real WORLD converter): a library voice or
sample as the target, a generation or a library sample as the source, and the result sent to the comparison or
kept as a voice sample."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from nicegui import app
from nicegui.testing import User

from studio.history import HistoryQuery
from studio.services import Services, build_services
from studio.settings import Settings
from tests.audio_measures import median_semitones, speech, sung_tone, write
from tests.ui.test_conversion_pages import give

RESULT_WAIT = 200
LOW_HZ = 110.0


@pytest.fixture
def seed(studio_home: Path, tmp_path: Path) -> Iterator[Services]:
    """A voice "Deep" (a 110 Hz sung tone) in the library, before the page opens."""
    services = build_services(Settings.load())
    services.start()
    deep = services.library.create_profile("Deep")
    services.library.add_file(deep.id, write(tmp_path / "deep.wav", sung_tone(3.0, LOW_HZ), 24_000),
                              transcript="ah", transcribe=False)
    yield services
    services.stop()


async def pick(user: User, slot: str, button: str, choice_marker: str, value: str) -> None:
    with user.scope(marker=f"slot-{slot}"):
        user.find(button).click()
    await user.should_see(marker=choice_marker)
    user.find(marker=choice_marker).elements.pop().set_value(value)
    user.find(marker="library-use").click()


async def test_a_library_voice_is_the_target_and_the_result_goes_to_compare_and_the_library(
        seed: Services, user: User, tmp_path: Path) -> None:
    deep = seed.library.profile_by_name("Deep")
    await user.open("/conversion")
    await give(user, "source", write(tmp_path / "speech.wav", *speech()))
    await user.should_see("speech.wav · 5.4 s")
    await pick(user, "reference", "Library voice", "voice-pick", deep.id)
    with user.scope(marker="slot-reference-current"):
        await user.should_see("Deep (voice: uses deep.wav) · 3.0 s", retries=20)
    user.find(marker="convert").click()
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    await user.should_see("WORLD voice converter: speech.wav → Deep")
    (summary,) = user.find(marker="conversion-summary").elements
    assert summary.text.endswith("toward Deep")
    (item,) = seed.history.list(HistoryQuery()).items
    assert item.profile_id == deep.id and item.inputs["reference"]["profile"] == deep.id
    audio, rate = sf.read(str(seed.history.audio_path(item)))
    source_audio, source_rate = speech()
    assert median_semitones(audio, rate) < median_semitones(source_audio, source_rate) - 3  # toward 110 Hz

    user.find(marker="compare-with-source").click()
    await user.should_see("In the comparison: 2 clips")
    source_upload = item.inputs["source"]["upload"]
    assert app.storage.user["compare"] == [f"upload:{source_upload}", f"generation:{item.id}"]

    with user.scope(marker="result-card"):
        user.find("Keep as sample").click()
    await user.should_see(marker="keep-dialog")
    user.find(marker="keep-save").click()  # Deep, the only voice
    await user.should_see("Kept as a sample of Deep; transcribing it.", retries=50)
    kept = [s for s in seed.library.samples(deep.id) if s.source == "generation"]
    assert len(kept) == 1 and kept[0].source_ref == item.id

    await user.open("/conversion")  # the chosen voice survives a reload, now with its longer, kept sample
    with user.scope(marker="slot-reference-current"):
        await user.should_see(f"Deep (voice: uses {kept[0].name}) · {kept[0].duration:.1f} s", retries=20)


async def test_a_generation_or_a_library_sample_is_the_source_and_a_sample_the_target(
        seed: Services, user: User) -> None:
    spoken = seed.history.wait(seed.generation.submit("builtin.hibari", {"text": "Convert me, please."}).id, 30)
    (tone,) = seed.library.samples(seed.library.profile_by_name("Deep").id)
    await user.open("/conversion")
    with user.scope(marker="slot-source"):
        user.find("From history").click()
    await user.should_see(marker="generation-picker")
    user.find(marker=f"pick-{spoken.id}").click()
    with user.scope(marker="slot-source-current"):
        await user.should_see(f"{spoken.title[:60]}.wav · {spoken.duration:.1f} s", retries=20)
    await pick(user, "reference", "From the library", "library-pick", tone.id)
    with user.scope(marker="slot-reference-current"):
        await user.should_see("Deep · deep.wav · 3.0 s")
    user.find(marker="convert").click()
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    converted = next(i for i in seed.history.list(HistoryQuery()).items if i.task == "vc")
    assert converted.inputs["reference"]["sample"] == tone.id and converted.profile_id == tone.profile_id
    assert "upload" in converted.inputs["source"]  # a copy: the source does not decide whose voice it is

    await pick(user, "source", "From the library", "library-pick", tone.id)
    with user.scope(marker="slot-source-current"):
        await user.should_see("deep.wav · 3.0 s")
    assert "upload" in app.storage.user["conversion-vc"]["inputs"]["source"]
