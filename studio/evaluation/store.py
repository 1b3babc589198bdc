"""Stored evaluation reports: one row per evaluation and one per item, each item tied to the generation it scored.

The history and the A/B view read a generation's newest scores (`latest_scores`); a generation's scores are
deleted with it (`forget_generations`).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy import select as core_select
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import Session, col, select

from ..metrics import METRICS
from .report import ItemResult, Report, summarise
from .table import Evaluation, EvaluationItem


@dataclass(frozen=True)
class Score:
    """One stored value of a generation, and the evaluation it came from."""

    key: str
    value: float
    evaluation_id: str
    evaluation_title: str
    created_at: float


class ReportStore:
    """Reads and writes stored reports; mixed into EvaluationService, which provides `db` and `revision` (changed
    whenever stored scores change; the history and the A/B view poll it)."""

    db: SqlEngine
    revision: int

    def save(self, report: Report) -> None:
        """The evaluation row and its item rows, in one transaction."""
        data = report.to_dict()  # JSON-safe: NaN and infinities become None
        with Session(self.db) as session:
            session.add(Evaluation(id=report.id, created_at=report.created_at, mode=report.mode, title=report.title,
                                   metrics=report.metrics, options=report.options, summary=data["summary"],
                                   set_values=data["set_values"], set_errors=report.set_errors,
                                   item_count=len(report.items), failed_items=report.failed_items))
            for position, item in enumerate(data["items"]):
                session.add(EvaluationItem(evaluation_id=report.id, position=position, **item))
            session.commit()
        self.revision += 1

    def report(self, evaluation_id: str) -> Report | None:
        with Session(self.db) as session:
            row = session.get(Evaluation, evaluation_id)
            if row is None:
                return None
            items = session.exec(select(EvaluationItem).where(EvaluationItem.evaluation_id == evaluation_id)
                                 .order_by(col(EvaluationItem.position))).all()
            return Report(row.id, row.created_at, row.mode, row.title, list(row.metrics), dict(row.options),
                          [_item_result(i) for i in items], dict(row.summary), dict(row.set_values),
                          dict(row.set_errors))

    def list(self, limit: int = 50) -> list[Evaluation]:
        with Session(self.db) as session:
            return list(session.exec(select(Evaluation).order_by(col(Evaluation.created_at).desc()).limit(limit)).all())

    def for_job(self, job_id: str) -> list[tuple[str, ItemResult]]:
        """Every stored score of the generation `job_id` (newest first), as (evaluation id, item)."""
        with Session(self.db) as session:
            rows = session.exec(select(EvaluationItem)
                                .join(Evaluation, col(Evaluation.id) == col(EvaluationItem.evaluation_id))
                                .where(EvaluationItem.source_job == job_id)
                                .order_by(col(Evaluation.created_at).desc())).all()
            return [(row.evaluation_id, _item_result(row)) for row in rows]

    def latest_scores(self, job_ids: Iterable[str]) -> dict[str, list[Score]]:
        """Each generation's newest value of every metric it was scored with (in the metrics' order), by job id."""
        ids = list(dict.fromkeys(job_ids))
        if not ids:
            return {}
        with Session(self.db) as session:
            rows = session.exec(select(EvaluationItem.source_job, EvaluationItem.values, Evaluation.id,
                                       Evaluation.title, Evaluation.created_at)
                                .join(Evaluation, col(Evaluation.id) == col(EvaluationItem.evaluation_id))
                                .where(col(EvaluationItem.source_job).in_(ids))
                                .order_by(col(Evaluation.created_at).desc(), col(EvaluationItem.id).desc())).all()
        newest: dict[str, dict[str, Score]] = {}
        for job_id, values, evaluation_id, title, created_at in rows:
            found = newest.setdefault(job_id, {})
            for key, value in values.items():
                if value is not None and key in METRICS and key not in found:
                    found[key] = Score(key, float(value), evaluation_id, title, created_at)
        order = {key: n for n, key in enumerate(METRICS)}
        return {job_id: sorted(found.values(), key=lambda s: order[s.key]) for job_id, found in newest.items()}

    def delete(self, evaluation_id: str) -> bool:
        with Session(self.db) as session:
            session.execute(delete(EvaluationItem).where(col(EvaluationItem.evaluation_id) == evaluation_id))
            deleted = session.execute(delete(Evaluation).where(col(Evaluation.id) == evaluation_id)).rowcount
            session.commit()
        self.revision += 1
        return bool(deleted)

    def forget_generations(self, connection: Connection, job_ids: list[str]) -> None:
        """Inside the transaction that deletes generations (HistoryService.on_delete): their scores go with them.

        An evaluation left with no item goes too; one that keeps items gets its summary from those that are left.
        """
        items, evaluations = EvaluationItem.__table__, Evaluation.__table__
        touched = connection.execute(core_select(items.c.evaluation_id).distinct()
                                     .where(items.c.source_job.in_(job_ids))).scalars().all()
        if not touched:
            return
        connection.execute(delete(items).where(items.c.source_job.in_(job_ids)))
        for evaluation_id in touched:
            row = connection.execute(core_select(evaluations).where(evaluations.c.id == evaluation_id)).one()
            left = [_item_result(r) for r in connection.execute(
                core_select(items).where(items.c.evaluation_id == evaluation_id).order_by(items.c.position))]
            if not left:
                connection.execute(delete(evaluations).where(evaluations.c.id == evaluation_id))
                continue
            for item in left:
                item.values = {k: v for k, v in item.values.items() if v is not None}  # stored NaN: no value
            report = Report(row.id, row.created_at, row.mode, row.title, list(row.metrics), dict(row.options), left,
                            summarise(left, item_keys(row.metrics)))
            connection.execute(update(evaluations).where(evaluations.c.id == evaluation_id).values(
                summary=report.to_dict()["summary"], item_count=len(left), failed_items=report.failed_items))
        self.revision += 1


def item_keys(keys: Iterable[str]) -> list[str]:
    """The metrics scored per item (the set metric FAD is not)."""
    return [k for k in keys if k != "fad"]


def _item_result(row: Any) -> ItemResult:  # an EvaluationItem, or a Core row of its table
    return ItemResult(row.name, row.generated, row.reference, row.text, row.source_job, dict(row.values),
                      dict(row.errors), list(row.notes), row.error)

