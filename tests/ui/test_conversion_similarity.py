"""The conversion result card with the User fixture: real Hibari speech converted toward another voice (eSpeak NG)
by the offline WORLD converter shows the result's speaker similarity to the target and to the source, as
resemblyzer measures it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from nicegui.testing import User

from studio.history import HistoryQuery
from studio.services import build_services
from studio.settings import Settings
from tests.evaluation_fixtures import SENTENCE_B, espeak, hibari, write
from tests.ui.test_conversion_pages import RESULT_WAIT, give
from tests.unit.test_conversion_similarity import resemblyzer_cosine


async def test_the_result_card_shows_similarity_to_the_target_and_the_source(user: User, tmp_path: Path,
                                                                             studio_home: Path) -> None:
    await user.open("/conversion")
    await give(user, "source", write(tmp_path / "hibari.wav", *hibari(SENTENCE_B)))
    await give(user, "reference", write(tmp_path / "espeak.wav", *espeak(SENTENCE_B)))
    await user.should_see("espeak.wav")
    user.find(marker="convert").click()
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    shown = {}
    for label in ("target", "source"):
        await user.should_see(marker=f"similarity-{label}", retries=RESULT_WAIT)
        (badge,) = user.find(marker=f"similarity-{label}").elements
        shown[label] = float(re.fullmatch(rf"similarity to {label} (-?\d\.\d\d)", badge.text).group(1))

    (item,) = build_services(Settings.load()).history.list(HistoryQuery()).items
    converted = studio_home / item.audio
    for label, slot in (("target", "reference"), ("source", "source")):
        expected = resemblyzer_cosine(converted, studio_home / item.inputs[slot]["path"])
        assert shown[label] == pytest.approx(expected, abs=0.006)  # shown with two decimals
    assert shown["target"] != shown["source"]
