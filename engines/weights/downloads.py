"""Transfers of weight sets into their caches (weight_cache.py says where): live bytes, speed and time left,
cancel, resume, and plain messages when the hub cannot be reached.

Metadata comes from the hub's own API through huggingface_hub (`model_info` for the file list and sizes,
`get_hf_file_metadata` for each file's etag, commit and location); each file then streams into
`<blob>.incomplete`, resuming a partial one with an HTTP Range request, and is renamed and linked into its
snapshot the way huggingface_hub does. Cancelling (through the job's Progress) keeps the partial files.
Offline (HF_HUB_OFFLINE) a missing set fails at once; an unreachable hub fails within the short timeouts.
"""
from __future__ import annotations

import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..contract import EngineError, Progress, Weights
from ..requirements import format_bytes

from .cache import (COMMIT_PATTERN, hub_cache, hub_endpoint, hub_offline, is_pattern, matches, repo_dir, state,
                           url_target)

CONNECT_TIMEOUT = 5.0  # seconds to reach the hub; an offline machine fails fast instead of hanging
READ_TIMEOUT = 20.0  # seconds without a byte before a transfer counts as stalled
CHUNK_BYTES = 128 * 1024  # small enough that progress and cancel respond within a fraction of a second
REPORT_INTERVAL = 0.2  # seconds between progress reports while bytes flow
SPEED_WINDOW = 3.0  # seconds of transfer the speed is averaged over
MIN_SPEED_SPAN = 0.5  # seconds of transfer before a speed (and time left) is shown


@dataclass
class TransferStatus:
    """Live numbers of one download job, for the page and the API."""

    title: str
    total: int
    done: int = 0
    file: str = ""
    speed: float = 0.0  # bytes per second over the last few seconds of transfer; 0 until measured
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64), repr=False)

    def add(self, nbytes: int) -> None:
        """Count bytes as they arrive; the speed is measured over a sliding window of SPEED_WINDOW seconds."""
        now = time.monotonic()
        self.done += nbytes
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[1][0] >= SPEED_WINDOW:
            self.samples.popleft()
        start_time, start_done = self.samples[0]
        if now - start_time >= MIN_SPEED_SPAN:
            self.speed = (self.done - start_done) / (now - start_time)

    def pause(self) -> None:
        """Between files (metadata calls, renames) the clock does not count against the speed."""
        self.samples.clear()

    @property
    def eta(self) -> float | None:
        return (self.total - self.done) / self.speed if self.speed > 0 and self.total >= self.done else None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def describe(self) -> str:
        parts = [f"{self.title}: {self.file}" if self.file else self.title,
                 f"{format_bytes(self.done)} of {format_bytes(self.total)}"]
        if self.speed > 0:
            parts.append(f"{format_bytes(self.speed)}/s")
        if self.eta is not None:
            parts.append(f"{format_duration(self.eta)} left")
        return " · ".join(parts)


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@dataclass(frozen=True)
class _PlannedFile:
    """One file to fetch: from `url` into `incomplete`, renamed to `blob`, pointed at by `pointer`."""

    name: str
    url: str
    size: int | None
    incomplete: Path
    blob: Path
    pointer: Path | None = None  # hub files: snapshots/<commit>/<name>


class Downloader:
    """Plans and performs the transfers of weight sets, reporting into a Progress."""

    def __init__(self, endpoint: str | None = None, timeout: tuple[float, float] | None = None) -> None:
        self.endpoint = endpoint or hub_endpoint()
        self.timeout = timeout or (CONNECT_TIMEOUT, READ_TIMEOUT)

    # planning: what is missing, with sizes (asks the hub)

    def plan(self, weights: Weights) -> list[_PlannedFile]:
        if weights.source == "url":
            final = url_target(weights)
            if final.is_file():
                return []
            return [_PlannedFile(final.name, weights.url, weights.size_bytes or None,
                                 final.with_name(final.name + ".incomplete"), final)]
        return self._plan_hub(weights)

    def _plan_hub(self, weights: Weights) -> list[_PlannedFile]:
        from huggingface_hub import HfApi, get_hf_file_metadata

        with self._explained(weights):
            info = HfApi(endpoint=self.endpoint).model_info(weights.repo_id, revision=weights.revision,
                                                            files_metadata=True, timeout=self.timeout[1])
            names = [s.rfilename for s in info.siblings or [] if matches(s.rfilename, weights.files)]
            missing_exact = [f for f in weights.files if not is_pattern(f) and f not in names]
            if missing_exact:
                raise EngineError(f"{weights.repo_id} on the hub has no {', '.join(missing_exact)}; "
                                  f"the engine's declaration is out of date.")
            repo = repo_dir(weights.repo_id)
            commit = info.sha or weights.revision
            planned = []
            for name in names:
                pointer = repo / "snapshots" / commit / name
                if pointer.is_file():
                    continue
                url = f"{self.endpoint}/{weights.repo_id}/resolve/{quote(commit, safe='')}/{quote(name)}"
                meta = get_hf_file_metadata(url, timeout=self.timeout[1], endpoint=self.endpoint)
                blob = repo / "blobs" / meta.etag
                planned.append(_PlannedFile(name, meta.location, meta.size, blob.with_name(blob.name + ".incomplete"),
                                            blob, pointer))
        if not COMMIT_PATTERN.match(weights.revision) and info.sha:
            ref = repo / "refs" / weights.revision
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text(info.sha)
        (repo / "snapshots" / commit).mkdir(parents=True, exist_ok=True)
        return planned

    # transferring

    def fetch(self, weights: Weights, plan: list[_PlannedFile], status: TransferStatus, progress: Progress) -> None:
        """Fetch every planned file of one set, resuming partial files."""
        for item in plan:  # placeholders first: a stop between two files still reads as partly downloaded
            if not item.blob.is_file():
                item.incomplete.parent.mkdir(parents=True, exist_ok=True)
                item.incomplete.touch(exist_ok=True)
        for item in plan:
            status.file = item.name
            if not item.blob.is_file():
                with self._explained(weights):
                    self._transfer(item, status, progress)
            if item.pointer is not None and not item.pointer.is_file():
                _point(item.pointer, item.blob)
            progress(status.fraction, status.describe())

    def _transfer(self, item: _PlannedFile, status: TransferStatus, progress: Progress) -> None:
        from huggingface_hub.utils import build_hf_headers, get_session

        resume = item.incomplete.stat().st_size if item.incomplete.exists() else 0
        if item.size is not None and resume == item.size:
            os.replace(item.incomplete, item.blob)
            return
        headers = build_hf_headers()
        headers["Accept-Encoding"] = "identity"
        if resume:
            headers["Range"] = f"bytes={resume}-"
        with get_session().get(item.url, headers=headers, stream=True, timeout=self.timeout,
                               allow_redirects=True) as response:
            response.raise_for_status()
            mode = "ab"
            if resume and response.status_code == 200:  # the server ignored Range: start over
                status.total += resume
                resume, mode = 0, "wb"
            status.pause()
            status.add(0)
            last_report = 0.0
            with item.incomplete.open(mode) as out:
                for chunk in response.iter_content(CHUNK_BYTES):
                    progress.check()
                    if not chunk:
                        continue
                    out.write(chunk)
                    status.add(len(chunk))
                    now = time.monotonic()
                    if now - last_report >= REPORT_INTERVAL:
                        last_report = now
                        progress(status.fraction, status.describe())
        written = item.incomplete.stat().st_size
        if item.size is not None and written != item.size:
            raise EngineError(f"{item.name} arrived with {written:,} bytes instead of {item.size:,}. Download it "
                              f"again; the partial file is kept and the download resumes.")
        os.replace(item.incomplete, item.blob)

    def _explained(self, weights: Weights):  # type: ignore[no-untyped-def]
        return _explain_errors(weights, self.endpoint)


class _explain_errors:
    """Turns network and hub errors into messages a user can act on (context manager)."""

    def __init__(self, weights: Weights, endpoint: str) -> None:
        self.weights, self.endpoint = weights, endpoint

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, EngineError) or not isinstance(exc, Exception):
            return False
        import requests
        from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

        what = f"{self.weights.title} ({format_bytes(self.weights.size_bytes)})" if self.weights.size_bytes \
            else self.weights.title
        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            message = (f"Could not reach {self.endpoint} to download {what}: {_reason(exc)}. Check the internet "
                       f"connection and download again; what was already fetched is kept and resumes.")
        elif isinstance(exc, GatedRepoError):
            message = (f"{self.weights.repo_id} is gated: accept its terms on huggingface.co and log in "
                       f"(huggingface-cli login), then download again.")
        elif isinstance(exc, RepositoryNotFoundError):
            message = f"The hub has no repository {self.weights.repo_id} (or it is private)."
        elif isinstance(exc, (HfHubHTTPError, requests.HTTPError)):
            message = f"The hub refused to send {what}: {_reason(exc)}. Try again later."
        elif isinstance(exc, OSError):
            message = f"Could not write {what} into {hub_cache()}: {exc.strerror or exc}."
        else:
            return False
        raise EngineError(message) from exc


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
        return "no answer in time (offline?)"
    if "Failed to resolve" in text or "Name or service not known" in text:
        return "the name does not resolve (offline?)"
    if "Connection refused" in text:
        return "connection refused"
    return text[:200]


def _point(pointer: Path, blob: Path) -> None:
    """A snapshot pointer the way huggingface_hub makes it: a relative symlink to the blob."""
    pointer.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    except FileExistsError:
        pass
    except OSError:  # a file system without symlinks: a copy works too
        shutil.copyfile(blob, pointer)


def download(sets: list[Weights], progress: Progress, title: str = "Downloading",
             downloader: Downloader | None = None,
             on_status: Callable[[TransferStatus], None] | None = None) -> int:
    """Fetch every set of `sets` that is not complete; returns the bytes transferred.

    Offline (HF_HUB_OFFLINE) a missing set raises EngineError at once. Cancelling (through `progress`) keeps
    the partial files; calling again resumes them.
    """
    pending = [w for w in sets if w.downloadable and not state(w).complete]
    if not pending:
        return 0
    if hub_offline():
        raise EngineError(_offline_message(pending))
    downloader = downloader or Downloader()
    progress(0.0, f"{title}: asking the hub for file sizes")
    plans = [(w, downloader.plan(w)) for w in pending]
    total = sum((f.size or 0) - (f.incomplete.stat().st_size if f.incomplete.exists() else 0)
                for _, plan in plans for f in plan)
    _check_disk_space(total)
    status = TransferStatus(title, total)
    if on_status is not None:
        on_status(status)
    for weights, plan in plans:
        downloader.fetch(weights, plan, status, progress)
    progress(1.0, f"{title}: done, {format_bytes(status.done)} downloaded")
    return status.done


def _offline_message(sets: list[Weights]) -> str:
    size = sum(state(w).missing_bytes for w in sets)
    names = ", ".join(w.title for w in sets)
    where = ", ".join(sorted({str(url_target(w).parent if w.source == "url" else hub_cache()) for w in sets}))
    return (f"{names} ({format_bytes(size)}) is not on this machine, and the studio is offline (HF_HUB_OFFLINE is "
            f"set), so it cannot download it. Connect to the internet and unset HF_HUB_OFFLINE, or copy the files "
            f"into {where}.")


def _check_disk_space(needed: int) -> None:
    cache = hub_cache()
    cache.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(cache).free
    if needed > free:
        raise EngineError(f"Not enough disk space: the download needs {format_bytes(needed)} and {cache} has "
                          f"{format_bytes(free)} free. Delete unused weights on the Models page.")
