"""Requirements an engine declares as data, and the readiness they turn into (Home Assistant manifest style)."""
from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ReadinessState = Literal["ready", "needs_download", "missing_dependency", "needs_checkpoint", "unavailable"]

READINESS_LABELS: dict[str, str] = {
    "ready": "ready",
    "needs_download": "needs download",
    "missing_dependency": "missing dependency",
    "needs_checkpoint": "needs a checkpoint",
    "unavailable": "unavailable here",
}


@dataclass(frozen=True)
class Readiness:
    state: ReadinessState
    message: str = ""
    hints: tuple[str, ...] = ()  # exact commands or steps that fix it
    download_bytes: int = 0

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def runnable(self) -> bool:
        """A job may run it: ready, or only weights are missing (the job downloads them, with progress)."""
        return self.state in ("ready", "needs_download")

    @property
    def label(self) -> str:
        if self.state == "needs_download" and self.download_bytes:
            return f"needs download ({format_bytes(self.download_bytes)})"
        return READINESS_LABELS[self.state]


READY = Readiness("ready", "Ready to run.")


@dataclass(frozen=True)
class PythonModule:
    module: str  # import name
    pip: str  # what to install

    def present(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):
            return False


@dataclass(frozen=True)
class Binary:
    name: str
    debian_package: str

    def present(self) -> bool:
        return shutil.which(self.name) is not None


@dataclass(frozen=True)
class Requirements:
    python: tuple[PythonModule, ...] = ()
    binaries: tuple[Binary, ...] = ()
    amphion: bool = False  # needs the user's Amphion checkout
    cuda: bool = False  # cannot run on CPU
    notes: tuple[str, ...] = field(default=())


def amphion_root_problem(root: str | Path | None) -> str | None:
    """None when `root` looks like an Amphion checkout, else what is wrong with it."""
    if not root:
        return "No Amphion checkout is configured."
    path = Path(root)
    if not path.is_dir():
        return f"The Amphion checkout {path} does not exist."
    if not (path / "models").is_dir() or not (path / "utils").is_dir():
        return f"{path} does not look like an Amphion checkout (no models/ and utils/ folders)."
    return None


def check_requirements(req: Requirements, context: Any = None) -> Readiness:
    """Readiness from declared requirements alone; engines add their own weight checks on top."""
    if req.amphion:
        problem = amphion_root_problem(getattr(context, "amphion_root", None))
        if problem:
            return Readiness("missing_dependency", problem, (
                "git clone https://github.com/open-mmlab/Amphion.git",
                "then set AMPHION_ROOT=/path/to/Amphion (environment or config file) and restart the studio",
            ))
    missing_modules = [m for m in req.python if not m.present()]
    if missing_modules:
        names = ", ".join(m.module for m in missing_modules)
        return Readiness("missing_dependency", f"Python module missing: {names}.",
                         ("pip install " + " ".join(dict.fromkeys(m.pip for m in missing_modules)),))
    missing_binaries = [b for b in req.binaries if not b.present()]
    if missing_binaries:
        names = ", ".join(b.name for b in missing_binaries)
        return Readiness("missing_dependency", f"Program missing: {names}.",
                         ("sudo apt install " + " ".join(dict.fromkeys(b.debian_package for b in missing_binaries)),))
    if req.cuda and getattr(context, "device", "auto") == "cpu":
        return Readiness("unavailable", "This model's code runs only on a CUDA device.")
    return READY


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
