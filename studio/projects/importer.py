"""Importing a project zip, all or nothing: planned (studio/projects/import_plan.py), its files staged and
checked, then placed and the rows inserted in one transaction; any failure removes what was placed, and what a
crash left half done is undone at the next start (a journal in the staging folder says what was placed)."""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import soundfile as sf
from sqlalchemy import insert
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import IntegrityError

from ..history import HistoryService
from ..history.compare import V
from ..history.query import G
from ..history.saved import S
from ..library.tables import PROFILES, SAMPLES
from ..storage import Paths
from ..uploads import UPLOADS
from .archive import ProjectReader
from .common import existing, remove
from .errors import ProjectError
from .import_plan import ImportPlan, ImportPlanner, ImportReport

log = logging.getLogger(__name__)

STAGING = ".imports"  # under STUDIO_HOME: imports in progress (a crash's leftovers are cleaned at start)
JOURNAL = "journal.json"
LOCK = ".lock"  # held by the import that uses a staging folder (another process may be starting meanwhile)
LEFT_ALONE_SECONDS = {"staging": 120, "incoming": 6 * 3600}  # younger leftovers may still be in use
SPACE_MARGIN = 64 * 1024**2


class Importer:
    def __init__(self, db: SqlEngine, paths: Paths, history: HistoryService) -> None:
        self._db = db
        self._paths = paths
        self._history = history
        self._planner = ImportPlanner(db, paths)
        self._import_lock = threading.Lock()
        self._recover()

    @property
    def staging(self) -> Path:
        return self._paths.home / STAGING

    def import_project(self, source: Path | BinaryIO) -> ImportReport:
        """Import a project zip (a path or an open binary file): everything in it, or nothing and ProjectError."""
        with self._import_lock, ProjectReader(source) as reader:
            manifest = reader.manifest()
            plan = self._planner.plan(manifest)
            self._check_space(reader.expanded_size)
            staging = self.staging / uuid.uuid4().hex[:12]
            staging.mkdir(parents=True)
            try:
                with _held(staging):
                    moves = self._stage(reader, plan, staging)
                    self._commit(plan, moves, staging)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        self._history.revision += 1  # pages showing the history refresh
        assert plan.report is not None
        log.info("project imported: %s", plan.report.describe())
        return plan.report

    def incoming_path(self) -> Path:
        """Where a page puts an uploaded project before importing it (cleaned at the next start if left)."""
        self.staging.mkdir(parents=True, exist_ok=True)
        return self.staging / f"incoming-{uuid.uuid4().hex[:12]}.zip"

    def _check_space(self, needed: int) -> None:
        free = shutil.disk_usage(self._paths.home).free
        if free < needed + SPACE_MARGIN:
            raise ProjectError(f"Importing this project needs {(needed + SPACE_MARGIN) / 1024**3:.1f} GB of free "
                               f"space; the studio's disk has {free / 1024**3:.1f} GB. Free some space first.", 507)

    def _stage(self, reader: ProjectReader, plan: ImportPlan, staging: Path) -> list[tuple[Path, Path]]:
        """Extract every file into `staging`, checked; (staged, final) pairs."""
        moves = []
        for i, (ref, final, wav) in enumerate(plan.files):
            staged = staging / f"{i}{final.suffix}"
            reader.extract(ref, staged)
            if wav:
                _check_wav(staged, ref.path)
            moves.append((staged, final))
        return moves

    def _commit(self, plan: ImportPlan, moves: list[tuple[Path, Path]], staging: Path) -> None:
        """Place the files, then insert every row in one transaction; on any failure remove what was placed."""
        placed = [self._relative(p) for p in plan.folders] + [self._relative(final) for _, final in moves]
        (staging / JOURNAL).write_text(json.dumps({"placed": placed, "ids": plan.ids}))
        done: list[Path] = []
        try:
            for folder in plan.folders:
                folder.mkdir(parents=True)
                done.append(folder)
            for staged, final in moves:
                if final.exists():
                    raise FileExistsError(final)
                os.rename(staged, final)
                done.append(final)
            with self._db.begin() as connection:
                for table, rows in plan.rows.items():
                    if rows:
                        connection.execute(insert(table), rows)
        except BaseException as exc:
            for path in reversed(done):
                remove(path)
            if isinstance(exc, (IntegrityError, FileExistsError)):
                raise ProjectError("The studio changed while the project was being imported (a name or an id was "
                                   "taken meanwhile); nothing was imported. Import it again.", 409) from None
            raise

    def _recover(self) -> None:
        """Undo imports a crash cut short: files placed without their rows go; leftover uploads and staging too."""
        if not self.staging.is_dir():
            return
        for entry in self.staging.iterdir():
            age = time.time() - entry.stat().st_mtime
            if age < LEFT_ALONE_SECONDS["incoming" if entry.name.startswith("incoming-") else "staging"] \
                    or _in_use(entry):
                continue
            journal = entry / JOURNAL
            if journal.is_file():
                record = json.loads(journal.read_text())
                if not self._committed(record["ids"]):
                    for relative in record["placed"]:
                        path = (self._paths.home / relative).resolve()
                        if self._paths.home.resolve() in path.parents:
                            remove(path)
                    log.warning("removed the files of an import that a stop or crash interrupted")
            remove(entry)

    def _committed(self, ids: dict[str, list[str]]) -> bool:
        with self._db.connect() as connection:
            return any(existing(connection, column, ids.get(name, [])) for name, column in (
                ("profiles", PROFILES.c.id), ("samples", SAMPLES.c.id), ("uploads", UPLOADS.c.id),
                ("generations", G.id), ("rounds", V.round_id), ("comparisons", S.id)))

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self._paths.home))


def _check_wav(path: Path, name: str) -> None:
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        info = None
    if info is None or info.format != "WAV" or info.frames == 0:
        raise ProjectError(f"{name[:80]} in the project is not WAV audio; the project is damaged.")


@contextmanager
def _held(folder: Path) -> Iterator[None]:
    with open(folder / LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _in_use(folder: Path) -> bool:
    try:
        lock = open(folder / LOCK)
    except OSError:  # not a folder, or no lock: nobody holds it
        return False
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False
