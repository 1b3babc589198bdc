"""The weight manager: every engine's downloads, found, fetched, shown and deleted in one place.

Engines declare their weight sets (engines.contract.Weights); this turns them into readiness ("needs download
(2.5 GB)"), fetches them inside jobs with live progress (`engines.weights.ensure` in an engine's `load`, or a
"download" job from the Models page, the API and `amphion-studio download`), and deletes them. Where weights
live, what is on disk and how bytes move is engine-side knowledge: engines/weights/.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines.contract import EngineError, Weights
from engines.requirements import format_bytes
from engines.weights import TransferStatus, WeightState, delete, download, files_on_disk, state

if TYPE_CHECKING:
    from engines.registry import Registry

    from .jobs import JobContext, JobInfo, JobQueue

log = logging.getLogger(__name__)

DOWNLOAD = "download"


@dataclass(frozen=True)
class DeleteReport:
    engine_id: str
    freed: int
    sets: tuple[str, ...]
    shared_with: tuple[str, ...]  # engines that used some of the same files

    @property
    def message(self) -> str:
        if not self.sets:
            return "Nothing of it is on disk."
        text = f"Deleted {', '.join(self.sets)}: freed {format_bytes(self.freed)}."
        if self.shared_with:
            text += f" Also used by {', '.join(self.shared_with)}, which will need it downloaded again."
        return text


class NothingToDownload(EngineError):
    """Every set asked for is already on disk."""


class WeightManager:
    """Per-engine weight status, download jobs with live numbers, and deletion. Shared by every engine."""

    def __init__(self, registry: Registry, jobs: JobQueue) -> None:
        self.registry = registry
        self.jobs = jobs
        self.live: dict[str, TransferStatus] = {}  # job id -> numbers of the running download
        jobs.register(DOWNLOAD, self._run_download)

    def status(self, engine_id: str) -> list[WeightState]:
        return [state(w) for w in self.registry.get(engine_id).weights]

    def on_disk(self) -> dict[str, int]:
        """Engine id -> bytes of its downloadable weights on disk (shared files count for each engine)."""
        usage = {}
        for engine in self.registry:
            total = sum(s.bytes_on_disk for s in map(state, engine.weights) if s.weights.downloadable)
            if total:
                usage[engine.id] = total
        return usage

    def disk_usage(self) -> tuple[int, int]:
        """Bytes of every engine's downloadable weights on disk (what several engines share counted once), and how
        many engines have some, from one scan of the caches."""
        sizes: dict[Path, int] = {}
        engines = 0
        for engine in self.registry:
            files = {path for w in engine.weights if w.downloadable for path in files_on_disk(w)}
            sizes.update({path: path.stat().st_size for path in files - sizes.keys()})
            engines += any(sizes[path] for path in files)
        return sum(sizes.values()), engines

    def sets_to_download(self, engine_id: str, params: dict[str, Any] | None = None,
                         everything: bool = False) -> list[int]:
        """Indexes of the engine's sets that a download should fetch: those the params need, or all."""
        engine = self.registry.get(engine_id)
        wanted = engine.weights if everything else engine.weights_for(params or {})
        return [i for i, w in enumerate(engine.weights)
                if w in wanted and w.downloadable and not state(w).complete]

    def submit_download(self, engine_id: str, params: dict[str, Any] | None = None, everything: bool = False,
                        sets: list[int] | None = None) -> JobInfo:
        """Queue a download job (or return the one already queued or running for this engine)."""
        from .jobs import ACTIVE_STATES

        engine = self.registry.get(engine_id)
        for job in self.jobs.list(kinds=(DOWNLOAD,), states=tuple(ACTIVE_STATES), limit=100):
            if job.engine_id == engine_id:
                return job
        indexes = sets if sets is not None else self.sets_to_download(engine_id, params, everything)
        indexes = [i for i in indexes if not state(engine.weights[i]).complete]
        if not indexes:
            raise NothingToDownload(f"Everything {engine.name} needs is already on disk.")
        size = sum(state(engine.weights[i]).missing_bytes for i in indexes)
        return self.jobs.submit(DOWNLOAD, {"engine_id": engine_id, "sets": indexes},
                                title=f"Download {engine.name} ({format_bytes(size)})", engine_id=engine_id)

    def _run_download(self, ctx: JobContext) -> dict[str, Any]:
        engine = self.registry.get(ctx.payload["engine_id"])
        sets = [engine.weights[i] for i in ctx.payload["sets"]]
        try:
            done = download(sets, ctx.progress, f"Downloading {engine.name}",
                            on_status=lambda s: self.live.__setitem__(ctx.job.id, s))
        finally:
            self.live.pop(ctx.job.id, None)
        return {"downloaded_bytes": done, "sets": [w.title for w in sets]}

    def delete(self, engine_id: str, sets: list[int] | None = None) -> DeleteReport:
        """Delete an engine's downloaded sets (all of them, or the given indexes); refused while downloading."""
        from .jobs import ACTIVE_STATES

        for job in self.jobs.list(kinds=(DOWNLOAD,), states=tuple(ACTIVE_STATES), limit=100):
            if job.engine_id == engine_id:
                raise EngineError(f"{self.registry.get(engine_id).name} is downloading; cancel the download first.")
        return delete_engine_weights(self.registry, engine_id, sets)


def delete_engine_weights(registry: Registry, engine_id: str, sets: list[int] | None = None) -> DeleteReport:
    engine = registry.get(engine_id)
    chosen = [engine.weights[i] for i in (sets if sets is not None else range(len(engine.weights)))]
    chosen = [w for w in chosen if w.downloadable and state(w).status != "missing"]
    freed = sum(delete(w) for w in chosen)
    shared = sorted({other.name for other in registry if other.id != engine_id
                     for w in other.weights for mine in chosen if _overlap(w, mine)})
    report = DeleteReport(engine_id, freed, tuple(w.title for w in chosen), tuple(shared))
    log.info(report.message)
    return report


def _overlap(a: Weights, b: Weights) -> bool:
    if a.source != b.source:
        return False
    if a.source == "url":
        return a.path == b.path
    return a.repo_id == b.repo_id and (not a.files or not b.files or bool(set(a.files) & set(b.files)))
