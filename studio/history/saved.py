"""Saved comparisons: a set of clips named on the Compare page, listed, reopened, renamed, deleted and exported.

A saved comparison keeps the clips' keys ("generation:<id>", "upload:<id>"); a clip deleted since is left out
when the comparison is opened (and said so), the others stay.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine as SqlEngine

from ..library.records import MAX_NAME, LibraryError, clean_text
from .compare import MIN_SAVED_CLIPS, Comparisons
from .query import HistoryError
from .table import SavedComparison

SAVED = SavedComparison.__table__
S = SAVED.c


@dataclass(frozen=True)
class Saved:
    id: str
    name: str
    clips: list[str]
    created_at: float
    updated_at: float


class SavedComparisons:
    def __init__(self, db: SqlEngine, comparisons: Comparisons) -> None:
        self._db = db
        self._comparisons = comparisons
        self.revision = 0  # changes whenever the list does; pages poll it

    def save(self, name: str, keys: Sequence[str]) -> Saved:
        """Keep `keys` (at least two clips that exist) under `name`; HistoryError says what is wrong."""
        name, keys = checked_name(name), self._checked_clips(keys)
        now = time.time()
        saved = Saved(uuid.uuid4().hex[:12], name, keys, now, now)
        with self._db.begin() as connection:
            connection.execute(insert(SAVED).values(id=saved.id, name=name, clips=keys, created_at=now, updated_at=now))
        self.revision += 1
        return saved

    def added_elsewhere(self, count: int) -> None:
        """Comparisons were written by someone else (a project import): pages polling `revision` list them."""
        if count:
            self.revision += 1

    def list(self) -> list[Saved]:
        """Every saved comparison, the most recently changed first."""
        with self._db.connect() as connection:
            return [Saved(**row._mapping) for row in connection.execute(select(SAVED).order_by(S.updated_at.desc()))]

    def get(self, comparison_id: str) -> Saved:
        with self._db.connect() as connection:
            row = connection.execute(select(SAVED).where(S.id == comparison_id)).first()
        if row is None:
            raise HistoryError(f"No saved comparison {comparison_id}.", 404)
        return Saved(**row._mapping)

    def change(self, comparison_id: str, name: str | None = None, keys: Sequence[str] | None = None) -> Saved:
        """Rename it, or replace its clips; what is not given stays."""
        self.get(comparison_id)
        changes: dict[str, object] = {"updated_at": time.time()}
        if name is not None:
            changes["name"] = checked_name(name)
        if keys is not None:
            changes["clips"] = self._checked_clips(keys)
        with self._db.begin() as connection:
            connection.execute(update(SAVED).where(S.id == comparison_id).values(**changes))
        self.revision += 1
        return self.get(comparison_id)

    def delete(self, comparison_id: str) -> None:
        with self._db.begin() as connection:
            if not connection.execute(delete(SAVED).where(S.id == comparison_id)).rowcount:
                raise HistoryError(f"No saved comparison {comparison_id}.", 404)
        self.revision += 1

    def using(self, key: str) -> list[str]:
        """The ids of the saved comparisons that hold the clip `key`."""
        return [saved.id for saved in self.list() if key in saved.clips]

    def _checked_clips(self, keys: Sequence[str]) -> list[str]:
        keys = list(keys)
        if len(keys) < MIN_SAVED_CLIPS:
            raise HistoryError("A comparison needs at least two clips.")
        return [clip.key for clip in self._comparisons.clips(keys)]


def checked_name(name: str) -> str:
    try:
        cleaned = " ".join(clean_text(name, MAX_NAME, "The name").split())
    except LibraryError as exc:
        raise HistoryError(str(exc)) from None
    if not cleaned:
        raise HistoryError("Give the comparison a name.")
    return cleaned
