"""The History page with NiceGUI's User fixture, on generations the real default engine made."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from studio.history import HistoryItem, HistoryQuery
from studio.services import build_services
from studio.settings import Settings

JOB_WAIT = 150  # retries of 0.1 s
TEXTS = ("The first light of morning.", "A second, slower sentence.", "Third time lucky.")


def make_history(texts: tuple[str, ...] = TEXTS, **params: object) -> list[HistoryItem]:
    """Generations made before the studio under test starts (it then finds them in the same STUDIO_HOME)."""
    services = build_services(Settings.load())
    services.start()
    try:
        return [services.history.wait(services.generation.submit("builtin.hibari", {"text": t}, params).id, 30)
                for t in texts]
    finally:
        services.stop()


def history_now() -> list[HistoryItem]:
    services = build_services(Settings.load())
    return services.history.list(HistoryQuery(limit=100)).items


@pytest.fixture
def kept(studio_home: Path) -> list[HistoryItem]:
    return make_history()


async def test_the_list_streams_players_and_search_and_filters_narrow_it(kept: list[HistoryItem], user: User) -> None:
    await user.open("/history")
    await user.should_see("3 generations")
    for item in kept:
        (player,) = user.find(marker=f"player-{item.id}").elements
        assert player.props["src"] == f"/media/generations/{item.id}.wav" and player.props["preload"] == "none"
    user.find(marker="history-search").type("slow")
    await user.should_see("1 generation")
    await user.should_not_see(marker=f"history-{kept[0].id}")
    await user.should_see(marker=f"history-{kept[1].id}")
    user.find(marker="history-search").clear().type("nothing like this")
    await user.should_see("Nothing matches these filters.")
    user.find(marker="clear-filters").click()
    await user.should_see("3 generations")

    user.find(marker=f"favourite-{kept[2].id}").click()
    user.find(marker="favourites-only").click()
    await user.should_see("1 generation")
    await user.should_see(marker=f"history-{kept[2].id}")
    user.find(marker="favourites-only").click()
    (dates,) = user.find(marker="history-dates").elements
    dates.set_value("2020/01/01 - 2020/01/31")  # as the date picker writes a range
    await user.should_see("Nothing matches these filters.")
    today = dt.date.today()
    dates.set_value(f"{today:%Y/%m/%d}")
    await user.should_see("3 generations")
    dates.set_value("last week")
    await user.should_see("Dates: 'last week' is not a date or a range like 2026/01/05 - 2026/01/09.")
    dates.set_value("")
    user.find(marker="history-sort").click()
    user.find("Oldest first").click()
    await user.should_see("3 generations")
    assert shown_ids(user) == [item.id for item in kept]


def shown_ids(user: User) -> list[str]:
    """The ids of the rows in the list, top to bottom."""
    (listing,) = user.find(marker="history-list").elements
    return [marker.removeprefix("history-") for row in listing.default_slot.children
            for marker in row._markers if marker.startswith("history-")]


async def test_rating_tags_and_notes_are_kept(kept: list[HistoryItem], user: User) -> None:
    target = kept[1]
    await user.open("/history")
    await user.should_see(marker=f"history-{target.id}")
    user.find(marker=f"rating-{target.id}").elements.pop().set_value(4)
    user.find(marker=f"edit-{target.id}").click()
    await user.should_see(marker="edit-dialog")
    user.find(marker="edit-tags").elements.pop().set_value(["keeper", "calm"])
    user.find(marker="edit-notes").type("Use this for the intro.")
    user.find(marker="save-edit").click()
    await user.should_not_see(marker="edit-dialog")
    with user.scope(marker=f"history-{target.id}"):
        await user.should_see("Use this for the intro.")
        await user.should_see("keeper")
    saved = next(i for i in history_now() if i.id == target.id)
    assert (saved.rating, saved.tags, saved.notes) == (4, ["keeper", "calm"], "Use this for the intro.")
    await user.open("/history")  # a fresh page shows what was saved, and the tag is now a filter option
    await user.should_see("Use this for the intro.")
    user.find(marker="history-tag").click()
    user.find("keeper (1)").click()
    await user.should_see("1 generation")


async def test_delete_one_and_many_with_confirmation(kept: list[HistoryItem], user: User, studio_home: Path) -> None:
    await user.open("/history")
    user.find(marker=f"delete-{kept[0].id}").click()
    await user.should_see("Delete this generation and its audio?")
    user.find("Cancel").click()
    await user.should_not_see(marker="confirm-delete")
    await user.should_see("3 generations")
    user.find(marker=f"delete-{kept[0].id}").click()
    await user.should_see(marker="confirm-delete")
    user.find(marker="confirm-delete-button").click()
    await user.should_see("2 generations")
    assert not (studio_home / "generations" / f"{kept[0].id}.wav").exists()

    for item in kept[1:]:
        user.find(marker=f"select-{item.id}").click()
    await user.should_see("2 selected")
    user.find(marker="delete-selected").click()
    await user.should_see("Delete these 2 generations and their audio?")
    user.find(marker="confirm-delete-button").click()
    await user.should_see("No generations yet.")
    assert history_now() == [] and not list((studio_home / "generations").glob("*.wav"))


async def test_rerun_and_variation_appear_as_takes_of_the_original(kept: list[HistoryItem], user: User) -> None:
    original = kept[0]
    await user.open("/history")
    user.find(marker=f"rerun-{original.id}").click()
    await user.should_see(marker="job-progress")  # the queued take's progress, then its state
    await user.should_see("1 more take", retries=JOB_WAIT)
    await user.should_see("succeeded")
    user.find(marker=f"vary-{original.id}").click()
    await user.should_see(marker="variation-dialog")
    with user.scope(marker="param-speed"):
        user.find(ui.number).clear().type("1.5")
    user.find(marker="make-variation").click()
    await user.should_see("2 more takes", retries=JOB_WAIT)
    takes = [i for i in history_now() if i.original_id == original.id]
    assert sorted((t.take, t.params["speed"], t.seed == original.seed) for t in takes) == \
        [(2, 1.0, True), (3, 1.5, False)]
    for take in takes:  # the group is open, so the new takes are right there
        await user.should_see(marker=f"history-{take.id}")
    await user.should_see("take 3")


async def test_statistics_and_downloads(kept: list[HistoryItem], user: User) -> None:
    await user.open("/history")
    user.find(marker="history-stats").elements.pop().open()
    await user.should_see(marker="stats-chart")
    total = sum(i.duration for i in kept)
    await user.should_see(f"3 generations · 0 min {round(total):02d} s of audio · 0 favourites")
    user.find(marker="history-search").type("lucky")
    await user.should_see("1 generation · 0 min")
    user.find(marker=f"download-flac-{kept[2].id}").click()
    response = await user.download.next()
    assert response.status_code == 200 and response.content[:4] == b"fLaC"


async def test_paging(studio_home: Path, user: User) -> None:
    make_history(tuple(f"Number {n}." for n in range(12)), speed=2.0)
    await user.open("/history")
    user.find(marker="page-size").click()
    user.find("10 per page").click()
    await user.should_see("Number 11.")
    await user.should_not_see("Number 1.")
    user.find(marker="history-pages").elements.pop().set_value(2)
    await user.should_see("Number 1.")
    await user.should_not_see("Number 11.")


async def test_a_library_voice_shows_by_name_and_filters(studio_home: Path, tmp_path: Path, user: User) -> None:
    from tests.conftest import SENTENCE
    from tests.library_fixtures import hibari_speech, write

    services = build_services(Settings.load())
    services.start()
    try:
        anna = services.library.create_profile("Anna")
        services.library.add_file(anna.id, write(tmp_path / "anna.wav", hibari_speech(SENTENCE)), transcript=SENTENCE)
        job = services.generation.submit("test.prompted", {"text": "In Anna's voice.", "reference": {"profile": "anna"}})
        with_anna = services.history.wait(job.id, 60)
        services.history.wait(services.generation.submit("builtin.hibari", {"text": "No profile here."}).id, 30)
    finally:
        services.stop()
    assert with_anna.profile_id == anna.id
    await user.open("/history")
    await user.should_see("2 generations")
    with user.scope(marker=f"history-{with_anna.id}"):
        await user.should_see("profile Anna")
    user.find(marker="history-profile").click()
    user.find("Anna (1)").click()
    await user.should_see("1 generation")
    await user.should_see(marker=f"history-{with_anna.id}")
