"""Stored scores of generations: the newest value per metric for the history and the A/B view, and scores that are
deleted with their generation (one or many), all or nothing; generations imported from a project (which have no
job) are scored from their history row."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from studio.evaluation import EvaluationRequest
from studio.evaluation.table import Evaluation, EvaluationItem
from studio.services import Services, build_services
from studio.settings import Settings
from tests.unit.test_evaluation import finish, generate

LOUDNESS = ("loudness_lufs",)


def count(services: Services, table) -> int:  # type: ignore[no-untyped-def]
    with services.db.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_the_newest_value_of_each_metric_is_shown_for_each_generation(services: Services) -> None:
    a, b = generate(services, "A short one."), generate(services, "A somewhat longer second sentence, read slowly.")
    first, _ = finish(services, EvaluationRequest("jobs", jobs=(a, b), metrics=("wer", "loudness_lufs")))
    second, report = finish(services, EvaluationRequest("jobs", jobs=(a,), metrics=LOUDNESS))
    scores = services.evaluation.latest_scores([a, b, "never-evaluated"])
    assert set(scores) == {a, b}
    assert [(s.key, s.evaluation_id) for s in scores[a]] == [("wer", first.id), ("loudness_lufs", second.id)]
    assert [(s.key, s.evaluation_id) for s in scores[b]] == [("wer", first.id), ("loudness_lufs", first.id)]
    assert scores[a][1].value == pytest.approx(report.items[0].values["loudness_lufs"])
    assert scores[a][0].value == 0.0  # Hibari says its text; tiny.en hears it
    assert services.evaluation.latest_scores([]) == {}


def test_deleting_generations_deletes_their_scores_and_keeps_the_rest_consistent(services: Services) -> None:
    a, b, c = (generate(services, text) for text in ("First of three.", "The second one is longer than the first.",
                                                      "Third."))
    both, _ = finish(services, EvaluationRequest("jobs", jobs=(a, b), metrics=LOUDNESS))
    only_a, _ = finish(services, EvaluationRequest("clip", str(services.paths.generations / f"{a}.wav"),
                                                   metrics=LOUDNESS))
    only_c, _ = finish(services, EvaluationRequest("jobs", jobs=(c,), metrics=LOUDNESS))
    b_value = services.evaluation.latest_scores([b])[b][0].value
    revision = services.evaluation.revision

    assert services.history.delete([a]) == [a]
    assert services.evaluation.for_job(a) == [] and services.evaluation.report(only_a.id) is None
    left = services.evaluation.report(both.id)  # the set it shared with b keeps b, summarised again
    assert [item.source_job for item in left.items] == [b]
    assert left.summary["loudness_lufs"]["n"] == 1 and left.summary["loudness_lufs"]["mean"] == pytest.approx(b_value)
    (row,) = [r for r in services.evaluation.list() if r.id == both.id]
    assert row.item_count == 1 and row.failed_items == 0
    assert services.evaluation.revision > revision  # pages showing scores refresh

    assert sorted(services.history.delete([b, c])) == sorted([b, c])
    assert services.evaluation.list() == []
    assert count(services, EvaluationItem.__table__) == 0 and count(services, Evaluation.__table__) == 0
    assert services.evaluation.report(only_c.id) is None


def test_a_delete_that_fails_keeps_the_scores(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    a = generate(services, "Keep my scores.")
    finish(services, EvaluationRequest("jobs", jobs=(a,), metrics=LOUDNESS))

    def failing_regroup(connection, deleted):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services.history, "_regroup", failing_regroup)  # runs after the scores were deleted
    with pytest.raises(RuntimeError):
        services.history.delete([a])
    assert services.history.get(a) is not None
    assert [s.key for s in services.evaluation.latest_scores([a])[a]] == ["loudness_lufs"]


def test_generations_dropped_at_start_up_lose_their_scores_too(services: Services) -> None:
    a, b = generate(services, "My file goes missing."), generate(services, "I stay.")
    finish(services, EvaluationRequest("jobs", jobs=(a, b), metrics=LOUDNESS))
    (services.paths.generations / f"{a}.wav").unlink()  # removed by hand while the studio was stopped
    services.history.reconcile()
    assert set(services.evaluation.latest_scores([a, b])) == {b}


def test_an_imported_generation_has_no_job_and_is_still_scored_from_its_history_row(
        services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.projects import Selection

    text = "Brought over from another studio."
    services.projects.export(Selection(generations=(generate(services, text),)), tmp_path / "project.zip")
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "other-studio"))
    other = build_services(Settings.load())
    other.start()
    try:
        other.projects.import_project(tmp_path / "project.zip")
        (item,) = other.history.list().items
        assert other.jobs.get(item.id) is None
        _, report = finish(other, EvaluationRequest("jobs", jobs=(item.id,), metrics=("wer", "loudness_lufs")))
        (scored,) = report.items
        assert scored.source_job == item.id and scored.text == text and scored.values["wer"] == 0.0
        assert [s.key for s in other.evaluation.latest_scores([item.id])[item.id]] == ["wer", "loudness_lufs"]
    finally:
        other.stop()
