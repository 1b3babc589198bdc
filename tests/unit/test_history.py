"""The generation history on real Hibari jobs: what is kept, search and filters, takes, deletes, start-up repair."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import delete

from studio.history import HistoryError, HistoryItem, HistoryQuery
from studio.history.query import GENERATIONS, G
from studio.history.service import TRASH
from studio.jobs import JobState
from studio.services import Services, build_services
from studio.settings import Settings
from tests.conftest import SENTENCE
from tests.unit.test_uploads import tone_file


def made(services: Services, text: str, engine: str = "builtin.hibari", **params: object) -> HistoryItem:
    return services.history.wait(services.generation.submit(engine, {"text": text}, params).id, 30)


def tone(services: Services, text: str, seconds: float = 0.5) -> HistoryItem:
    return made(services, text, "test.tone", seconds=seconds, steps=1, step_seconds=0)


def echo(services: Services, source: Path, profile: str) -> HistoryItem:
    """A generation whose audio slot names a real voice profile (made on first use, with `source` as its sample)."""
    voice = services.library.profile_by_name(profile)
    if voice is None:
        voice = services.library.create_profile(profile)
        services.library.add_file(voice.id, source, transcript="a tone")
    job = services.generation.submit("test.echo", {"source": {"profile": voice.id}}, {})
    return services.history.wait(job.id, 30)


def profile_id(services: Services, name: str) -> str:
    return services.library.profile_by_name(name).id  # type: ignore[union-attr]


def listed(services: Services, **query: object) -> list[str]:
    return [item.id for item in services.history.list(HistoryQuery(**query)).items]  # type: ignore[arg-type]


def test_a_finished_generation_is_kept_with_how_it_was_made(services: Services) -> None:
    job = services.generation.submit("builtin.hibari", {"text": SENTENCE}, {"speed": 1.2, "seed": 5})
    item = services.history.wait(job.id, 30)
    path = services.history.audio_path(item)
    info = sf.info(str(path))
    assert (item.id, item.task, item.engine_id, item.text, item.seed) == (job.id, "tts", "builtin.hibari", SENTENCE, 5)
    assert item.params == {"voice": "heart", "speed": 1.2, "seed": 5} and item.inputs == {"text": SENTENCE}
    assert item.duration == pytest.approx(info.duration, abs=1e-3) and item.sample_rate == info.samplerate == 24_000
    assert 0 < item.rtf < 1 and item.engine_seconds > 0 and item.profile_id is None
    assert item.created_at == pytest.approx(services.jobs.get(job.id).finished_at)
    assert (item.original_id, item.take, item.group_size) == (None, 1, 1)


def test_failed_jobs_and_model_loads_leave_no_history(services: Services) -> None:
    failed = services.generation.submit("test.tone", {"text": "fail"})
    with pytest.raises(HistoryError, match="the tone generator was asked to fail") as refused:
        services.history.wait(failed.id, 30)
    assert refused.value.status == 409
    assert services.jobs.wait(services.load_model("test.hog", {"megabytes": 1}).id, 30).state == JobState.succeeded
    assert services.history.list().total == 0


def test_the_profile_of_a_reference_is_kept_and_filters(services: Services, tmp_path: Path) -> None:
    anna = echo(services, tone_file(tmp_path / "anna.wav", seconds=2.0), "Anna")
    assert anna.profile_id == profile_id(services, "Anna") and anna.duration == pytest.approx(2.0)
    echo(services, tone_file(tmp_path / "bob.wav", seconds=2.5), "Bob")
    tone(services, "no profile here")
    assert listed(services, profile_id=anna.profile_id) == [anna.id]
    assert sorted(services.history.facets()["profile"]) == sorted(
        [(profile_id(services, "Anna"), 1), (profile_id(services, "Bob"), 1)])


def test_search_filters_sort_and_paging(services: Services) -> None:
    fox = made(services, "The quick brown fox jumps.")
    dog = made(services, "A lazy dog sleeps all day long, under the old tree by the river.")
    cafe = made(services, "Meet me at the café.")
    beep = tone(services, "beep one", seconds=0.3)
    assert listed(services, search="bro") == [fox.id]  # words match as prefixes
    assert listed(services, search="CAFE") == [cafe.id]  # case and accents do not matter
    assert listed(services, search="quick dog") == []  # every word must appear
    assert listed(services, search="fox") == listed(services, search="  fox!! ") == [fox.id]
    assert listed(services) == [beep.id, cafe.id, dog.id, fox.id]  # newest first
    assert listed(services, sort="oldest") == [fox.id, dog.id, cafe.id, beep.id]
    assert listed(services, sort="longest")[0] == dog.id and listed(services, sort="shortest")[0] == beep.id
    assert listed(services, engine_id="test.tone") == [beep.id]
    assert listed(services, task="tts", engine_id="builtin.hibari", sort="oldest") == [fox.id, dog.id, cafe.id]
    today = dt.date.today()
    assert len(listed(services, date_from=today, date_to=today)) == 4
    assert listed(services, date_to=today - dt.timedelta(days=1)) == []
    page = services.history.list(HistoryQuery(limit=2, offset=2, sort="oldest"))
    assert [i.id for i in page.items] == [cafe.id, beep.id] and page.total == 4

    services.history.update(dog.id, favourite=True, rating=4, tags=["Calm", "calm ", "river  side"], notes="keeper")
    services.history.update(fox.id, rating=2)
    assert listed(services, favourite=True) == [dog.id]
    assert listed(services, tag="CALM") == listed(services, search="keeper") == listed(services, search="side") == [dog.id]
    assert listed(services, min_rating=3) == [dog.id] and listed(services, sort="rating")[:2] == [dog.id, fox.id]
    assert services.history.get(dog.id).tags == ["Calm", "river side"]
    assert services.history.facets()["tag"] == [("Calm", 1), ("river side", 1)]


@pytest.mark.parametrize(("query", "message"), [
    (HistoryQuery(sort="loudest"), "Unknown sort 'loudest'"),
    (HistoryQuery(limit=0), "limit must be between 1 and 500"),
    (HistoryQuery(offset=-1), "offset cannot be negative"),
    (HistoryQuery(date_from=dt.date(2026, 2, 1), date_to=dt.date(2026, 1, 1)), "ends (2026-01-01) before it starts"),
])
def test_bad_queries_say_what_to_fix(services: Services, query: HistoryQuery, message: str) -> None:
    with pytest.raises(HistoryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        services.history.list(query)


@pytest.mark.parametrize(("change", "message"), [
    ({"rating": 6}, "from 0 \\(none\\) to 5"),
    ({"rating": True}, "not a whole number"),
    ({"tags": "one string"}, "give a list of tags"),
    ({"tags": ["x" * 41]}, "longer than 40 characters"),
    ({"tags": [f"t{i}" for i in range(21)]}, "21 tags is more than the 20"),
    ({"notes": "n" * 10_001}, "10,001 characters is more than"),
])
def test_bad_changes_are_refused_and_nothing_changes(services: Services, change: dict, message: str) -> None:
    item = tone(services, "keep me as I am")
    with pytest.raises(HistoryError, match=message):
        services.history.update(item.id, **change)
    assert services.history.get(item.id) == item
    with pytest.raises(HistoryError, match="No generation nope") as missing:
        services.history.update("nope", rating=1)
    assert missing.value.status == 404


def test_rerun_and_variations_become_takes_of_the_original(services: Services) -> None:
    original = made(services, "Take it from the top.", seed=11)
    rerun = services.history.wait(services.history.rerun(original.id).id, 30)
    assert (rerun.original_id, rerun.take, rerun.seed, rerun.params) == (original.id, 2, 11, original.params)
    first, _ = sf.read(str(services.history.audio_path(original)))
    again, _ = sf.read(str(services.history.audio_path(rerun)))
    assert np.array_equal(first, again)  # same parameters and seed: the same audio

    faster = services.history.wait(services.history.vary(original.id, {"speed": 1.6}).id, 30)
    assert (faster.original_id, faster.take, faster.params["speed"]) == (original.id, 3, 1.6)
    assert faster.seed != 11 and faster.duration < original.duration / 1.3
    of_a_take = services.history.wait(services.history.vary(rerun.id, new_seed=False).id, 30)
    assert (of_a_take.original_id, of_a_take.take, of_a_take.seed) == (original.id, 4, 11)
    retried = services.history.wait(services.jobs.retry(original.id).id, 30)  # "Re-run" on the Jobs page
    assert (retried.original_id, retried.take) == (original.id, 5)

    other = tone(services, "a different one")
    grouped = services.history.list(HistoryQuery(grouped=True))
    assert [(i.id, i.group_size) for i in grouped.items] == [(other.id, 1), (original.id, 5)] and grouped.total == 2
    services.history.wait(services.history.rerun(original.id).id, 30)  # a new take brings its group to the top
    assert [(i.id, i.group_size) for i in services.history.list(HistoryQuery(grouped=True)).items] == \
        [(original.id, 6), (other.id, 1)]
    assert [t.take for t in services.history.takes(faster.id)] == [1, 2, 3, 4, 5, 6]
    services.history.update(faster.id, favourite=True)
    assert listed(services, grouped=True, favourite=True) == [original.id]  # a group shows when any take matches

    with pytest.raises(Exception, match="Speed: 9x is outside"):
        services.history.vary(original.id, {"speed": 9})
    assert services.history.list().total == 7


def test_deleting_an_original_keeps_its_takes_under_the_next_one(services: Services) -> None:
    original = made(services, "First and only original.")
    second = services.history.wait(services.history.rerun(original.id).id, 30)
    third = services.history.wait(services.history.rerun(original.id).id, 30)
    assert services.history.delete([original.id]) == [original.id]
    assert services.history.get(second.id).original_id is None
    assert services.history.get(third.id).original_id == second.id
    assert [(i.id, i.group_size) for i in services.history.list(HistoryQuery(grouped=True)).items] == [(second.id, 2)]


def test_delete_removes_rows_with_their_audio_and_exports(services: Services) -> None:
    a, b, c = (tone(services, f"clip {n}") for n in "abc")
    mp3, _ = services.history.export(a.id, "mp3")
    assert mp3.exists()
    assert services.history.delete([a.id, b.id, "nope", a.id]) == [a.id, b.id]
    for gone in (a, b):
        assert services.history.get(gone.id) is None and not services.history.audio_path(gone).exists()
    assert not mp3.exists() and listed(services, search="clip") == [c.id]
    assert services.history.audio_path(c).exists()
    assert not list((services.paths.generations / TRASH).iterdir())


def test_a_delete_that_fails_halfway_leaves_every_row_and_file(services: Services,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tone(services, "first"), tone(services, "second")
    real_replace, calls = os.replace, []

    def failing_replace(src, dst):  # type: ignore[no-untyped-def]
        calls.append(src)
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied", str(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        services.history.delete([a.id, b.id])
    monkeypatch.setattr(os, "replace", real_replace)
    for item in (a, b):
        assert services.history.get(item.id) == item and services.history.audio_path(item).is_file()

    def failing_regroup(connection, deleted):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services.history, "_regroup", failing_regroup)
    with pytest.raises(RuntimeError):
        services.history.delete([a.id])
    assert services.history.get(a.id) == a and services.history.audio_path(a).is_file()


def test_start_up_makes_rows_and_files_agree_again(services: Services, studio_home: Path) -> None:
    kept, hand_deleted, unrecorded, half_deleted = (tone(services, f"clip {n}") for n in range(4))
    services.history.audio_path(hand_deleted).unlink()  # the user removed a file by hand
    with services.db.begin() as connection:  # the studio stopped between writing the audio and the row
        connection.execute(delete(GENERATIONS).where(G.id == unrecorded.id))
    trash = services.paths.generations / TRASH  # a delete interrupted before its transaction committed
    trash.mkdir(exist_ok=True)
    os.replace(services.history.audio_path(half_deleted), trash / f"{half_deleted.id}.wav")
    (trash / "leftover0000.wav").write_bytes(b"from a delete that committed")
    services.stop()

    again = build_services(Settings.load())
    again.start()
    try:
        ids = {i.id for i in again.history.list().items}
        assert ids == {kept.id, unrecorded.id, half_deleted.id}
        assert again.history.get(unrecorded.id).text == "clip 2"
        assert again.history.audio_path(again.history.get(half_deleted.id)).is_file()
        assert not list(trash.iterdir())
    finally:
        again.stop()


def test_statistics_count_and_sum_by_engine_profile_and_day(services: Services, tmp_path: Path) -> None:
    hibari = [made(services, "One."), made(services, "Two words.")]
    tones = [tone(services, "t", seconds=1.0), tone(services, "u", seconds=2.0)]
    echo(services, tone_file(tmp_path / "anna.wav", seconds=2.5), "Anna")
    stats = services.history.stats()
    assert stats.count == 5 and stats.duration == pytest.approx(sum(i.duration for i in hibari) + 5.5)
    engines = {b.key: (b.count, round(b.duration, 3)) for b in stats.by_engine}
    assert engines == {"builtin.hibari": (2, round(sum(i.duration for i in hibari), 3)), "test.tone": (2, 3.0),
                       "test.echo": (1, 2.5)}
    assert {b.key: b.count for b in stats.by_profile} == {None: 4, profile_id(services, "Anna"): 1}
    assert [(b.key, b.count) for b in stats.by_day] == [(dt.date.today().isoformat(), 5)]
    services.history.update(tones[0].id, favourite=True)
    only_tones = services.history.stats(HistoryQuery(engine_id="test.tone"))
    assert (only_tones.count, only_tones.duration, only_tones.favourites) == (2, 3.0, 1)


def test_search_means_the_same_without_fts5(services: Services) -> None:
    fox, cafe = made(services, "The quick brown fox."), made(services, "Meet me at the café.")
    services.history.update(fox.id, notes="favourite take")
    with_index = [listed(services, search=s) for s in ("brown", "QUICK fox", "favourite", "zebra")]
    services.history.text_index = False  # as on a SQLite built without FTS5
    assert [listed(services, search=s) for s in ("brown", "QUICK fox", "favourite", "zebra")] == with_index == \
        [[fox.id], [fox.id], [fox.id], []]
    assert listed(services, search="café") == [cafe.id]


def test_votes_are_tallied_per_engine_and_per_profile(services: Services, tmp_path: Path) -> None:
    from studio.history.compare import differences

    anna = echo(services, tone_file(tmp_path / "anna.wav", seconds=2.0), "Anna")
    bob = echo(services, tone_file(tmp_path / "bob.wav", seconds=2.2), "Bob")
    hibari = made(services, "No profile at all.")
    upload = services.uploads.store_file(tone_file(tmp_path / "mine.wav", seconds=2.0))
    keys = [f"generation:{anna.id}", f"generation:{bob.id}", f"generation:{hibari.id}", f"upload:{upload.id}"]
    comparisons = services.comparisons
    comparisons.vote(keys[:2], keys[0])
    comparisons.vote(keys[:2], keys[0])
    comparisons.vote([keys[1], keys[2], keys[3]], keys[3])
    comparisons.vote(keys[:2], None)
    tally = comparisons.tally()
    assert (tally.rounds, tally.no_preference) == (4, 1)
    assert {(r.key, r.wins, r.appearances) for r in tally.by_profile} == \
        {(anna.profile_id, 2, 3), (bob.profile_id, 0, 4), (None, 1, 2)}
    assert {(r.key, r.wins, r.appearances) for r in tally.by_engine} == \
        {("test.echo", 2, 7), ("builtin.hibari", 0, 1), (None, 1, 1)}  # None: uploads

    clips = comparisons.clips(keys)
    rows = {d.name: d for d in differences(clips)}
    assert rows["engine"].values == ["Echo", "Echo", "Hibari", ""] and rows["engine"].differs
    assert rows["source"].values[3] == "upload: mine.wav" and rows["gain"].values[:2] == ["1", "1"]
    services.history.delete([anna.id])
    with pytest.raises(HistoryError, match=f"no generation {anna.id}") as gone:
        comparisons.clip(keys[0])
    assert gone.value.status == 404
    assert comparisons.tally() == tally  # votes outlive the clips they were about
