"""Weights engines declare: where they live on disk, whether they are there, and fetching them with progress.

cache.py knows the Hugging Face cache layout (and the torch.hub / Whisper caches for URL downloads) and what is
on disk; downloads.py moves the bytes (live speed and time left, cancel, resume). Engines call `ensure` in
`load`; the studio's WeightManager (studio/weights.py) runs downloads as jobs and deletes weights.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..contract import Engine, EngineError, Progress, Weights
from ..requirements import READY, Readiness, format_bytes
from .cache import WeightState, delete, files_on_disk, hub_cache, locate, repo_dir, state
from .downloads import Downloader, TransferStatus, download

__all__ = ["Downloader", "TransferStatus", "WeightState", "delete", "download", "ensure", "files_on_disk",
           "hub_cache", "locate", "repo_dir", "state", "weights_readiness"]


def weights_readiness(engine: Engine, needed: Iterable[Weights]) -> Readiness:
    """Ready when every downloadable set `needed` is on disk, else "needs download" with the size."""
    missing = [s for s in map(state, needed) if s.weights.downloadable and not s.complete]
    if not missing:
        return READY
    size = sum(s.missing_bytes for s in missing)
    names = ", ".join(s.weights.title for s in missing)
    partly = " (partly downloaded; it resumes)" if any(s.status == "partial" for s in missing) else ""
    return Readiness("needs_download", f"{engine.name} needs {names} ({format_bytes(size)}) downloaded{partly}: "
                     f"the first job fetches it, or fetch it now.",
                     (f"amphion-studio download {engine.id}", "or press Download on the Models page"),
                     download_bytes=size)


def ensure(weights: Weights, progress: Progress, advice: str = "") -> Path:
    """The local path of a set (snapshot folder or file), downloading it first when it is missing.

    Engines call this in `load`: the download runs inside the job with live progress and cancel. `advice`
    is added to a failure's message (e.g. which built-in alternative works offline).
    """
    found = locate(weights)
    if found is not None:
        return found
    try:
        download([weights], progress, f"Downloading {weights.title}")
    except EngineError as exc:
        if not advice:
            raise
        raise EngineError(f"{exc} {advice}") from exc
    found = locate(weights)
    if found is None:
        raise EngineError(f"{weights.title} was downloaded but is not complete in {hub_cache()}; download it again.")
    return found
