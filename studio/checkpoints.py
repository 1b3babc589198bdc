"""The user's own checkpoints: recipe models trained on the Training page or brought from elsewhere, added from
an archive (zip, tar, tar.gz) or a folder, listed and removed.

They live where the engines look for them, <STUDIO_HOME>/checkpoints/<engine id>/<name>/ (one folder per
checkpoint, as Amphion's trainers write experiments). An engine that takes them declares a `checkpoint_problems
(folder)` method; what it finds wrong refuses the import with its words, and nothing half-copied stays behind.
"""
from __future__ import annotations

import re
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.contract import Engine, InvalidRequest
from engines.registry import Registry
from engines.requirements import format_bytes

from .storage import Paths

ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz")
NAME = re.compile(r"^[\w][\w.+\-]{0,79}$")


@dataclass(frozen=True)
class Checkpoint:
    engine_id: str
    name: str
    path: Path
    size_bytes: int


class CheckpointService:
    def __init__(self, registry: Registry, paths: Paths) -> None:
        self.registry = registry
        self.paths = paths

    def folder(self, engine_id: str) -> Path:
        return self.paths.home / "checkpoints" / engine_id

    def engine(self, engine_id: str) -> Engine:
        """The engine, if it takes the user's checkpoints; InvalidRequest otherwise."""
        if engine_id not in self.registry:
            raise InvalidRequest(f"There is no engine {engine_id!r}.")
        engine = self.registry.get(engine_id)
        if not callable(getattr(engine, "checkpoint_problems", None)):
            takers = [e.id for e in self.registry if callable(getattr(e, "checkpoint_problems", None))]
            raise InvalidRequest(f"{engine.name} does not take checkpoints of your own. Engines that do: "
                                 f"{', '.join(takers) or 'none'}.")
        return engine

    def list(self, engine_id: str) -> list[Checkpoint]:
        self.engine(engine_id)
        folder = self.folder(engine_id)
        found = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")] if folder.is_dir() else []
        found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        return [Checkpoint(engine_id, p.name, p, _size(p)) for p in found]

    def add(self, engine_id: str, source: Path, name: str | None = None) -> Checkpoint:
        """Copy a checkpoint folder, or unpack an archive of one, into the engine's checkpoints. Its name is
        `name`, else the folder's (the one an archive wraps it in), else the archive's."""
        engine = self.engine(engine_id)
        source = Path(source)
        if name is not None and not NAME.match(name):
            raise InvalidRequest(_bad_name(name))
        parent = self.folder(engine_id)
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".adding-", dir=parent))
        try:
            content = staging / _stem(source)
            if source.is_dir():
                shutil.copytree(source, content, symlinks=False)
            elif source.name.lower().endswith(ARCHIVES):
                _unpack(source, content, parent)
            else:
                raise InvalidRequest(f"{source.name}: give a checkpoint folder, or an archive of one "
                                     f"({', '.join(ARCHIVES)}).")
            root = _root(content)
            name = name or root.name
            if not NAME.match(name):
                raise InvalidRequest(_bad_name(name))
            target = parent / name
            if target.exists():
                raise InvalidRequest(f"{engine.name} already has a checkpoint named {name!r}; choose another name, "
                                     f"or remove that one first.")
            problems = engine.checkpoint_problems(root)  # type: ignore[attr-defined]
            if problems:
                raise InvalidRequest(f"{engine.name} cannot use this checkpoint: {' '.join(problems)}")
            root.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return Checkpoint(engine_id, name, target, _size(target))

    def remove(self, engine_id: str, name: str) -> int:
        """Delete a checkpoint; returns the bytes freed."""
        self.engine(engine_id)
        target = self.folder(engine_id) / name
        if not NAME.match(name) or not target.is_dir():
            raise InvalidRequest(f"There is no checkpoint {name!r} of {engine_id}.")
        freed = _size(target)
        shutil.rmtree(target)
        return freed


def _bad_name(name: str) -> str:
    return f"{name!r} cannot name a checkpoint: use letters, digits, '.', '_', '-' or '+' (at most 80)."


def _stem(path: Path) -> str:
    name = path.name
    for suffix in ARCHIVES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _root(content: Path) -> Path:
    """The checkpoint inside what was unpacked: the single top folder an archive usually wraps it in."""
    entries = [p for p in content.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else content


def _unpack(archive: Path, destination: Path, disk: Path) -> None:
    """Unpack refusing members that would land outside `destination`, links, and more than the disk holds."""
    destination.mkdir(parents=True)
    free = shutil.disk_usage(disk).free
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                members = bundle.infolist()
                _check_fits(archive, sum(m.file_size for m in members), free)
                for member in members:
                    _check_member(archive, member.filename)
                    if member.external_attr >> 16 & 0o170000 == 0o120000:
                        raise InvalidRequest(f"{archive.name} holds a link ({member.filename}); pack the files "
                                             f"themselves.")
                bundle.extractall(destination)
        else:
            with tarfile.open(archive) as bundle:
                members = bundle.getmembers()
                _check_fits(archive, sum(m.size for m in members), free)
                for member in members:
                    _check_member(archive, member.name)
                bundle.extractall(destination, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidRequest(f"{archive.name} could not be unpacked ({exc}).") from exc


def _check_member(archive: Path, name: str) -> None:
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts:
        raise InvalidRequest(f"{archive.name} holds {name!r}, which points outside the archive; refused.")


def _check_fits(archive: Path, unpacked: int, free: int) -> None:
    if unpacked > free:
        raise InvalidRequest(f"{archive.name} unpacks to {format_bytes(unpacked)}, but only {format_bytes(free)} "
                             f"is free.")


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    return {"engine_id": checkpoint.engine_id, "name": checkpoint.name, "size_bytes": checkpoint.size_bytes}
