"""The Enhancement page with NiceGUI's User fixture, on the offline DeepFilterNet3 denoiser; the Metis engines are
listed with their readiness and target-speaker extraction asks for its enrolment clip."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from nicegui.testing import User

from tests.audio_measures import speech, write
from tests.ui.test_conversion_pages import RESULT_WAIT, give


async def test_the_enhancement_page_cleans_a_noisy_clip(user: User, tmp_path: Path) -> None:
    await user.open("/")
    user.find(marker="nav-Enhancement").click()
    await user.should_see("Clean up speech")
    await user.should_see("DeepFilterNet3 denoiser · ready")  # the default until a neural enhancer is ready
    audio, rate = speech()
    noisy = audio + 0.03 * np.random.default_rng(0).standard_normal(len(audio)).astype(np.float32)
    await give(user, "source", write(tmp_path / "noisy.wav", noisy, rate))
    await user.should_see("noisy.wav · 5.4 s")
    user.find(marker="convert").click()
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    await user.should_see("DeepFilterNet3 denoiser: noisy.wav")


async def test_target_speaker_extraction_asks_for_the_speaker_to_keep(user: User) -> None:
    await user.open("/enhance")
    user.find(marker="engine-picker").click()
    await user.should_see("Metis speech enhancement · missing dependency")  # no Amphion checkout in this test
    user.find("Metis target-speaker extraction · missing dependency").click()
    await user.should_see("No Amphion checkout is configured.")
    await user.should_see("Mixture")
    await user.should_see("Enrolment (the speaker to keep)")
