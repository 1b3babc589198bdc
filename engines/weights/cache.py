"""Where downloaded weights live and what of them is on disk, from the file system alone (no network).

Hub weights live in the standard Hugging Face cache (HF_HUB_CACHE, from HF_HOME) in the hub's own layout
(blobs/<etag>, snapshots/<commit>/<file>, refs/<revision>), so files other tools fetched are reused and anything
the studio downloads is found by `hf_hub_download(..., local_files_only=True)`. Files other libraries fetch
themselves go where those libraries look: torch.hub's (torchaudio's HuBERT, EnCodec) into TORCH_HOME, and
openai-whisper's into its own cache, NLTK's data packages (g2p_en's) into NLTK's data folder.

An unfinished transfer leaves `<blob>.incomplete` files (the name huggingface_hub uses too), and a download
creates them for all its files before the first byte, so a set stopped between two files reads as "partly
downloaded". A set given by patterns (or a whole repository) is complete when each pattern matches a file of
its snapshot and no transfer is unfinished; the file list itself is the hub's, so files deleted by hand from
such a set are not noticed until it is fetched again.
"""
from __future__ import annotations

import fnmatch
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..contract import Weights
from ..requirements import format_bytes

COMMIT_PATTERN = re.compile(r"^[0-9a-f]{40}$")
GLOB_CHARS = set("*?[")

Status = Literal["present", "partial", "missing", "bundled", "user"]


# -- where things live -----------------------------------------------------------------------------------------


def hub_cache() -> Path:
    """The Hugging Face hub cache (read each time: tests and HF_HOME may change it)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hub_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def torch_home() -> Path:
    """torch.hub's TORCH_HOME, computed the way torch does, without importing torch."""
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(cache).expanduser() / "torch"


def whisper_cache() -> Path:
    """openai-whisper's download root, computed the way it does."""
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "whisper"


def nltk_data() -> Path:
    """Where NLTK data goes: the first folder of NLTK_DATA, else ~/nltk_data (both on NLTK's search path)."""
    first = os.environ.get("NLTK_DATA", "").split(os.pathsep)[0]
    return Path(first or "~/nltk_data").expanduser()


CACHE_ROOTS: dict[str, Callable[[], Path]] = {"torch": torch_home, "whisper": whisper_cache, "nltk": nltk_data}


def url_target(weights: Weights) -> Path:
    """Where a "url" set lands: its path under its cache folder."""
    return CACHE_ROOTS[weights.cache]() / weights.path


def repo_dir(repo_id: str) -> Path:
    return hub_cache() / ("models--" + repo_id.replace("/", "--"))


def is_pattern(name: str) -> bool:
    return bool(GLOB_CHARS & set(name)) or name.endswith("/")


def matches(name: str, patterns: tuple[str, ...]) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatch(name, p + "*" if p.endswith("/") else p) for p in patterns)


def snapshot(weights: Weights) -> Path | None:
    """The snapshot folder the set's revision points at, if the cache has one."""
    repo = repo_dir(weights.repo_id)
    if COMMIT_PATTERN.match(weights.revision):
        commit = weights.revision
    else:
        ref = repo / "refs" / weights.revision
        if not ref.is_file():
            return None
        commit = ref.read_text().strip()
    snapshot = repo / "snapshots" / commit
    return snapshot if snapshot.is_dir() else None


def snapshot_files(snapshot: Path) -> dict[str, Path]:
    """Relative name -> pointer, for files whose blob exists."""
    found = {}
    for path in snapshot.rglob("*"):
        if path.is_file():  # follows the symlink: a dangling pointer is not a file
            found[path.relative_to(snapshot).as_posix()] = path
    return found


def incomplete_blobs(repo_id: str) -> list[Path]:
    blobs = repo_dir(repo_id) / "blobs"
    return sorted(blobs.glob("*.incomplete")) if blobs.is_dir() else []


# -- what is on disk -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightState:
    weights: Weights
    status: Status
    bytes_on_disk: int = 0
    path: Path | None = None  # the snapshot folder (hub) or the file (url), when anything is there

    @property
    def complete(self) -> bool:
        return self.status in ("present", "bundled")

    @property
    def missing_bytes(self) -> int:
        if self.complete or self.status == "user":
            return 0
        return max(self.weights.size_bytes - self.bytes_on_disk, 0) or self.weights.size_bytes

    @property
    def label(self) -> str:
        size = format_bytes(self.weights.size_bytes) if self.weights.size_bytes else "size unknown"
        if self.status == "present":
            return f"on disk ({format_bytes(self.bytes_on_disk)})"
        if self.status == "bundled":
            return f"in its package ({size})"
        if self.status == "partial":
            return f"partly downloaded ({format_bytes(self.bytes_on_disk)} of {size})"
        if self.status == "user":
            return "your own checkpoint"
        return f"not downloaded ({size})"


def state(weights: Weights) -> WeightState:
    """Where a weight set stands on this machine, from the file system alone (no network)."""
    if weights.source == "package":
        return WeightState(weights, "bundled", weights.size_bytes)
    if weights.source == "user":
        return WeightState(weights, "user")
    if weights.source == "url":
        final = url_target(weights)
        if final.is_file():
            return WeightState(weights, "present", final.stat().st_size, final)
        partial = final.with_name(final.name + ".incomplete")
        size = partial.stat().st_size if partial.is_file() else 0
        return WeightState(weights, "partial" if partial.is_file() else "missing", size, None)
    return _hub_state(weights)


def _matched(weights: Weights) -> tuple[Path | None, dict[str, Path]]:
    """A hub set's snapshot folder (None when the cache has none) and its files there that the set takes."""
    folder = snapshot(weights)
    files = snapshot_files(folder) if folder else {}
    return folder, {name: path for name, path in files.items() if matches(name, weights.files)}


def _hub_state(weights: Weights) -> WeightState:
    folder, matched = _matched(weights)
    on_disk = sum(p.stat().st_size for p in {p.resolve() for p in matched.values()})
    incomplete = incomplete_blobs(weights.repo_id)
    exact = [f for f in weights.files if not is_pattern(f)]
    patterns = [f for f in weights.files if is_pattern(f)]
    if weights.files and not patterns:
        complete = all(name in matched for name in exact)
    else:  # the file list is the hub's: judge by what is there and by leftovers of an unfinished transfer
        has_each_pattern = all(any(matches(n, (p,)) for n in matched) for p in patterns)
        complete = bool(matched) and has_each_pattern and all(n in matched for n in exact) and not incomplete
    if complete:
        return WeightState(weights, "present", on_disk, folder)
    partial_bytes = sum(p.stat().st_size for p in incomplete)
    status: Status = "partial" if matched or incomplete else "missing"
    return WeightState(weights, status, on_disk + partial_bytes, folder)


def files_on_disk(weights: Weights) -> set[Path]:
    """The real files (hub blobs, downloaded files, unfinished transfers) a set has on disk, so that what several
    sets share can be counted once."""
    if weights.source == "url":
        final = url_target(weights)
        return {path for path in (final, final.with_name(final.name + ".incomplete")) if path.is_file()}
    if weights.source != "hub":
        return set()
    found = {path.resolve() for path in _matched(weights)[1].values()}
    return found | set(incomplete_blobs(weights.repo_id))


def locate(weights: Weights) -> Path | None:
    """The local path of a complete set (snapshot folder or file), or None."""
    found = state(weights)
    return found.path if found.status == "present" else None


# -- deleting --------------------------------------------------------------------------------------------------


def delete(weights: Weights) -> int:
    """Remove a set from disk; returns the bytes freed. Blobs another snapshot still uses are kept."""
    if weights.source == "url":
        final = url_target(weights)
        freed = 0
        for path in (final, final.with_name(final.name + ".incomplete")):
            if path.is_file():
                freed += path.stat().st_size
                path.unlink()
        return freed
    if weights.source != "hub":
        return 0
    repo = repo_dir(weights.repo_id)
    if not repo.is_dir():
        return 0
    if not weights.files:
        freed = _tree_bytes(repo / "blobs")
        shutil.rmtree(repo)
        return freed
    pointers = [p for snap in (repo / "snapshots").iterdir() if snap.is_dir()
                for name, p in snapshot_files(snap).items() if matches(name, weights.files)]
    blobs = {p.resolve() for p in pointers}
    for pointer in pointers:
        pointer.unlink()
    still_used = {p.resolve() for snap in (repo / "snapshots").iterdir() if snap.is_dir()
                  for p in snapshot_files(snap).values()}
    freed = 0
    for blob in blobs - still_used:
        if blob.is_file() and blob.parent == repo / "blobs":
            freed += blob.stat().st_size
            blob.unlink()
    _prune_empty_dirs(repo / "snapshots")
    if not any(p.is_file() for p in (repo / "snapshots").rglob("*")):
        freed += _tree_bytes(repo / "blobs")
        shutil.rmtree(repo)
    return freed


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink()) if root.is_dir() else 0


def _prune_empty_dirs(root: Path) -> None:
    for path in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(path.iterdir()):
            path.rmdir()
