"""The weight manager: every engine's downloads, found, fetched, shown and deleted in one place.

Hub weights live in the standard Hugging Face cache (HF_HUB_CACHE, from HF_HOME) in the hub's own layout
(blobs/<etag>, snapshots/<commit>/<file>, refs/<revision>), so files other tools fetched are reused and
anything downloaded here is found by `hf_hub_download(..., local_files_only=True)`. Files other libraries fetch
themselves go where those libraries look: torch.hub's (torchaudio's HuBERT, EnCodec) into TORCH_HOME, and
openai-whisper's into its own cache.

A download streams each file into `<blob>.incomplete` (the name huggingface_hub uses too), reporting bytes,
speed and time left; cancelling leaves the partial file, and the next download resumes it with an HTTP
Range request. Every set's pending files get their `.incomplete` placeholder before the first byte, so a
download stopped between two files still reads as "partly downloaded". A set given by patterns (or a whole
repository) is complete when each pattern matches a file of its snapshot and no transfer is unfinished; the
file list itself is the hub's, so files deleted by hand from such a set are not noticed until it is fetched. Offline (HF_HUB_OFFLINE) or with
the hub unreachable, a missing set fails at once with a plain message instead of hanging (short timeouts).
"""
from __future__ import annotations

import fnmatch
import logging
import os
import re
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from engines.contract import Engine, EngineError, Progress, Weights
from engines.requirements import READY, Readiness, format_bytes

if TYPE_CHECKING:
    from engines.registry import Registry

    from .jobs import JobContext, JobInfo, JobQueue

log = logging.getLogger(__name__)

DOWNLOAD = "download"
CONNECT_TIMEOUT = 5.0  # seconds to reach the hub; an offline machine fails fast instead of hanging
READ_TIMEOUT = 20.0  # seconds without a byte before a transfer counts as stalled
CHUNK_BYTES = 128 * 1024  # small enough that progress and cancel respond within a fraction of a second
REPORT_INTERVAL = 0.2  # seconds between progress reports while bytes flow
SPEED_WINDOW = 3.0  # seconds of transfer the speed is averaged over
MIN_SPEED_SPAN = 0.5  # seconds of transfer before a speed (and time left) is shown
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


CACHE_ROOTS: dict[str, Callable[[], Path]] = {"torch": torch_home, "whisper": whisper_cache}


def url_target(weights: Weights) -> Path:
    """Where a "url" set lands: its path under its cache folder."""
    return CACHE_ROOTS[weights.cache]() / weights.path


def repo_dir(repo_id: str) -> Path:
    return hub_cache() / ("models--" + repo_id.replace("/", "--"))


def _is_pattern(name: str) -> bool:
    return bool(GLOB_CHARS & set(name)) or name.endswith("/")


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatch(name, p + "*" if p.endswith("/") else p) for p in patterns)


def _snapshot(weights: Weights) -> Path | None:
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


def _snapshot_files(snapshot: Path) -> dict[str, Path]:
    """Relative name -> pointer, for files whose blob exists."""
    found = {}
    for path in snapshot.rglob("*"):
        if path.is_file():  # follows the symlink: a dangling pointer is not a file
            found[path.relative_to(snapshot).as_posix()] = path
    return found


def _incomplete_blobs(repo_id: str) -> list[Path]:
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


def _hub_state(weights: Weights) -> WeightState:
    snapshot = _snapshot(weights)
    files = _snapshot_files(snapshot) if snapshot else {}
    matched = {name: path for name, path in files.items() if _matches(name, weights.files)}
    on_disk = sum(p.stat().st_size for p in {p.resolve() for p in matched.values()})
    incomplete = _incomplete_blobs(weights.repo_id)
    exact = [f for f in weights.files if not _is_pattern(f)]
    patterns = [f for f in weights.files if _is_pattern(f)]
    if weights.files and not patterns:
        complete = all(name in matched for name in exact)
    else:  # the file list is the hub's: judge by what is there and by leftovers of an unfinished transfer
        has_each_pattern = all(any(_matches(n, (p,)) for n in matched) for p in patterns)
        complete = bool(matched) and has_each_pattern and all(n in matched for n in exact) and not incomplete
    if complete:
        return WeightState(weights, "present", on_disk, snapshot)
    partial_bytes = sum(p.stat().st_size for p in incomplete)
    status: Status = "partial" if matched or incomplete else "missing"
    return WeightState(weights, status, on_disk + partial_bytes, snapshot)


def locate(weights: Weights) -> Path | None:
    """The local path of a complete set (snapshot folder or file), or None."""
    found = state(weights)
    return found.path if found.status == "present" else None


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


# -- transfers -------------------------------------------------------------------------------------------------


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
            names = [s.rfilename for s in info.siblings or [] if _matches(s.rfilename, weights.files)]
            missing_exact = [f for f in weights.files if not _is_pattern(f) and f not in names]
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
                for name, p in _snapshot_files(snap).items() if _matches(name, weights.files)]
    blobs = {p.resolve() for p in pointers}
    for pointer in pointers:
        pointer.unlink()
    still_used = {p.resolve() for snap in (repo / "snapshots").iterdir() if snap.is_dir()
                  for p in _snapshot_files(snap).values()}
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


# -- the service -----------------------------------------------------------------------------------------------


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
