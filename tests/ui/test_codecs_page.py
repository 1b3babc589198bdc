"""The Codecs page with NiceGUI's User fixture, on the offline Opus codec: a clip encoded at the bit rate asked
for and decoded back, shown beside its source with the bit rate it really took."""
from __future__ import annotations

from pathlib import Path

from nicegui.testing import User

from tests.audio_measures import speech, write
from tests.ui.test_conversion_pages import RESULT_WAIT, give, set_param


async def test_the_codecs_page_encodes_and_decodes_a_clip(user: User, tmp_path: Path) -> None:
    await user.open("/")
    user.find(marker="nav-Codecs").click()
    await user.should_see("hear what a codec keeps")
    await user.should_see("Opus (ffmpeg) · ready")  # the default until a neural codec is ready
    audio, rate = speech()
    await give(user, "source", write(tmp_path / "speech.wav", audio, rate))
    await user.should_see("speech.wav · 5.4 s")
    set_param(user, "bitrate_kbps", "8")
    user.find(marker="convert").click()
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    await user.should_see("Opus (ffmpeg): speech.wav")
    (summary,) = user.find(marker="conversion-summary").elements
    kbps = float(summary.text.split(" kbit/s")[0])
    assert 6 < kbps < 10  # about the 8 kbit/s asked for, measured from the encoded file
    with user.scope(marker="source-player"):
        await user.should_see("Source")
