"""The Compare page with the User fixture: clips from the history, a result card and an upload; plots; differences;
a blind round that ends in a stored, tallied vote."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nicegui import app, ui
from nicegui.testing import User, user_simulation

from components.generation_picker import history_picker
from components.audio_input import AudioInputField
from studio.history import HistoryItem
from studio.services import Services, build_services
from studio.settings import Settings
from tests.conftest import SENTENCE
from tests.unit.test_uploads import tone_file

RESULT_WAIT = 150


@pytest.fixture
def two_speeds(studio_home: Path) -> list[HistoryItem]:
    services = build_services(Settings.load())
    services.start()
    try:
        return [services.history.wait(services.generation.submit(
            "builtin.hibari", {"text": "Same words, two speeds."}, {"speed": speed, "seed": 7}).id, 30)
            for speed in (1.0, 1.5)]
    finally:
        services.stop()


async def figure_where(user: User, wanted, retries: int = 50) -> dict:  # type: ignore[no-untyped-def]
    """The comparison plot's figure once `wanted(figure)` holds (plots are redrawn in the background)."""
    for _ in range(retries):
        try:
            (plot,) = user.find(marker="compare-plot").elements
            if wanted(plot.figure):
                return plot.figure
        except AssertionError:  # not drawn yet
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the comparison plot never showed what was expected")


async def test_clips_from_the_history_side_by_side_with_what_differs(two_speeds: list[HistoryItem],
                                                                     user: User) -> None:
    slow, fast = two_speeds
    await user.open("/history")
    for item in two_speeds:
        user.find(marker=f"compare-{item.id}").click()
    await user.should_see("In the comparison: 2 clips; open Compare to listen side by side.")
    user.find(marker="open-compare").click()
    await user.should_see(marker="clip-B")
    for label, item in zip("AB", two_speeds):
        with user.scope(marker=f"clip-{label}"):
            await user.should_see(item.title)
            (player,) = user.find(ui.audio).elements
            assert player.props["src"] == f"/media/generations/{item.id}.wav"
    await figure_where(user, lambda f: len(f["data"]) == 4)  # two overlaid waveform bands
    await user.should_see(marker="difference-speed")
    await user.should_see("1.5x")
    await user.should_not_see(marker="difference-text")  # the same text: not a difference
    await user.should_not_see(marker="difference-seed")
    user.find(marker="only-differences").click()
    await user.should_see(marker="difference-text")

    user.find(marker="plot-view").elements.pop().set_value("f0")  # the User fixture cannot click a toggle's option
    user.find(marker="plot-arrangement").elements.pop().set_value("stacked")
    figure = await figure_where(user, lambda f: [t["yaxis"] for t in f["data"]] == ["y", "y2"])  # F0, one row each
    assert [a["text"][:4] for a in figure["layout"]["annotations"]] == ["A · ", "B · "]  # each row says whose it is
    assert figure["data"][1]["type"] == "scatter" and figure["layout"]["yaxis2"]["title"]["text"] == "F0 Hz"
    assert figure["layout"]["xaxis"]["range"][1] == pytest.approx(slow.duration, abs=0.01)  # the longer one
    user.find(marker="remove-A").click()
    await user.should_see("Add at least two clips")
    assert app.storage.user["compare"] == [f"generation:{fast.id}"]


async def test_a_blind_round_hides_names_shuffles_and_stores_the_vote(two_speeds: list[HistoryItem],
                                                                      user: User) -> None:
    await user.open("/compare")
    user.find(marker="add-from-history").click()
    await user.should_see(marker="generation-picker")
    for item in two_speeds:
        user.find(marker=f"pick-{item.id}").click()
    user.find(marker="picker-add").click()
    await user.should_see(marker="clip-B")
    user.find(marker="blind-mode").click()
    await user.should_see("Which sounds better?")
    await user.should_not_see(two_speeds[0].title)  # names, facts and differences are hidden
    await user.should_not_see(marker="differences-speed")
    with user.scope(marker="clip-A"):
        await user.should_see("Hidden until you vote")
        (player,) = user.find(ui.audio).elements
    voted_for = next(i for i in two_speeds if player.props["src"].endswith(f"{i.id}.wav"))
    user.find(marker="vote-A").click()
    await user.should_see(f"You preferred A: {voted_for.title}.")
    await user.should_see(marker="winner")
    await user.should_see("Blind votes: 1 round")
    (by_engine,) = user.find(marker="tally-engine").elements
    assert by_engine.rows == [{"key": "Hibari", "wins": 1, "appearances": 2, "rate": "50%"}]
    user.find(marker="new-round").click()
    await user.should_see("Which sounds better?")
    user.find(marker="vote-none").click()
    await user.should_see("No vote in this round.")
    await user.should_see("Blind votes: 2 rounds, 1 without a preference")


async def test_a_result_card_and_an_upload_join_the_comparison(user: User, tmp_path: Path) -> None:
    await user.open("/speech")
    user.find(marker="speech-text").type(SENTENCE)
    user.find(marker="generate").click()
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    with user.scope(marker="result-card"):
        user.find("Compare").click()
    await user.should_see("In the comparison: 1 clip; add one more to compare.")
    await user.open("/compare")
    await user.should_see("Add at least two clips")
    upload = user.find(marker="compare-upload-upload").elements.pop()
    tone = tone_file(tmp_path / "reference.wav", seconds=1.5).read_bytes()
    await upload.handle_uploads([ui.upload.SmallFileUpload("reference.wav", "audio/wav", tone)])
    await user.should_see(marker="clip-B")
    with user.scope(marker="clip-B"):
        await user.should_see("reference.wav")
        (player,) = user.find(ui.audio).elements
        assert player.props["src"].startswith("/media/uploads/") and player.props["src"].endswith("/normalised.wav")
    await user.should_see(marker="difference-source")
    await user.should_see("upload: reference.wav")


async def test_a_deleted_generation_leaves_the_comparison(two_speeds: list[HistoryItem], user: User) -> None:
    await user.open("/history")
    for item in two_speeds:
        user.find(marker=f"compare-{item.id}").click()
    user.find(marker=f"delete-{two_speeds[0].id}").click()
    await user.should_see(marker="confirm-delete")
    user.find(marker="confirm-delete-button").click()
    await user.should_see("1 generation")
    await user.open("/compare")
    await user.should_see("1 clip was deleted and left the comparison.")
    await user.should_see(marker="clip-A")
    await user.should_not_see(marker="clip-B")


async def test_the_history_picker_fills_an_audio_input(services: Services) -> None:
    item = services.history.wait(services.generation.submit("builtin.hibari", {"text": "Pick me."}).id, 30)
    chosen: list = []

    def page() -> None:
        AudioInputField(services.uploads, "Reference", on_change=chosen.append,
                        pickers=[history_picker(services.history, services.uploads)])

    async with user_simulation(root=page) as user:
        await user.open("/")
        user.find("From history").click()
        await user.should_see(marker="generation-picker")
        user.find(marker=f"pick-{item.id}").click()
        await user.should_see(f"Hibari: Pick me..wav · {item.duration:.1f} s", retries=30)
    assert chosen[-1].duration == pytest.approx(item.duration, abs=0.01)
    assert chosen[-1].normalised.is_file() and services.history.audio_path(item).is_file()  # a copy, not a move


async def test_a_comparison_is_saved_listed_reopened_and_deleted(two_speeds: list[HistoryItem], user: User) -> None:
    await user.open("/history")
    for item in two_speeds:
        user.find(marker=f"compare-{item.id}").click()
    await user.open("/compare")
    await user.should_see(marker="clip-B")
    await user.should_see("None yet: compare two or more clips, then press Save.")
    user.find(marker="save-comparison").click()
    await user.should_see(marker="save-comparison-dialog")
    user.find(marker="comparison-name").clear().type("Two speeds")
    user.find(marker="confirm-save-comparison").click()
    await user.should_see("Saved “Two speeds” (2 clips).")
    with user.scope(marker="saved-comparisons"):
        await user.should_see("Two speeds")
        await user.should_see("2 clips")
    keys = [f"generation:{item.id}" for item in two_speeds]
    assert app.storage.user["compare"] == keys

    user.find(marker="remove-all").click()
    await user.should_see("Add at least two clips")
    user.find(marker="open-saved").click()
    await user.should_see("Opened “Two speeds”.")
    await user.should_see(marker="clip-B")
    assert app.storage.user["compare"] == keys
    await user.open("/compare")  # saved in the studio, not in this browser: still listed after a reload
    with user.scope(marker="saved-comparisons"):
        await user.should_see("Two speeds")
    user.find(marker="delete-saved").click()
    await user.should_see("Deleted the saved comparison “Two speeds” (its clips stay).")
    await user.should_see("None yet: compare two or more clips, then press Save.")
    await user.should_see(marker="clip-B")


async def test_saving_fewer_than_two_clips_says_what_to_do(user: User) -> None:
    await user.open("/compare")
    user.find(marker="save-comparison").click()
    await user.should_see("Add at least two clips before saving the comparison.")
    await user.should_not_see(marker="save-comparison-dialog")
