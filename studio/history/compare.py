"""A/B comparison: clips (kept generations or uploads) side by side, what differs between them, blind votes.

A clip is named by a key, "generation:<id>" or "upload:<id>", so a page, the API and a saved vote all refer
to it the same way. Each blind round stores one row per clip, with its engine and profile copied in.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, distinct, func, insert, select
from sqlalchemy.engine import Engine as SqlEngine

from engines.registry import Registry

from ..db import chunks
from ..uploads import UploadService
from .query import HistoryError
from .service import HistoryService, profile_name_of
from .table import ComparisonVote

VOTES = ComparisonVote.__table__
V = VOTES.c
GENERATION, UPLOAD = "generation", "upload"
MIN_SAVED_CLIPS, MAX_CLIPS = 2, 8  # a saved comparison holds MIN_SAVED_CLIPS..MAX_CLIPS
LABELS = "ABCDEFGH"


@dataclass(frozen=True)
class Clip:
    key: str
    kind: str  # GENERATION or UPLOAD
    id: str
    name: str
    path: Path
    duration: float
    sample_rate: int
    engine_id: str | None = None
    profile_id: str | None = None
    details: dict[str, str] = field(default_factory=dict)  # how it was made, as the differences table shows it


@dataclass(frozen=True)
class Difference:
    name: str
    values: list[str]  # one per clip, in order

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


@dataclass(frozen=True)
class TallyRow:
    key: str | None  # an engine or profile id; None: uploads (by engine) or no profile (by profile)
    appearances: int
    wins: int

    @property
    def win_rate(self) -> float:
        return self.wins / self.appearances if self.appearances else 0.0


@dataclass(frozen=True)
class Tally:
    rounds: int
    no_preference: int
    by_engine: list[TallyRow]
    by_profile: list[TallyRow]


def clip_key(kind: str, item_id: str) -> str:
    return f"{kind}:{item_id}"


class Comparisons:
    def __init__(self, db: SqlEngine, registry: Registry, history: HistoryService, uploads: UploadService) -> None:
        self._db = db
        self._registry = registry
        self._history = history
        self._uploads = uploads

    # -- clips ---------------------------------------------------------------------------------------------

    def clip(self, key: str) -> Clip:
        """The clip a key names; HistoryError 404 when it no longer exists, 400 when the key is malformed."""
        kind, _, item_id = key.partition(":")
        if kind == GENERATION:
            item = self._history.get(item_id)
            if item is not None:
                return Clip(key, kind, item.id, item.title, self._history.audio_path(item), item.duration,
                            item.sample_rate, item.engine_id, item.profile_id, self._generation_details(item))
        elif kind == UPLOAD:
            upload = self._uploads.get(item_id)
            if upload is not None:
                return Clip(key, kind, upload.id, upload.name, upload.normalised, upload.duration, upload.sample_rate,
                            details={"source": f"upload: {upload.name}", "duration": f"{upload.duration:.2f} s",
                                     "sample rate": f"{upload.sample_rate / 1000:g} kHz"})
        else:
            raise HistoryError(f"{key!r} is not a clip: use generation:<id> or upload:<id>.")
        raise HistoryError(f"There is no {kind} {item_id}; it may have been deleted.", 404)

    def clips(self, keys: Sequence[str]) -> list[Clip]:
        if len(set(keys)) != len(keys):
            raise HistoryError("The same clip is listed twice.")
        if len(keys) > MAX_CLIPS:
            raise HistoryError(f"At most {MAX_CLIPS} clips can be compared at once.")
        return [self.clip(key) for key in keys]

    def _generation_details(self, item: Any) -> dict[str, str]:
        engine = self._registry.get(item.engine_id) if item.engine_id in self._registry else None
        details = {"source": "generation", "engine": engine.name if engine else item.engine_id,
                   "text": item.text or "", "profile": profile_name_of(item.inputs) or item.profile_id or "none"}
        for name, value in item.params.items():
            try:
                param = engine.param(name) if engine else None
            except KeyError:
                param = None
            details[param.title.lower() if param else name] = param.format(value) if param else str(value)
        details.update({"duration": f"{item.duration:.2f} s", "sample rate": f"{item.sample_rate / 1000:g} kHz",
                        "real-time factor": f"{item.rtf:.3f}" if item.rtf else "",
                        "made": dt.datetime.fromtimestamp(item.created_at).strftime("%Y-%m-%d %H:%M")})
        return details

    # -- votes ---------------------------------------------------------------------------------------------

    def vote(self, keys: Sequence[str], chosen: str | None) -> str:
        """Record a blind round over `keys` (in the order shown, lettered A, B, ...); `chosen` None: no preference."""
        if len(keys) < 2:
            raise HistoryError("A vote needs at least two clips.")
        clips = self.clips(list(keys))
        if chosen is not None and chosen not in keys:
            raise HistoryError(f"{chosen!r} is not one of the clips voted on.")
        round_id, now = uuid.uuid4().hex[:12], time.time()
        with self._db.begin() as connection:
            connection.execute(insert(VOTES), [
                {"round_id": round_id, "item": clip.key, "label": LABELS[i], "engine_id": clip.engine_id,
                 "profile_id": clip.profile_id, "chosen": clip.key == chosen, "created_at": now}
                for i, clip in enumerate(clips)])
        return round_id

    def rounds_using(self, *keys: str) -> list[str]:
        """The blind rounds any of the clips `keys` took part in."""
        with self._db.connect() as connection:
            return list(dict.fromkeys(round_id for chunk in chunks(keys) for round_id in connection.execute(
                select(V.round_id).distinct().where(V.item.in_(chunk))).scalars()))

    def delete_round(self, round_id: str) -> None:
        """Forget one blind round (its votes leave the tally); HistoryError 404 when there is none."""
        with self._db.begin() as connection:
            if not connection.execute(delete(VOTES).where(V.round_id == round_id)).rowcount:
                raise HistoryError(f"No blind-vote round {round_id}.", 404)

    def tally(self) -> Tally:
        """Wins and appearances in blind rounds, per engine and per profile."""
        with self._db.connect() as connection:
            rounds = connection.execute(select(func.count(distinct(V.round_id)))).scalar_one()
            decided = connection.execute(select(func.count(distinct(V.round_id))).where(V.chosen)).scalar_one()

            def rows(column: Any) -> list[TallyRow]:
                query = select(column, func.count(), func.count().filter(V.chosen)).group_by(column) \
                    .order_by(func.count().filter(V.chosen).desc(), func.count().desc())
                return [TallyRow(key, n, wins) for key, n, wins in connection.execute(query)]

            return Tally(rounds, rounds - decided, rows(V.engine_id), rows(V.profile_id))


def differences(clips: Sequence[Clip]) -> list[Difference]:
    """Every detail any clip has, in first-seen order, with one value per clip ('' where a clip lacks it)."""
    names: dict[str, None] = {}
    for clip in clips:
        names.update(dict.fromkeys(clip.details))
    return [Difference(name, [clip.details.get(name, "") for clip in clips]) for name in names]
