"""Planning an import before anything is written: this studio's ids and names for the project's records, the
rows to insert and the files to place, every text checked with the rules the library and the history apply to
what a user types (studio/projects/importer.py then carries the plan out, all or nothing)."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Table, select
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SqlEngine

from ..history import HistoryError
from ..history.compare import GENERATION, VOTES, V, clip_key
from ..history.query import GENERATIONS, G
from ..history.saved import SAVED, S, checked_name
from ..history.service import MAX_NOTES_CHARS, clean_tags
from ..jobs.table import Job
from ..library import LibraryError
from ..library.records import MAX_DESCRIPTION, MAX_NAME, MAX_TRANSCRIPT, clean_text, language_code, profile_name
from ..library.tables import PROFILES, SAMPLES
from ..storage import Paths
from ..uploads import ACCEPTED_SUFFIXES, UPLOADS, safe_name
from .common import counted, existing, references_in, rows_where
from .errors import ProjectError
from .manifest import FileRef, Manifest

JOBS = Job.__table__
IMPORTED = " (imported)"


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
    comparisons: int = 0

    def describe(self) -> str:
        text = "Imported " + (counted(("voice", len(self.profiles)), ("sample", self.samples),
                                      ("generation", self.generations), ("clip", self.uploads),
                                      ("vote", self.votes), ("comparison", self.comparisons))
                              or "nothing (the project is empty)")
        renamed = [f"“{p.name_in_project}” as “{p.name}”" for p in self.profiles if p.renamed]
        return text + "." + (f" Names already taken: {', '.join(renamed)}." if renamed else "")


@dataclass(frozen=True)
class _Ids:
    """The project's ids mapped to this studio's (the same, or new where this studio uses them already)."""

    profiles: dict[str, str]
    samples: dict[str, str]
    uploads: dict[str, str]
    generations: dict[str, str]
    rounds: dict[str, str]
    comparisons: dict[str, str]

    @property
    def renewed(self) -> int:
        return sum(old != new for ids in (self.profiles, self.samples, self.uploads, self.generations, self.rounds,
                                          self.comparisons) for old, new in ids.items())


@dataclass
class ImportPlan:
    """An import worked out before anything is written: rows to insert, files to place, what to report."""

    rows: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    files: list[tuple[FileRef, Path, bool]] = field(default_factory=list)  # member, final path, must be a WAV
    folders: list[Path] = field(default_factory=list)  # made for the files (library/<id>, uploads/<id>)
    ids: dict[str, list[str]] = field(default_factory=dict)  # what the rows are, for the crash journal
    report: ImportReport | None = None


class ImportPlanner:
    def __init__(self, db: SqlEngine, paths: Paths) -> None:
        self._db = db
        self._paths = paths

    def plan(self, manifest: Manifest) -> ImportPlan:
        with self._db.connect() as connection:
            ids = self._new_ids(connection, manifest)
            taken_names = set(connection.execute(select(PROFILES.c.name_key)).scalars())
            elsewhere = self._files_elsewhere(connection, manifest, ids)
        plan = ImportPlan()
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
        comparisons = [{**record.model_dump(), "id": ids.comparisons[record.id],
                        "name": _checked(checked_name, record.name, f"comparison “{record.name[:40]}”"),
                        "clips": [_remapped_clip(key, ids.generations, ids.uploads) for key in record.clips]}
                       for record in manifest.comparisons]
        plan.rows = {PROFILES: profiles, SAMPLES: samples, UPLOADS: uploads, GENERATIONS: generations, VOTES: votes,
                     SAVED: comparisons}
        plan.ids = {"profiles": [p["id"] for p in profiles], "samples": [s["id"] for s in samples],
                    "uploads": [u["id"] for u in uploads], "generations": [g["id"] for g in generations],
                    "rounds": list(ids.rounds.values()), "comparisons": [c["id"] for c in comparisons]}
        plan.report = ImportReport(imported, len(samples), len(uploads), len(generations), len(votes), ids.renewed,
                                   len(comparisons))
        return plan

    def _new_ids(self, connection: Connection, manifest: Manifest) -> _Ids:
        """Each id of the project, kept, or renewed where this studio already uses it (as a row or a file)."""
        def ids(what: str, values: list[str], column: Column[Any], path_of: Callable[[str], Path] | None = None,
                also: Column[Any] | None = None) -> dict[str, str]:
            taken = existing(connection, column, values, path_of)
            return _new_ids(what, values, taken | (existing(connection, also, values) if also is not None else set()))

        return _Ids(ids("voice profile", [p.id for p in manifest.profiles], PROFILES.c.id),
                    ids("sample", [s.id for s in manifest.samples], SAMPLES.c.id, lambda i: self._paths.library / i),
                    ids("clip", [u.id for u in manifest.uploads], UPLOADS.c.id, lambda i: self._paths.uploads / i),
                    ids("generation", [g.id for g in manifest.generations], G.id,
                        lambda i: self._paths.generations / f"{i}.wav", also=JOBS.c.id),
                    ids("round", list(dict.fromkeys(v.round_id for v in manifest.votes)), V.round_id),
                    ids("comparison", [c.id for c in manifest.comparisons], S.id))

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

    def _sample_rows(self, manifest: Manifest, ids: _Ids, plan: ImportPlan) -> list[dict[str, Any]]:
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

    def _upload_rows(self, manifest: Manifest, ids: _Ids, plan: ImportPlan) -> list[dict[str, Any]]:
        rows = []
        for record in manifest.uploads:
            folder = self._paths.uploads / ids.uploads[record.id]
            files = self._plan_files(plan, folder, record.original, record.normalised, f"clip {record.id}")
            rows.append({**record.model_dump(exclude={"original", "normalised"}), **files,
                         "id": ids.uploads[record.id], "name": safe_name(record.name)})
        return rows

    def _plan_files(self, plan: ImportPlan, folder: Path, original: FileRef, normalised: FileRef,
                    what: str) -> dict[str, str]:
        """A sample's or an upload's folder and two files, planned; their paths as the row keeps them."""
        plan.folders.append(folder)
        paths = {"original": folder / f"original{_suffix(original, what)}", "normalised": folder / "normalised.wav"}
        plan.files += [(original, paths["original"], False), (normalised, paths["normalised"], True)]
        return {key: self._relative(path) for key, path in paths.items()}

    def _generation_rows(self, manifest: Manifest, ids: _Ids, plan: ImportPlan,
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
            for ref in references_in(record.inputs):
                for kind, ours in (("sample", ids.samples), ("upload", ids.uploads)):
                    if isinstance(ref.get(kind), str) and ref[kind] not in ours:
                        wanted[kind].add(ref[kind])
        found = {("sample", r.id): self._paths.home / r.normalised
                 for r in rows_where(connection, SAMPLES, SAMPLES.c.id, wanted["sample"])}
        found.update({("upload", r.id): self._paths.home / r.normalised
                      for r in rows_where(connection, UPLOADS, UPLOADS.c.id, wanted["upload"])})
        return found

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self._paths.home))


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
