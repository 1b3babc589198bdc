"""Exporting: a selection of the studio gathered (with everything it refers to) and written as one project zip.

What an export holds is described in studio/projects/__init__.py. Rows are read with the tables' own
definitions, so every column goes into the manifest.
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.engine import Engine as SqlEngine

from .. import __version__
from ..history.compare import GENERATION, MIN_SAVED_CLIPS, UPLOAD, VOTES, Comparisons, V, clip_key
from ..history.query import GENERATIONS, G, HistoryError
from ..history.saved import Saved, SavedComparisons
from ..library import LibraryService, NotFound
from ..library.tables import PROFILES, SAMPLES
from ..storage import Paths, atomic_write
from ..uploads import UPLOADS
from .archive import ProjectWriter
from .common import counted, references_in, remove, rows_where
from .errors import ProjectError
from .manifest import (ComparisonRecord, FileRef, GenerationRecord, Manifest, ProfileRecord, Record, SampleRecord,
                       UploadRecord, VoteRecord)

EXPORTS = "projects"  # under STUDIO_HOME/exports: zips made for a download, one folder each
KEEP_EXPORTS_SECONDS = 3600
R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class Selection:
    """What to export: voice profiles (ids or names), generations and saved comparisons (ids), or everything."""

    profiles: tuple[str, ...] = ()
    generations: tuple[str, ...] = ()
    everything: bool = False
    comparisons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    profiles: int
    samples: int
    uploads: int
    generations: int
    votes: int
    comparisons: int = 0

    def describe(self) -> str:
        return counted(("voice", self.profiles), ("sample", self.samples), ("generation", self.generations),
                       ("clip", self.uploads), ("vote", self.votes), ("comparison", self.comparisons))


@dataclass
class _Gathered:
    profiles: list[Row[Any]]
    samples: list[Row[Any]]
    uploads: list[Row[Any]]
    generations: list[Row[Any]]
    votes: list[Row[Any]]
    comparisons: list[Saved]


class Exporter:
    def __init__(self, db: SqlEngine, paths: Paths, library: LibraryService, comparisons: Comparisons,
                 saved: SavedComparisons) -> None:
        self._db = db
        self._paths = paths
        self._library = library
        self._comparisons = comparisons
        self._saved = saved

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
                                    votes=[_record(VoteRecord, row) for row in found.votes],
                                    comparisons=[_comparison_record(row, found) for row in found.comparisons])
                writer.add_manifest(manifest)
            finally:
                writer.close()
            counts.update(profiles=len(manifest.profiles), samples=len(manifest.samples),
                          uploads=len(manifest.uploads), generations=len(manifest.generations),
                          votes=len(manifest.votes), comparisons=len(manifest.comparisons))

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
        if not (selection.everything or selection.profiles or selection.generations or selection.comparisons):
            raise ProjectError("Choose what to export: voice profiles, generations, comparisons, or everything.")
        with self._db.connect() as connection:
            if selection.everything:
                profile_ids = set(connection.execute(select(PROFILES.c.id)).scalars())
                generations = connection.execute(select(GENERATIONS).order_by(G.created_at)).all()
                votes = connection.execute(select(VOTES).order_by(V.seq)).all()
                comparisons = sorted(self._saved.list(), key=lambda saved: saved.created_at)
            else:
                profile_ids = {self._profile_id(key) for key in selection.profiles}
                comparisons = [self._comparison(key) for key in dict.fromkeys(selection.comparisons)]
                compared = [row.id for row in rows_where(connection, GENERATIONS, G.id, _clip_ids(comparisons,
                                                                                                  GENERATION))]
                groups = {self._group_of(connection, generation_id)
                          for generation_id in [*selection.generations, *compared]}
                generations = sorted(rows_where(connection, GENERATIONS, G.id, groups)
                                     + rows_where(connection, GENERATIONS, G.original_id, groups),
                                     key=lambda r: r.created_at)
                rounds = self._comparisons.rounds_using(*(clip_key(GENERATION, row.id) for row in generations))
                votes = sorted(rows_where(connection, VOTES, V.round_id, rounds), key=lambda r: r.seq)
            sample_refs = set()
            upload_refs = {v.item.partition(":")[2] for v in votes if v.item.startswith(UPLOAD)} \
                | set(_clip_ids(comparisons, UPLOAD))
            for row in generations:
                profile_ids.update(filter(None, [row.profile_id]))
                for ref in references_in(row.inputs):
                    profile_ids.update(filter(None, [ref.get("profile")]))
                    sample_refs.update(filter(None, [ref.get("sample")]))
                    upload_refs.update(filter(None, [ref.get("upload")]))
            profile_ids.update(r.profile_id for r in rows_where(connection, SAMPLES, SAMPLES.c.id, sample_refs))
            profiles = sorted(rows_where(connection, PROFILES, PROFILES.c.id, profile_ids), key=lambda r: r.name_key)
            samples = sorted(rows_where(connection, SAMPLES, SAMPLES.c.profile_id, [p.id for p in profiles]),
                             key=lambda r: r.created_at)
            uploads = sorted(rows_where(connection, UPLOADS, UPLOADS.c.id, upload_refs), key=lambda r: r.created_at)
        return _Gathered(profiles, samples, uploads, generations, votes, comparisons)

    def _comparison(self, comparison_id: str) -> Saved:
        try:
            return self._saved.get(comparison_id)
        except HistoryError as exc:
            raise ProjectError(str(exc), exc.status) from None

    def _profile_id(self, key: str) -> str:
        try:
            return self._library.find_profile(key).id
        except NotFound as exc:
            raise ProjectError(str(exc), 404) from None

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
                remove(old)


def _clip_ids(comparisons: list[Saved], kind: str) -> list[str]:
    """The ids of the clips of `kind` ("generation" or "upload") the comparisons hold."""
    return [key.partition(":")[2] for row in comparisons for key in row.clips if key.partition(":")[0] == kind]


def _comparison_record(saved: Saved, found: _Gathered) -> ComparisonRecord:
    """The comparison with the clips the project holds (a clip deleted since is left out); ProjectError when
    fewer than a comparison needs are left."""
    exported = {clip_key(GENERATION, g.id) for g in found.generations} | {clip_key(UPLOAD, u.id) for u in found.uploads}
    clips = [key for key in saved.clips if key in exported]
    if len(clips) < MIN_SAVED_CLIPS:
        left = f"{len(clips)} clip{'s' if len(clips) != 1 else ''}"
        raise ProjectError(f"The saved comparison “{saved.name}” has only {left} left (the others were deleted) and a "
                           f"comparison needs at least {MIN_SAVED_CLIPS}: delete it on the Compare page or leave it "
                           f"out of the export.", 409)
    return _record(ComparisonRecord, saved, clips=clips)


def _record(model: type[R], row: Row[Any] | Saved, **files: Any) -> R:
    """`row` (a table's row, or a saved comparison) as a manifest record, with `files` in place of its paths."""
    try:
        return model.model_validate({**(dataclasses.asdict(row) if isinstance(row, Saved) else row._mapping), **files})
    except ValidationError as exc:
        error = exc.errors()[0]
        what = f"{model.__name__.removesuffix('Record').lower()} {getattr(row, 'id', None) or row.round_id}"
        raise ProjectError(f"The {what} cannot be exported: its {'.'.join(map(str, error['loc']))} is "
                           f"{error['input']!r} ({error['msg']}).", 500) from None
