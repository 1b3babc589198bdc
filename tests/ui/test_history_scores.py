"""Scores in the history and the A/B view (User fixture): a real Hibari generation evaluated from its history row
shows its scores as chips there and on its card in the comparison; a blind round hides them."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from nicegui.testing import User

from studio.evaluation.table import Evaluation
from studio.history import HistoryItem
from studio.services import build_services
from studio.settings import Settings
from tests.ui.test_history_page import JOB_WAIT, make_history

TEXTS = ("Every morning the studio wakes up early.", "A second voice waits its turn.")


@pytest.fixture
def two(studio_home: Path) -> list[HistoryItem]:
    return make_history(TEXTS)


def chips(user: User, marker: str) -> dict[str, str]:
    """The score chips inside the element marked `marker`, as {metric key: text}."""
    (element,) = user.find(marker=marker).elements
    return {m.removeprefix("score-"): child.text for child in element.descendants() for m in child._markers
            if m.startswith("score-")}


def number(text: str) -> float:
    return float(re.search(r"-?\d+(\.\d+)?", text.split(" ", 1)[1]).group())


def stored_evaluations() -> list[Evaluation]:
    return build_services(Settings.load()).evaluation.list()


async def test_evaluate_from_the_history_shows_chips_there_and_in_the_comparison(two: list[HistoryItem],
                                                                                 user: User) -> None:
    scored, other = two
    await user.open("/history")
    await user.should_see(marker=f"history-{scored.id}")
    await user.should_not_see(marker="score-wer")
    user.find(marker=f"evaluate-{scored.id}").click()
    await user.should_see(f"Evaluating “{scored.title}”")
    with user.scope(marker=f"history-{scored.id}"):
        await user.should_see(marker="score-distillmos", retries=JOB_WAIT)
    shown = chips(user, f"scores-{scored.id}")
    assert set(shown) == {"wer", "cer", "distillmos", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808",
                          "loudness_lufs"}  # what applies to a clip and its text (SNR: no noise floor to measure)
    assert shown["wer"].startswith("WER ") and number(shown["wer"]) <= 0.2  # Hibari says its text; tiny.en hears it
    assert shown["distillmos"].startswith("DistillMOS ") and 3.0 < number(shown["distillmos"]) <= 5.0
    assert shown["loudness_lufs"].startswith("Loudness ") and shown["loudness_lufs"].endswith(" LUFS")
    assert -40 < number(shown["loudness_lufs"]) < -10
    assert chips(user, f"history-{other.id}") == {}  # not evaluated: no chips
    (evaluation,) = stored_evaluations()
    assert evaluation.mode == "jobs" and evaluation.item_count == 1

    for item in two:
        user.find(marker=f"compare-{item.id}").click()
    await user.open("/compare")
    await user.should_see(marker="clip-B")
    assert chips(user, "clip-A") == shown  # the same stored values, on the scored generation's card
    assert chips(user, "clip-B") == {}
    user.find(marker="blind-mode").click()
    await user.should_see("Which sounds better?")
    await user.should_not_see(marker="score-distillmos")  # scores would give the clips away
    user.find(marker="vote-none").click()
    await user.should_see("No vote in this round.")
    await user.should_see(marker="score-distillmos")


async def test_evaluating_a_selection_scores_each_and_an_open_comparison_updates(two: list[HistoryItem],
                                                                                user: User) -> None:
    await user.open("/history")
    for item in two:
        user.find(marker=f"select-{item.id}").click()
        user.find(marker=f"compare-{item.id}").click()
    user.find(marker="evaluate-selected").click()
    await user.should_see("Evaluating 2 generations")
    await user.open("/compare")  # opened while the evaluation runs: the chips appear when it is done
    for label in "AB":
        with user.scope(marker=f"clip-{label}"):
            await user.should_see(marker="score-wer", retries=JOB_WAIT)
    (evaluation,) = stored_evaluations()
    assert evaluation.item_count == 2 and evaluation.summary["distillmos"]["n"] == 2
