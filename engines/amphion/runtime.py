"""The Amphion runtime: the user's checkout on the import path, its relative paths resolving, its traps fixed.

Amphion is not pip-installable. It is a checkout (AMPHION_ROOT or the `amphion_root` setting) whose root
must be importable (`models.*`, `utils.*`, `modules.*`, `text.*`) and whose inference code opens files
relative to the working directory (`./models/tts/maskgct/ckpt/wav2vec2bert_stats.pt`, ...). Nothing of it is
vendored: the studio imports the user's checkout and calls Amphion's own classes.

Working directory. Inside `runtime.session()` the calling thread's working directory is the checkout, and
nothing else changes: on Linux the thread first takes a private copy of its file-system context
(`unshare(CLONE_FS)`), so the page-serving threads, the API and the studio's own (absolute) paths never see
the switch. Threads Amphion starts inside a session inherit it. Where `unshare` is refused (another OS, a
seccomp profile that forbids it), the switch is process-wide, held under a lock for the session; the studio
still works because every path it uses is absolute.

Activation (the first session) appends the checkout to `sys.path` (after site-packages, so it never hides an
installed package; `check()` reports an installed package that would hide one of Amphion's), sets WORK_DIR
(which Amphion's `load_config` resolves `base_config` against), and applies the environment fixes of
`traps.py` that this machine needs.

Developer note: writing an Amphion adapter
------------------------------------------
Subclass `AmphionEngine` (engines/amphion/base.py) in a module under engines/amphion/ and declare, as data:
`requirements = Requirements(amphion=True, python=deps.MASKGCT, binaries=(deps.ESPEAK_NG,))`, `weights`
(hub sets plus extra pretrained models such as `deps.W2V_BERT_2`, `deps.HUBERT_LARGE`; use `when=` for sets a
param selects), and the class flags `extensions = ("monotonic_align",)`, `needs_transformers_4 = True` (Llama
models) or `recipe_only = True` (no public weights: the user's checkpoint under
`<STUDIO_HOME>/checkpoints/<engine id>/`, listed by `user_checkpoints()`). `check()` then reports exactly what
is missing, in order: the checkout, a package hiding Amphion's, Python modules (pip names), espeak-ng, version
pins, an unbuilt extension (with the build command for this checkout), the user checkpoint, downloads.

In `load(device, progress, options)`:
    rt = self.runtime                                   # AmphionRuntime of the configured checkout
    folder = ensure(self.weights[0], progress.span(0, 0.6))   # engines.weights: download with progress if needed
    with rt.session():                                  # cwd = checkout for this thread; traps fixed
        from models.tts.maskgct.maskgct_utils import build_t2s_model   # import Amphion inside the session
        cfg = rt.load_config(options.get("config") or "models/tts/maskgct/config/maskgct.json")
        t2s = build_t2s_model(cfg.model.t2s_model, device)
        rt.load_safetensors(t2s, folder / "t2s_model/model.safetensors")
Call the hub yourself through `ensure()` (never Amphion's scripts: they pass their own cache_dir), take a
config path as part of the model source (hub repos carry no config; fine-tunes and tiny test checkpoints
differ from the stock one), and run every Amphion call inside `with rt.session():` in `run` too. Report
progress at stage boundaries and let `progress(...)` raise Cancelled between stages. Tests build tiny
random-weight checkpoints with Amphion's own classes, lay them out as the hub repo does, serve them with
tests/hub_server.py (or put them in the cache with tests.conftest.put_in_hub_cache) and run the engine through
the job queue; they skip with a reason when AMPHION_ROOT is unset (tests/unit/test_amphion_runtime.py shows
the fixture).
"""
from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..contract import EngineError
from ..requirements import amphion_root_problem
from . import traps

log = logging.getLogger(__name__)

CLONE_FS = 0x200
PACKAGES = ("models", "modules", "utils", "text", "processors", "evaluation", "preprocessors", "optimizer",
            "schedulers")  # Amphion's top-level packages, imported by absolute name from the checkout root
PRIVATE_CWD = True  # False forces the process-wide fallback (tests exercise both)

_thread = threading.local()
_process_cwd_lock = threading.RLock()
_runtimes: dict[Path, AmphionRuntime] = {}
_activated: Path | None = None
_activation_lock = threading.Lock()


def checkout_root(context: Any) -> Path | None:
    """The configured checkout: the context's `amphion_root` (the setting, which reads AMPHION_ROOT)."""
    root = getattr(context, "amphion_root", None)
    if root is None and os.environ.get("AMPHION_ROOT"):
        root = os.environ["AMPHION_ROOT"]
    return Path(root).expanduser().absolute() if root else None


class AmphionRuntime:
    """One checkout. Get it with `AmphionRuntime.of(context)`; use `session()` around every Amphion call."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def of(cls, context: Any) -> AmphionRuntime:
        root = checkout_root(context)
        problem = amphion_root_problem(root)
        if problem or root is None:
            raise EngineError(f"{problem} Clone https://github.com/open-mmlab/Amphion and set AMPHION_ROOT.")
        if root not in _runtimes:
            _runtimes[root] = cls(root)
        return _runtimes[root]

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    # -- activation ----------------------------------------------------------------------------------------

    def activate(self) -> None:
        """Import path, WORK_DIR, environment fixes; once per process (one checkout per process)."""
        global _activated
        with _activation_lock:
            if _activated == self.root:
                return
            if _activated is not None:
                raise EngineError(f"The studio already uses the Amphion checkout {_activated}; restart it to "
                                  f"switch to {self.root}.")
            problem = amphion_root_problem(self.root)
            if problem:
                raise EngineError(problem)
            if str(self.root) not in sys.path:
                sys.path.append(str(self.root))
            os.environ["WORK_DIR"] = str(self.root)
            traps.apply_needed()
            _activated = self.root
        hidden = self.hidden_packages()
        if hidden:
            raise EngineError(" ".join(hidden))

    def hidden_packages(self) -> list[str]:
        """A sentence per Amphion package that an installed package hides (same top-level name)."""
        import importlib.util

        problems = []
        for name in PACKAGES:
            if not (self.root / name).is_dir():
                continue
            loaded = sys.modules.get(name)
            origin = getattr(loaded, "__file__", None) if loaded else None
            if origin is None:
                spec = importlib.util.find_spec(name) if str(self.root) in sys.path else None
                origin = spec.origin if spec and spec.origin else None
            if origin and not Path(origin).resolve().is_relative_to(self.root.resolve()):
                problems.append(f"The installed module {origin} hides Amphion's '{name}' package; uninstall the "
                                f"package that provides it (pip uninstall ...) for the Amphion models to import.")
        return problems

    # -- sessions ------------------------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[AmphionRuntime]:
        """Amphion calls inside: the checkout importable, this thread's working directory the checkout."""
        self.activate()
        with working_directory(self.root):
            yield self

    def load_config(self, path: str | Path, lowercase: bool = False) -> Any:
        """Amphion's `load_config` (json5, `base_config` chains) for a config inside the checkout (relative
        path) or anywhere else (absolute path: a fine-tune's or a test checkpoint's own config)."""
        path = Path(path)
        with self.session():
            from utils.util import load_config

            return load_config(str(path if path.is_absolute() else self.root / path), lowercase)

    def load_safetensors(self, module: Any, path: str | Path, strict: bool = True) -> Any:
        """safetensors.torch.load_model, as Amphion's loaders call it, with the window-buffer fix applied."""
        import safetensors.torch

        with self.session():
            traps.own_storage(module)
            return safetensors.torch.load_model(module, str(path), strict=strict)


# -- the working directory -------------------------------------------------------------------------------------


def _private_cwd() -> bool:
    """Give this thread its own working directory (Linux unshare(CLONE_FS)); True when it has one."""
    if getattr(_thread, "private", None) is not None:
        return bool(_thread.private)
    private = False
    if PRIVATE_CWD and sys.platform.startswith("linux"):
        try:
            if hasattr(os, "unshare"):
                os.unshare(CLONE_FS)
                private = True
            else:
                libc = ctypes.CDLL(None, use_errno=True)
                private = libc.unshare(CLONE_FS) == 0
        except (OSError, AttributeError):
            private = False
    if not private and PRIVATE_CWD:
        log.warning("this system refuses a thread-private working directory; Amphion calls switch the "
                    "process's working directory under a lock instead")
    _thread.private = private
    return private


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """This thread works in `path` for the block; other threads keep theirs where the OS allows it."""
    depth = getattr(_thread, "depth", 0)
    if depth:  # nested session on this thread: already there
        _thread.depth = depth + 1
        try:
            yield
        finally:
            _thread.depth -= 1
        return
    private = _private_cwd()
    if not private:
        _process_cwd_lock.acquire()
    try:
        previous = os.getcwd()
    except FileNotFoundError:  # the old working directory was deleted: come back to the checkout's parent
        previous = str(path.parent)
    os.chdir(path)
    _thread.depth = 1
    try:
        yield
    finally:
        _thread.depth = 0
        try:
            os.chdir(previous)
        finally:
            if not private:
                _process_cwd_lock.release()
