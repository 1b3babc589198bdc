"""ProjectService: a selection of the studio exported as one zip, and such a zip imported (all or nothing).

The format, what an export holds and what an import does are described in studio/projects/__init__.py.
Rows are read and written with the tables' own definitions, so a round trip keeps every column; text is
checked on the way in with the rules the library and the history apply to what a user types.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import soundfile as sf
from pydantic import ValidationError
from sqlalchemy import Column, Table, insert, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import IntegrityError

from .. import __version__
from ..history import HistoryError, HistoryService
from ..history.compare import GENERATION, UPLOAD, VOTES, V, clip_key
from ..history.query import GENERATIONS, G
from ..history.service import MAX_NOTES_CHARS, clean_tags
from ..jobs.table import Job
from ..library import LibraryError, LibraryService, NotFound
from ..library.service import MAX_DESCRIPTION, MAX_NAME, MAX_TRANSCRIPT, clean_text, language_code, profile_name
from ..library.tables import PROFILES, SAMPLES
from ..storage import Paths, atomic_write
from ..uploads import ACCEPTED_SUFFIXES, UPLOADS, safe_name
from .archive import ProjectReader, ProjectWriter
from .errors import ProjectError
from .manifest import (FileRef, GenerationRecord, Manifest, ProfileRecord, Record, SampleRecord, UploadRecord,
                       VoteRecord)

log = logging.getLogger(__name__)

JOBS = Job.__table__
MAX_PROJECT_BYTES = 4 * 1024**3  # the largest project zip the studio takes in over HTTP or from the page
STAGING = ".imports"  # under STUDIO_HOME: imports in progress (a crash's leftovers are cleaned at start)
JOURNAL = "journal.json"
LOCK = ".lock"  # held by the import that uses a staging folder (another process may be starting meanwhile)
LEFT_ALONE_SECONDS = {"staging": 120, "incoming": 6 * 3600}  # younger leftovers may still be in use
EXPORTS = "projects"  # under STUDIO_HOME/exports: zips made for a download, one folder each
KEEP_EXPORTS_SECONDS = 3600
SPACE_MARGIN = 64 * 1024**2
CHUNK = 500  # ids per IN (...) query
IMPORTED = " (imported)"
R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class Selection:
    """What to export: voice profiles (ids or names) and generations (ids), or everything in the studio."""

    profiles: tuple[str, ...] = ()
    generations: tuple[str, ...] = ()
    everything: bool = False


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    profiles: int
    samples: int
    uploads: int
    generations: int
    votes: int

    def describe(self) -> str:
        return _counted(("voice", self.profiles), ("sample", self.samples), ("generation", self.generations),
                        ("clip", self.uploads), ("vote", self.votes))


@dataclass(frozen=True)
class ImportedProfile:
    id: str
    name: str  # as it is called in this studio
    name_in_project: str

    @property
    def renamed(self) -> bool:
        return self.name != self.name_in_project


@dataclass(frozen=True)
class ImportReport:
    profiles: list[ImportedProfile]
    samples: int
    uploads: int
    generations: int
    votes: int
    new_ids: int  # ids already used in this studio, given new ones

    def describe(self) -> str:
        text = "Imported " + (_counted(("voice", len(self.profiles)), ("sample", self.samples),
                                       ("generation", self.generations), ("clip", self.uploads),
                                       ("vote", self.votes)) or "nothing (the project is empty)")
        renamed = [f"“{p.name_in_project}” as “{p.name}”" for p in self.profiles if p.renamed]
        return text + "." + (f" Names already taken: {', '.join(renamed)}." if renamed else "")


def _counted(*counts: tuple[str, int]) -> str:
    parts = [f"{n} {what}{'s' if n != 1 else ''}" for what, n in counts if n]
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] if parts else ""


@dataclass
class _Gathered:
    profiles: list[Row[Any]]
    samples: list[Row[Any]]
    uploads: list[Row[Any]]
    generations: list[Row[Any]]
    votes: list[Row[Any]]


@dataclass(frozen=True)
class _Ids:
    """The project's ids mapped to this studio's (the same, or new where this studio uses them already)."""

    profiles: dict[str, str]
    samples: dict[str, str]
    uploads: dict[str, str]
    generations: dict[str, str]
    rounds: dict[str, str]

    @property
    def renewed(self) -> int:
        return sum(old != new for ids in (self.profiles, self.samples, self.uploads, self.generations, self.rounds)
                   for old, new in ids.items())


@dataclass
class _Plan:
    """An import worked out before anything is written: rows to insert, files to place, what to report."""

    rows: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    files: list[tuple[FileRef, Path, bool]] = field(default_factory=list)  # member, final path, must be a WAV
    folders: list[Path] = field(default_factory=list)  # made for the files (library/<id>, uploads/<id>)
    ids: dict[str, list[str]] = field(default_factory=dict)  # what the rows are, for the crash journal
    report: ImportReport | None = None


class ProjectService:
    def __init__(self, db: SqlEngine, paths: Paths, library: LibraryService, history: HistoryService) -> None:
        self._db = db
        self._paths = paths
        self._library = library
        self._history = history
        self._import_lock = threading.Lock()
        self._recover()

    @property
    def staging(self) -> Path:
        return self._paths.home / STAGING

    # -- export --------------------------------------------------------------------------------------------

    def export(self, selection: Selection, target: Path) -> ExportSummary:
        """Write the selection to `target` (atomically) as a project zip."""
        found = self._gather(selection)
        counts: dict[str, int] = {}

        def write(tmp: Path) -> None:
            writer = ProjectWriter(tmp)
            try:
                manifest = Manifest(created_at=time.time(), studio_version=__version__,
                                    profiles=[_record(ProfileRecord, row) for row in found.profiles],
                                    samples=[self._sample_record(writer, row) for row in found.samples],
                                    uploads=[self._upload_record(writer, row) for row in found.uploads],
                                    generations=[self._generation_record(writer, row) for row in found.generations],
                                    votes=[_record(VoteRecord, row) for row in found.votes])
                writer.add_manifest(manifest)
            finally:
                writer.close()
            counts.update(profiles=len(manifest.profiles), samples=len(manifest.samples),
                          uploads=len(manifest.uploads), generations=len(manifest.generations),
                          votes=len(manifest.votes))

        atomic_write(target, write)
        return ExportSummary(target, **counts)

    def export_file(self, selection: Selection) -> ExportSummary:
        """Export for a download: into exports/projects/<token>/ (`exported(token)` finds it; it goes after an
        hour, or when `discard_export` is called once it was sent)."""
        root = self._paths.exports / EXPORTS
        self._prune_exports(root)
        folder = root / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        try:
            return self.export(selection, folder / f"amphion-studio-project-{time.strftime('%Y%m%d-%H%M%S')}.zip")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def exported(self, token: str) -> Path | None:
        """The zip `export_file` made under `token` (its folder's name), or None."""
        folder = self._paths.exports / EXPORTS / token
        found = sorted(folder.glob("*.zip")) if re.fullmatch(r"[0-9a-f]{12}", token) else []
        return found[0] if found else None

    def discard_export(self, path: Path) -> None:
        shutil.rmtree(path.parent, ignore_errors=True)

    def _gather(self, selection: Selection) -> _Gathered:
        if not (selection.everything or selection.profiles or selection.generations):
            raise ProjectError("Choose what to export: voice profiles, generations, or everything.")
        with self._db.connect() as connection:
            if selection.everything:
                profile_ids = set(connection.execute(select(PROFILES.c.id)).scalars())
                generations = connection.execute(select(GENERATIONS).order_by(G.created_at)).all()
                votes = connection.execute(select(VOTES).order_by(V.seq)).all()
            else:
                profile_ids = {self._profile_id(key) for key in selection.profiles}
                groups = {self._group_of(connection, generation_id) for generation_id in selection.generations}
                generations = sorted(_rows(connection, GENERATIONS, G.id, groups)
                                     + _rows(connection, GENERATIONS, G.original_id, groups),
                                     key=lambda r: r.created_at)
                keys = [clip_key(GENERATION, row.id) for row in generations]
                rounds = {r for chunk in _chunks(keys) for r in connection.execute(
                    select(V.round_id).distinct().where(V.item.in_(chunk))).scalars()}
                votes = sorted(_rows(connection, VOTES, V.round_id, rounds), key=lambda r: r.seq)
            sample_refs, upload_refs = set(), {v.item.partition(":")[2] for v in votes if v.item.startswith(UPLOAD)}
            for row in generations:
                profile_ids.update(filter(None, [row.profile_id]))
                for ref in _references(row.inputs):
                    profile_ids.update(filter(None, [ref.get("profile")]))
                    sample_refs.update(filter(None, [ref.get("sample")]))
                    upload_refs.update(filter(None, [ref.get("upload")]))
            profile_ids.update(r.profile_id for r in _rows(connection, SAMPLES, SAMPLES.c.id, sample_refs))
            profiles = sorted(_rows(connection, PROFILES, PROFILES.c.id, profile_ids), key=lambda r: r.name_key)
            samples = sorted(_rows(connection, SAMPLES, SAMPLES.c.profile_id, [p.id for p in profiles]),
                             key=lambda r: r.created_at)
            uploads = sorted(_rows(connection, UPLOADS, UPLOADS.c.id, upload_refs), key=lambda r: r.created_at)
        return _Gathered(profiles, samples, uploads, generations, votes)

    def _profile_id(self, key: str) -> str:
        try:
            return self._library.profile(key).id
        except NotFound:
            found = self._library.profile_by_name(key)
            if found is None:
                raise ProjectError(f"There is no voice profile {key!r} (give its id or its name).", 404) from None
            return found.id

    @staticmethod
    def _group_of(connection: Connection, generation_id: str) -> str:
        row = connection.execute(select(G.id, G.original_id).where(G.id == generation_id)).first()
        if row is None:
            raise ProjectError(f"No generation {generation_id} in the history.", 404)
        return row.original_id or row.id

    def _file(self, writer: ProjectWriter, name: str, relative: str, what: str) -> FileRef:
        try:
            return writer.add_file(name, self._paths.home / relative)
        except FileNotFoundError:
            raise ProjectError(f"The audio of {what} is missing from the studio ({relative}); delete it, or leave it "
                               f"out of the export.", 409) from None

    def _sample_record(self, writer: ProjectWriter, row: Row[Any]) -> SampleRecord:
        what = f"the sample “{row.name}”"
        return _record(SampleRecord, row, original=self._file(
            writer, f"samples/{row.id}/original{Path(row.original).suffix.lower()}", row.original, what),
            normalised=self._file(writer, f"samples/{row.id}/normalised.wav", row.normalised, what))

    def _upload_record(self, writer: ProjectWriter, row: Row[Any]) -> UploadRecord:
        what = f"the clip “{row.name}”"
        return _record(UploadRecord, row, original=self._file(
            writer, f"uploads/{row.id}/original{Path(row.original).suffix.lower()}", row.original, what),
            normalised=self._file(writer, f"uploads/{row.id}/normalised.wav", row.normalised, what))

    def _generation_record(self, writer: ProjectWriter, row: Row[Any]) -> GenerationRecord:
        audio = self._file(writer, f"generations/{row.id}.wav", row.audio, f"the generation “{row.title}”")
        inputs = {slot: {k: v for k, v in value.items() if k != "path"} if isinstance(value, dict) else value
                  for slot, value in row.inputs.items()}  # paths are this studio's; references say it all
        return _record(GenerationRecord, row, inputs=inputs, audio=audio)

    def _prune_exports(self, root: Path) -> None:
        for old in root.glob("*") if root.is_dir() else ():
            if time.time() - old.stat().st_mtime > KEEP_EXPORTS_SECONDS:
                _remove(old)

    # -- import --------------------------------------------------------------------------------------------

    def import_project(self, source: Path | BinaryIO) -> ImportReport:
        """Import a project zip (a path or an open binary file): everything in it, or nothing and ProjectError."""
        with self._import_lock, ProjectReader(source) as reader:
            manifest = reader.manifest()
            plan = self._plan(manifest)
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

    def _plan(self, manifest: Manifest) -> _Plan:
        with self._db.connect() as connection:
            ids = self._new_ids(connection, manifest)
            taken_names = set(connection.execute(select(PROFILES.c.name_key)).scalars())
            elsewhere = self._files_elsewhere(connection, manifest, ids)
        plan = _Plan()
        profiles, imported = self._profile_rows(manifest, ids, taken_names)
        samples = self._sample_rows(manifest, ids, plan)
        uploads = self._upload_rows(manifest, ids, plan)
        located = {**elsewhere, **{("sample", ids.samples[s.id]): self._paths.library / ids.samples[s.id]
                                   / "normalised.wav" for s in manifest.samples},
                   **{("upload", ids.uploads[u.id]): self._paths.uploads / ids.uploads[u.id] / "normalised.wav"
                      for u in manifest.uploads}}
        generations = self._generation_rows(manifest, ids, plan, located)
        votes = [{**record.model_dump(), "round_id": ids.rounds[record.round_id],
                  "item": _remapped_clip(record.item, ids.generations, ids.uploads),
                  "profile_id": _mapped(ids.profiles, record.profile_id)} for record in manifest.votes]
        plan.rows = {PROFILES: profiles, SAMPLES: samples, UPLOADS: uploads, GENERATIONS: generations, VOTES: votes}
        plan.ids = {"profiles": [p["id"] for p in profiles], "samples": [s["id"] for s in samples],
                    "uploads": [u["id"] for u in uploads], "generations": [g["id"] for g in generations],
                    "rounds": list(ids.rounds.values())}
        plan.report = ImportReport(imported, len(samples), len(uploads), len(generations), len(votes), ids.renewed)
        return plan

    def _new_ids(self, connection: Connection, manifest: Manifest) -> _Ids:
        """Each id of the project, kept, or renewed where this studio already uses it (as a row or a file)."""
        def ids(what: str, values: list[str], column: Column[Any], path_of: Callable[[str], Path] | None = None,
                also: Column[Any] | None = None) -> dict[str, str]:
            taken = _existing(connection, column, values, path_of)
            return _new_ids(what, values, taken | (_existing(connection, also, values) if also is not None else set()))

        return _Ids(ids("voice profile", [p.id for p in manifest.profiles], PROFILES.c.id),
                    ids("sample", [s.id for s in manifest.samples], SAMPLES.c.id, lambda i: self._paths.library / i),
                    ids("clip", [u.id for u in manifest.uploads], UPLOADS.c.id, lambda i: self._paths.uploads / i),
                    ids("generation", [g.id for g in manifest.generations], G.id,
                        lambda i: self._paths.generations / f"{i}.wav", also=JOBS.c.id),
                    ids("round", list(dict.fromkeys(v.round_id for v in manifest.votes)), V.round_id))

    @staticmethod
    def _profile_rows(manifest: Manifest, ids: _Ids,
                      taken_names: set[str]) -> tuple[list[dict[str, Any]], list[ImportedProfile]]:
        rows, imported = [], []
        for record in manifest.profiles:
            name = _free_name(_checked(profile_name, record.name, f"voice “{record.name[:40]}”"), taken_names)
            rows.append({**record.model_dump(), "id": ids.profiles[record.id], "name": name,
                         "name_key": name.casefold(),
                         "language": _checked(language_code, record.language, f"voice “{name}”"),
                         "description": _checked(clean_text, record.description, f"voice “{name}”",
                                                 MAX_DESCRIPTION, "The description")})
            imported.append(ImportedProfile(ids.profiles[record.id], name, record.name))
        return rows, imported

    def _sample_rows(self, manifest: Manifest, ids: _Ids, plan: _Plan) -> list[dict[str, Any]]:
        rows = []
        sources = {"fix": ids.samples, "generation": ids.generations, "upload": ids.uploads,
                   "recording": ids.uploads}  # what a sample's source_ref names
        for record in manifest.samples:
            if record.profile_id not in ids.profiles:
                raise ProjectError(f"The project is inconsistent: sample {record.id} belongs to voice profile "
                                   f"{record.profile_id}, which is not in it.")
            folder = self._paths.library / ids.samples[record.id]
            files = self._plan_files(plan, folder, record.original, record.normalised, f"sample {record.id}")
            what = f"sample “{record.name[:40]}”"
            rows.append({**record.model_dump(exclude={"original", "normalised"}), **files,
                         "id": ids.samples[record.id], "profile_id": ids.profiles[record.profile_id],
                         "audio_hash": record.normalised.sha256,
                         "name": _checked(clean_text, record.name, what, 255, "The name") or "sample",
                         "transcript": _checked(clean_text, record.transcript, what, MAX_TRANSCRIPT, "The transcript"),
                         "source_ref": _mapped(sources.get(record.source, {}), record.source_ref),
                         "root_id": _mapped(ids.samples, record.root_id),
                         "parent_id": _mapped(ids.samples, record.parent_id)})
        return rows

    def _upload_rows(self, manifest: Manifest, ids: _Ids, plan: _Plan) -> list[dict[str, Any]]:
        rows = []
        for record in manifest.uploads:
            folder = self._paths.uploads / ids.uploads[record.id]
            files = self._plan_files(plan, folder, record.original, record.normalised, f"clip {record.id}")
            rows.append({**record.model_dump(exclude={"original", "normalised"}), **files,
                         "id": ids.uploads[record.id], "name": safe_name(record.name)})
        return rows

    def _plan_files(self, plan: _Plan, folder: Path, original: FileRef, normalised: FileRef,
                    what: str) -> dict[str, str]:
        """A sample's or an upload's folder and two files, planned; their paths as the row keeps them."""
        plan.folders.append(folder)
        paths = {"original": folder / f"original{_suffix(original, what)}", "normalised": folder / "normalised.wav"}
        plan.files += [(original, paths["original"], False), (normalised, paths["normalised"], True)]
        return {key: self._relative(path) for key, path in paths.items()}

    def _generation_rows(self, manifest: Manifest, ids: _Ids, plan: _Plan,
                         located: dict[tuple[str, str], Path]) -> list[dict[str, Any]]:
        rows = []
        maps = {"profile": ids.profiles, "sample": ids.samples, "upload": ids.uploads}
        for record in manifest.generations:
            if record.original_id is not None and record.original_id not in ids.generations:
                raise ProjectError(f"The project is inconsistent: generation {record.id} is a take of "
                                   f"{record.original_id}, which is not in it.")
            audio = self._paths.generations / f"{ids.generations[record.id]}.wav"
            plan.files.append((record.audio, audio, True))
            what = f"generation {record.id}"
            rows.append({**record.model_dump(exclude={"audio"}), "id": ids.generations[record.id],
                         "audio": self._relative(audio), "original_id": _mapped(ids.generations, record.original_id),
                         "profile_id": _mapped(ids.profiles, record.profile_id),
                         "inputs": _located_inputs(record.inputs, maps, located),
                         "tags": _checked(clean_tags, record.tags, what),
                         "notes": _checked(_checked_notes, record.notes, what)})
        return rows

    def _files_elsewhere(self, connection: Connection, manifest: Manifest,
                         ids: _Ids) -> dict[tuple[str, str], Path]:
        """The files of samples and uploads that generations refer to and this studio already has."""
        wanted: dict[str, set[str]] = {"sample": set(), "upload": set()}
        for record in manifest.generations:
            for ref in _references(record.inputs):
                for kind, ours in (("sample", ids.samples), ("upload", ids.uploads)):
                    if isinstance(ref.get(kind), str) and ref[kind] not in ours:
                        wanted[kind].add(ref[kind])
        found = {("sample", r.id): self._paths.home / r.normalised
                 for r in _rows(connection, SAMPLES, SAMPLES.c.id, wanted["sample"])}
        found.update({("upload", r.id): self._paths.home / r.normalised
                      for r in _rows(connection, UPLOADS, UPLOADS.c.id, wanted["upload"])})
        return found

    def _stage(self, reader: ProjectReader, plan: _Plan, staging: Path) -> list[tuple[Path, Path]]:
        """Extract every file into `staging`, checked; (staged, final) pairs."""
        moves = []
        for i, (ref, final, wav) in enumerate(plan.files):
            staged = staging / f"{i}{final.suffix}"
            reader.extract(ref, staged)
            if wav:
                _check_wav(staged, ref.path)
            moves.append((staged, final))
        return moves

    def _commit(self, plan: _Plan, moves: list[tuple[Path, Path]], staging: Path) -> None:
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
                _remove(path)
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
                            _remove(path)
                    log.warning("removed the files of an import that a stop or crash interrupted")
            _remove(entry)

    def _committed(self, ids: dict[str, list[str]]) -> bool:
        with self._db.connect() as connection:
            return any(_existing(connection, column, ids.get(name, [])) for name, column in (
                ("profiles", PROFILES.c.id), ("samples", SAMPLES.c.id), ("uploads", UPLOADS.c.id),
                ("generations", G.id), ("rounds", V.round_id)))

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self._paths.home))


# -- helpers -------------------------------------------------------------------------------------------------


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    values = list(values)
    for i in range(0, len(values), CHUNK):
        yield values[i:i + CHUNK]


def _rows(connection: Connection, table: Table, column: Column[Any], values: Iterable[str]) -> list[Row[Any]]:
    return [row for chunk in _chunks(values) for row in connection.execute(select(table).where(column.in_(chunk)))]


def _existing(connection: Connection, column: Column[Any], values: Iterable[str],
              path_of: Callable[[str], Path] | None = None) -> set[str]:
    """Which of `values` this studio already uses: as a row, or (with `path_of`) as a file or folder."""
    values = list(values)
    found = {v for chunk in _chunks(values) for v in connection.execute(
        select(column).where(column.in_(chunk))).scalars()}
    return found | ({v for v in values if path_of(v).exists()} if path_of else set())


def _new_ids(what: str, ids: list[str], taken: set[str]) -> dict[str, str]:
    """Each id mapped to itself, or to a fresh one where this studio already uses it."""
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise ProjectError(f"The project is inconsistent: {what} {duplicate} appears twice.")
    used = set(ids) | taken
    mapping = {}
    for old in ids:
        if old in taken:
            new = uuid.uuid4().hex[:12]
            while new in used:
                new = uuid.uuid4().hex[:12]
            used.add(new)
            mapping[old] = new
        else:
            mapping[old] = old
    return mapping


def _free_name(name: str, taken: set[str]) -> str:
    """`name`, or "name (imported)", "name (imported 2)", ... : the first this studio does not have (any case)."""
    candidate, n = name, 1
    while candidate.casefold() in taken:
        suffix = IMPORTED if n == 1 else f"{IMPORTED[:-1]} {n})"
        candidate = name[:MAX_NAME - len(suffix)].rstrip() + suffix
        n += 1
    taken.add(candidate.casefold())
    return candidate


def _checked(check: Callable[..., Any], value: Any, what: str, *args: Any) -> Any:
    """`check(value, *args)`, its refusal turned into the project's, naming the record."""
    try:
        return check(value, *args)
    except (LibraryError, HistoryError) as exc:
        raise ProjectError(f"The project's {what} cannot be imported: {exc}") from None


def _checked_notes(notes: str) -> str:
    if len(notes) > MAX_NOTES_CHARS:
        raise HistoryError(f"Notes: {len(notes):,} characters is more than the {MAX_NOTES_CHARS:,} kept.")
    return notes


def _suffix(ref: FileRef, what: str) -> str:
    suffix = Path(ref.path).suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise ProjectError(f"The project's {what} has a file of an unknown type ({ref.path[:80]}).")
    return suffix


def _check_wav(path: Path, name: str) -> None:
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        info = None
    if info is None or info.format != "WAV" or info.frames == 0:
        raise ProjectError(f"{name[:80]} in the project is not WAV audio; the project is damaged.")


def _references(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    return [value for value in inputs.values() if isinstance(value, dict)]


def _located_inputs(inputs: dict[str, Any], maps: dict[str, dict[str, str]],
                    located: dict[tuple[str, str], Path]) -> dict[str, Any]:
    """Inputs with each reference's ids remapped and its file put back where this studio has it (no file when
    it has none: re-running then says the clip is missing)."""
    result = {}
    for slot, value in inputs.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "path"}
            for kind, mapping in maps.items():
                if isinstance(value.get(kind), str):
                    value[kind] = mapping.get(value[kind], value[kind])
            path = next((located[(kind, value[kind])] for kind in ("sample", "upload")
                         if (kind, value.get(kind)) in located), None)
            if path is not None:
                value["path"] = str(path)
        result[slot] = value
    return result


def _mapped(ids: dict[str, str], value: str | None) -> str | None:
    """A reference through an id map; one to something outside the project stays as it is."""
    return ids.get(value, value) if value else value


def _remapped_clip(item: str, generations: dict[str, str], uploads: dict[str, str]) -> str:
    kind, _, item_id = item.partition(":")
    return clip_key(kind, (generations if kind == GENERATION else uploads).get(item_id, item_id))


def _record(model: type[R], row: Row[Any], **files: Any) -> R:
    try:
        return model.model_validate({**row._mapping, **files})
    except ValidationError as exc:
        error = exc.errors()[0]
        what = f"{model.__name__.removesuffix('Record').lower()} {getattr(row, 'id', None) or row.round_id}"
        raise ProjectError(f"The {what} cannot be exported: its {'.'.join(map(str, error['loc']))} is "
                           f"{error['input']!r} ({error['msg']}).", 500) from None


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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
