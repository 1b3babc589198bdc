"""The generation history: every finished generation kept with how it was made, searchable, and re-runnable.

Rows are written on the job worker (JobQueue.on_finished) right after a generation job succeeds. A row and
its audio file live and die together: deleting moves the files aside inside the database transaction and
restores them if it fails; start-up finishes whatever a crash interrupted (see `reconcile`).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import OperationalError

from engines.registry import Registry

from ..generation import GENERATE, GenerationService, export_as
from ..jobs import JobInfo, JobQueue, JobState
from ..jobs.table import Job
from ..storage import Paths
from .query import GENERATIONS, G, HistoryError, HistoryQuery, all_of, conditions, order_by
from .table import TEXT_INDEX_DDL

log = logging.getLogger(__name__)

JOBS = Job.__table__
MAX_TAGS = 20
MAX_TAG_CHARS = 40
MAX_NOTES_CHARS = 10_000
TRASH = ".deleting"  # under generations/: files of a delete that has not committed yet

# Called inside the transaction that deletes generations, with their ids: rows that belong to a generation (its
# evaluation scores) are deleted with it, and stay if the delete fails.
DeleteListener = Callable[[Connection, list[str]], None]


@dataclass(frozen=True)
class HistoryItem:
    """One kept generation, safe to hand to any thread."""

    id: str
    task: str
    engine_id: str
    title: str
    text: str | None
    profile_id: str | None
    inputs: dict[str, Any]
    params: dict[str, Any]
    seed: int | None
    audio: str  # relative to STUDIO_HOME
    duration: float
    sample_rate: int
    channels: int
    rtf: float | None
    engine_seconds: float | None
    extras: dict[str, Any]
    created_at: float
    original_id: str | None
    take: int
    favourite: bool
    rating: int
    tags: list[str]
    notes: str
    group_size: int = 1  # the original and all its takes

    @property
    def group_id(self) -> str:
        return self.original_id or self.id


_ITEM_FIELDS = tuple(f.name for f in fields(HistoryItem) if f.name != "group_size")


@dataclass(frozen=True)
class HistoryPage:
    items: list[HistoryItem]
    total: int
    query: HistoryQuery


@dataclass(frozen=True)
class Bucket:
    key: str | None
    count: int
    duration: float


@dataclass(frozen=True)
class HistoryStats:
    count: int
    duration: float
    favourites: int
    by_engine: list[Bucket]
    by_profile: list[Bucket]  # key None: no library profile (built-in voices)
    by_task: list[Bucket]
    by_day: list[Bucket]  # key: YYYY-MM-DD (local time)


@dataclass
class HistoryService:
    db: SqlEngine
    paths: Paths
    registry: Registry
    jobs: JobQueue
    generation: GenerationService
    revision: int = field(default=0, init=False)  # changes whenever the history does; pages poll it

    def __post_init__(self) -> None:
        self._write_lock = threading.RLock()
        self._recorded = threading.Condition()
        self._record_failures: dict[str, str] = {}
        self._delete_listeners: list[DeleteListener] = []
        self.text_index = self._ensure_text_index()
        self.jobs.on_finished(self._job_finished)

    def on_delete(self, listener: DeleteListener) -> None:
        self._delete_listeners.append(listener)

    # -- recording (on the job worker) ---------------------------------------------------------------------

    def _job_finished(self, job: JobInfo) -> None:
        try:
            if self.record(job) is None and job.kind == GENERATE and job.state == JobState.succeeded:
                self._record_failures[job.id] = "its audio file is missing"
        except Exception as exc:
            self._record_failures[job.id] = str(exc)
            raise  # the queue logs it; `reconcile` records the job at the next start
        finally:
            with self._recorded:
                self._recorded.notify_all()

    def record(self, job: JobInfo) -> HistoryItem | None:
        """Keep a succeeded generation job (idempotent); None when the job made no audio to keep."""
        result = job.result or {}
        if job.kind != GENERATE or job.state != JobState.succeeded or "audio" not in result:
            return None
        if not (self.paths.home / result["audio"]).is_file():
            log.warning("generation %s finished without its audio file %s; not kept", job.id, result["audio"])
            return None
        payload = job.payload
        inputs, params = dict(payload.get("inputs", {})), dict(payload.get("params", {}))
        engine_id = payload.get("engine_id") or job.engine_id or ""
        with self._write_lock, self.db.begin() as connection:
            original = self._group_of(connection, payload.get("take_of") or job.retry_of)
            take = 1 if original is None else 1 + connection.execute(
                select(func.max(G.take)).where((G.id == original) | (G.original_id == original))).scalar_one()
            made = job.finished_at or job.created_at
            added = connection.execute(insert(GENERATIONS).prefix_with("OR IGNORE").values(
                id=job.id, task=job.task or self._engine_task(engine_id), engine_id=engine_id, title=job.title,
                text=inputs["text"] if isinstance(inputs.get("text"), str) else None,
                profile_id=profile_of(inputs), inputs=inputs, params=params, seed=self._seed(engine_id, params),
                audio=result["audio"], duration=float(result.get("duration") or 0.0),
                sample_rate=int(result.get("sample_rate") or 0), channels=int(result.get("channels") or 1),
                rtf=result.get("rtf"), engine_seconds=result.get("engine_seconds"),
                extras=result.get("extras") or {}, created_at=made, original_id=original, take=take,
                last_take_at=made, tags=[], notes="")).rowcount
            if added and original is not None:
                self._touch_groups(connection, [original])
            self.revision += 1
        return self.get(job.id)

    def wait(self, job_id: str, timeout: float = 300.0) -> HistoryItem:
        """Block until job `job_id` ends and its generation is kept (for the API's wait=true).

        TimeoutError while it runs; HistoryError(409) when it ended without audio (failed, cancelled).
        """
        deadline = time.monotonic() + timeout
        job = self.jobs.wait(job_id, timeout)
        if job.state != JobState.succeeded:
            raise HistoryError(job.error or f"The job ended {job.state.value}.", 409)
        with self._recorded:
            while (item := self.get(job_id)) is None:
                if job_id in self._record_failures:
                    raise HistoryError(f"The audio was made but could not be kept: {self._record_failures[job_id]}",
                                       500)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"generation {job_id} not kept after {timeout:.0f} s")
                self._recorded.wait(min(remaining, 1.0))
        return item

    def _group_of(self, connection: Connection, generation_id: str | None) -> str | None:
        if not generation_id:
            return None
        row = connection.execute(select(G.id, G.original_id).where(G.id == generation_id)).first()
        return None if row is None else row.original_id or row.id

    def _engine_task(self, engine_id: str) -> str:
        return self.registry.get(engine_id).task if engine_id in self.registry else ""

    def _seed(self, engine_id: str, params: dict[str, Any]) -> int | None:
        names = [p.name for p in self.registry.get(engine_id).params if p.kind == "seed"] \
            if engine_id in self.registry else ["seed"]
        seeds = [params[n] for n in names if isinstance(params.get(n), int)]
        return seeds[0] if seeds else None

    # -- reading -------------------------------------------------------------------------------------------

    def get(self, generation_id: str) -> HistoryItem | None:
        items = self._items(select(*self._columns()).where(G.id == generation_id))
        return items[0] if items else None

    def require(self, generation_id: str) -> HistoryItem:
        item = self.get(generation_id)
        if item is None:
            raise HistoryError(f"No generation {generation_id} in the history.", 404)
        return item

    def list(self, query: HistoryQuery | None = None) -> HistoryPage:
        query = (query or HistoryQuery()).checked()
        where = conditions(query, self.text_index)
        if query.grouped:  # originals whose group has a match (the filters apply to every take)
            groups = select(func.coalesce(G.original_id, G.id)).where(all_of(where)).correlate(None)
            where = [G.id.in_(groups)] if where else [G.original_id.is_(None)]
        statement = select(*self._columns()).where(all_of(where)).order_by(*order_by(query.sort, query.grouped)) \
            .limit(query.limit).offset(query.offset)
        with self.db.connect() as connection:
            count = connection.execute(select(func.count()).select_from(GENERATIONS).where(all_of(where))).scalar_one()
        return HistoryPage(self._items(statement), count, query)

    def has_profile(self, profile_id: str) -> bool:
        """Whether any generation used the profile (which may have been deleted since)."""
        with self.db.connect() as connection:
            return connection.execute(select(G.id).where(G.profile_id == profile_id).limit(1)).first() is not None

    def using_upload(self, upload_id: str) -> list[str]:
        """The generations that took the upload `upload_id` as an input (a re-run or an export needs it)."""
        uses = text("EXISTS (SELECT 1 FROM json_each(generations.inputs) AS slot WHERE CASE WHEN slot.type = 'object' "
                    "THEN json_extract(slot.value, '$.upload') END = :upload)").bindparams(upload=upload_id)
        with self.db.connect() as connection:
            return list(connection.execute(select(G.id).where(uses).order_by(G.created_at)).scalars())

    def takes(self, generation_id: str) -> list[HistoryItem]:
        """Every take of the group `generation_id` belongs to, the original first."""
        item = self.require(generation_id)
        statement = select(*self._columns()).where((G.id == item.group_id) | (G.original_id == item.group_id)) \
            .order_by(G.take, G.created_at)
        return self._items(statement)

    def facets(self) -> dict[str, list[tuple[str, int]]]:
        """The tasks, engines, profiles and tags present, each with its count: the options of the filters."""
        tags = text("SELECT min(t.value) AS tag, count(*) AS n FROM generations, json_each(generations.tags) AS t "
                    "GROUP BY lower(t.value) ORDER BY n DESC, tag")
        with self.db.connect() as connection:
            found = {name: [(k, n) for k, n in connection.execute(
                select(column, func.count()).where(column.is_not(None)).group_by(column)
                .order_by(func.count().desc(), column))]
                for name, column in (("task", G.task), ("engine", G.engine_id), ("profile", G.profile_id))}
            found["tag"] = [(row.tag, row.n) for row in connection.execute(tags)]
        return found

    def stats(self, query: HistoryQuery | None = None) -> HistoryStats:
        where = all_of(conditions((query or HistoryQuery()).checked(), self.text_index))
        day = func.date(G.created_at, "unixepoch", "localtime")

        def buckets(connection: Connection, key: Any, order: Any = None) -> list[Bucket]:
            rows = connection.execute(select(key, func.count(), func.coalesce(func.sum(G.duration), 0.0))
                                      .where(where).group_by(key).order_by(order if order is not None
                                                                           else func.count().desc()))
            return [Bucket(k, n, float(d)) for k, n, d in rows]

        with self.db.connect() as connection:
            count, duration, favourites = connection.execute(select(
                func.count(), func.coalesce(func.sum(G.duration), 0.0), func.count().filter(G.favourite))
                .where(where)).one()
            return HistoryStats(count, float(duration), int(favourites), buckets(connection, G.engine_id),
                                buckets(connection, G.profile_id), buckets(connection, G.task),
                                buckets(connection, day, day))

    def audio_path(self, item: HistoryItem) -> Path:
        return self.paths.home / item.audio

    def export(self, generation_id: str, fmt: str) -> tuple[Path, str]:
        """The generation's audio as `fmt` (wav, mp3, flac, ogg) and the file name to download it as."""
        item = self.require(generation_id)
        if not self.audio_path(item).is_file():
            raise FileNotFoundError(f"generation {item.id} has lost its audio file")
        return export_as(self.audio_path(item), fmt, self.paths.exports, item.title, item.id)

    def _columns(self) -> list[Any]:
        group = func.coalesce(G.original_id, G.id)
        takes = GENERATIONS.alias("takes")
        size = (select(func.count()).where(takes.c.original_id == group).scalar_subquery() + 1).label("group_size")
        return [*(G[name] for name in _ITEM_FIELDS), size]

    def _items(self, statement: Any) -> list[HistoryItem]:
        with self.db.connect() as connection:
            return [HistoryItem(**row._mapping) for row in connection.execute(statement)]

    # -- changing ------------------------------------------------------------------------------------------

    def update(self, generation_id: str, *, favourite: bool | None = None, rating: int | None = None,
               tags: Iterable[str] | None = None, notes: str | None = None) -> HistoryItem:
        """Change what the user keeps about a generation; HistoryError says what is wrong with a value."""
        changes: dict[str, Any] = {}
        if favourite is not None:
            changes["favourite"] = bool(favourite)
        if rating is not None:
            if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 5:
                raise HistoryError(f"Rating: {rating!r} is not a whole number of stars from 0 (none) to 5.")
            changes["rating"] = rating
        if tags is not None:
            changes["tags"] = clean_tags(tags)
        if notes is not None:
            if len(notes) > MAX_NOTES_CHARS:
                raise HistoryError(f"Notes: {len(notes):,} characters is more than the {MAX_NOTES_CHARS:,} kept.")
            changes["notes"] = notes
        with self._write_lock, self.db.begin() as connection:
            if not connection.execute(select(G.id).where(G.id == generation_id)).first():
                raise HistoryError(f"No generation {generation_id} in the history.", 404)
            if changes:
                connection.execute(update(GENERATIONS).where(G.id == generation_id).values(**changes))
                self.revision += 1
        return self.require(generation_id)

    def delete(self, generation_ids: Iterable[str]) -> list[str]:
        """Delete generations, their audio and what belongs to them (see `on_delete`), all or nothing; returns the
        ids that existed.

        The takes of a deleted original stay: the earliest remaining one becomes their original.
        """
        ids = list(dict.fromkeys(generation_ids))
        moved: list[tuple[Path, Path]] = []
        with self._write_lock:
            try:
                with self.db.begin() as connection:
                    rows = connection.execute(select(G.id, G.audio, G.original_id).where(G.id.in_(ids))).all()
                    found = [i for i in ids if i in {row.id for row in rows}]
                    connection.execute(delete(GENERATIONS).where(G.id.in_(found)))
                    for listener in self._delete_listeners if found else ():
                        listener(connection, found)
                    self._regroup(connection, [(row.id, row.original_id) for row in rows])
                    moved = self._move_aside([self.paths.home / row.audio for row in rows])
            except BaseException:
                for original, aside in reversed(moved):
                    os.replace(aside, original)
                raise
            if found:
                self.revision += 1
        for _, aside in moved:
            aside.unlink(missing_ok=True)
        for generation_id in found:
            for exported in self.paths.exports.glob(f"{generation_id}.*"):  # downloads in other formats
                exported.unlink(missing_ok=True)
        return found

    def _regroup(self, connection: Connection, deleted: list[tuple[str, str | None]]) -> None:
        """After deleting (id, original_id) rows: the earliest remaining take heads an orphaned group, and each
        touched group's newest-take time is right again."""
        groups = {original for _, original in deleted if original} - {i for i, _ in deleted}
        for generation_id, original in deleted:
            if original is not None:
                continue
            heir = connection.execute(select(G.id).where(G.original_id == generation_id)
                                      .order_by(G.take, G.created_at).limit(1)).scalar()
            if heir is not None:
                connection.execute(update(GENERATIONS).where(G.id == heir).values(original_id=None))
                connection.execute(update(GENERATIONS).where(G.original_id == generation_id).values(original_id=heir))
                groups.add(heir)
        self._touch_groups(connection, groups)

    @staticmethod
    def _touch_groups(connection: Connection, originals: Iterable[str]) -> None:
        for original in originals:
            newest = select(func.max(G.created_at)).where((G.id == original) | (G.original_id == original))
            connection.execute(update(GENERATIONS).where(G.id == original).values(last_take_at=newest.scalar_subquery()))

    def _move_aside(self, paths: list[Path]) -> list[tuple[Path, Path]]:
        """Move the files into the trash folder (undone by the caller if the transaction fails)."""
        trash = self.paths.generations / TRASH
        trash.mkdir(exist_ok=True)
        moved: list[tuple[Path, Path]] = []
        try:
            for path in paths:
                if path.exists():
                    aside = trash / path.name
                    os.replace(path, aside)
                    moved.append((path, aside))
        except BaseException:
            for original, aside in reversed(moved):
                os.replace(aside, original)
            raise
        return moved

    # -- re-running ----------------------------------------------------------------------------------------

    def rerun(self, generation_id: str) -> JobInfo:
        """The same engine, inputs, parameters and seed again; the result becomes a take of its group."""
        item = self.require(generation_id)
        return self.generation.submit(item.engine_id, item.inputs, item.params, take_of=item.group_id)

    def vary(self, generation_id: str, params: dict[str, Any] | None = None, new_seed: bool = True) -> JobInfo:
        """The same inputs with changed parameters and/or a new seed, as a new take of the group."""
        item = self.require(generation_id)
        values = {**item.params, **(params or {})}
        if new_seed and item.engine_id in self.registry:
            values.update({p.name: -1 for p in self.registry.get(item.engine_id).params
                           if p.kind == "seed" and p.name not in (params or {})})
        return self.generation.submit(item.engine_id, item.inputs, values, take_of=item.group_id)

    # -- start-up ------------------------------------------------------------------------------------------

    def reconcile(self) -> dict[str, int]:
        """Make rows and files agree after a crash (run before the job worker starts).

        Finishes or undoes interrupted deletes, drops rows whose audio file was removed by hand, and keeps
        succeeded generation jobs the studio stopped before recording.
        """
        report = {"restored": self._finish_deletes(), "dropped": self._drop_rows_without_audio(), "recorded": 0}
        unrecorded = select(JOBS).where((JOBS.c.kind == GENERATE) & (JOBS.c.state == JobState.succeeded.value)
                                        & ~exists().where(G.id == JOBS.c.id))
        with self.db.connect() as connection:
            jobs = [JobInfo.from_row(row) for row in connection.execute(unrecorded)]
        report["recorded"] = sum(self.record(job) is not None for job in jobs)
        if any(report.values()):
            log.info("history reconciled: %s", report)
        return report

    def _finish_deletes(self) -> int:
        trash = self.paths.generations / TRASH
        restored = 0
        for aside in trash.glob("*") if trash.is_dir() else ():
            with self.db.connect() as connection:
                row = connection.execute(select(G.audio).where(G.id == aside.stem)).first()
            if row is not None and not (self.paths.home / row.audio).exists():
                os.replace(aside, self.paths.home / row.audio)  # the delete never committed
                restored += 1
            else:
                aside.unlink()
        return restored

    def _drop_rows_without_audio(self) -> int:
        with self.db.connect() as connection:
            rows = connection.execute(select(G.id, G.audio)).all()
        missing = [row.id for row in rows if not (self.paths.home / row.audio).is_file()]
        if missing and len(missing) == len(rows):
            log.warning("none of the %d generations' audio files is in %s; leaving the history as it is "
                        "(was the folder moved?)", len(rows), self.paths.generations)
            return 0
        if missing:
            log.warning("dropping %d generations whose audio files were deleted", len(missing))
            self.delete(missing)
        return len(missing)

    def _ensure_text_index(self) -> bool:
        """Create the FTS5 index the first time; False when this SQLite has no FTS5 (search falls back to LIKE)."""
        with self.db.begin() as connection:
            if connection.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'generations_fts'")).first():
                return True
            try:
                for statement in TEXT_INDEX_DDL:
                    connection.execute(text(statement))
            except OperationalError as exc:
                log.warning("SQLite has no FTS5 (%s); history search will scan instead of using an index", exc)
                connection.rollback()
                return False
        return True


def profile_of(inputs: dict[str, Any]) -> str | None:
    """The library profile an input came from: audio slots may carry {'profile': id} instead of a path."""
    for value in inputs.values():
        if isinstance(value, dict) and value.get("profile"):
            return str(value["profile"])
    return None


def profile_name_of(inputs: dict[str, Any]) -> str | None:
    """The profile's name as it was when the generation was made (the library records it with the reference)."""
    for value in inputs.values():
        if isinstance(value, dict) and value.get("profile_name"):
            return str(value["profile_name"])
    return None


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags trimmed, spaces collapsed, duplicates (ignoring case) dropped; HistoryError when one is unusable."""
    if isinstance(tags, str):
        raise HistoryError("Tags: give a list of tags, not one string.")
    cleaned: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, str):
            raise HistoryError(f"Tags: {tag!r} is not text.")
        tag = " ".join(tag.split())
        if not tag:
            continue
        if len(tag) > MAX_TAG_CHARS:
            raise HistoryError(f"Tags: {tag[:20]!r}… is longer than {MAX_TAG_CHARS} characters.")
        cleaned.setdefault(tag.lower(), tag)
    if len(cleaned) > MAX_TAGS:
        raise HistoryError(f"Tags: {len(cleaned)} tags is more than the {MAX_TAGS} a generation can have.")
    return list(cleaned.values())
