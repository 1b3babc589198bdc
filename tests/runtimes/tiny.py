"""Runtimes and tiny random-weight checkpoints for the peer engines, cached outside the repository.

The cache (STUDIO_TEST_RUNTIMES, default ~/.cache/amphion-studio/test-runtimes/<environment>) holds each runtime's
venv, which rebuilds when engines/isolated/recipes/<name>/*.txt, Python or the machine's torch change, and the tiny
checkpoints, keyed by their builder script and the runtime they were built in.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from engines.isolated.runtime import Runtime

REPO_ROOT = Path(__file__).resolve().parents[2]

# One default cache per Python environment: a runtime links its environment's torch, so two checkouts with their own
# .venv sharing one cache would rebuild each other's runtimes, under each other's running tests.
_ENVIRONMENT = hashlib.sha256(sys.prefix.encode()).hexdigest()[:8]
CACHE = Path(os.environ.get("STUDIO_TEST_RUNTIMES",
                           f"~/.cache/amphion-studio/test-runtimes/{_ENVIRONMENT}")).expanduser()
REFERENCE_TEXT = "Good morning, this is my voice."


def built(name: str) -> Runtime:
    """The runtime, built on first use (RuntimeBuildError when that fails, e.g. without PyPI)."""
    runtime = Runtime.named(name, CACHE)
    if not runtime.status().ready:
        runtime.install(say=lambda line: print(f"[{name}] {line}", flush=True))
    return runtime


def tiny_checkpoint(runtime: Runtime, builder: str, *args: str) -> Path:
    """Run tests/runtimes/<builder>.py inside the runtime once per builder, runtime and arguments; later calls
    reuse its output."""
    digest = hashlib.sha256((REPO_ROOT / "tests" / "runtimes" / f"{builder}.py").read_bytes())
    digest.update(json.dumps(runtime.fingerprint(), sort_keys=True).encode())
    for arg in args:  # file arguments count by their content, not their (temporary) path
        digest.update(Path(arg).read_bytes() if Path(arg).is_file() else arg.encode())
    key = digest.hexdigest()[:12]
    out = CACHE / "tiny" / f"{builder}-{key}"
    done = out.with_name(out.name + ".complete")
    if not done.exists():
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        subprocess.run([str(runtime.python), "-m", f"tests.runtimes.{builder}", str(out), *args], check=True,
                       env=env, cwd=REPO_ROOT, capture_output=True)
        done.touch()
    return out


def reference_clip(path: Path) -> Path:
    """Real speech from the default engine saying REFERENCE_TEXT: the voice the peers clone."""
    import soundfile
    from hibari import Hibari

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), Hibari()(REFERENCE_TEXT, seed=3), 24_000)
    return path


def link_into_hub_cache(cache: Path, repo_id: str, folder: Path, commit: str = "0" * 40) -> Path:
    """The hub cache layout (refs/main, snapshots/<commit>/...) with each file a link to `folder`'s copy."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    for source in folder.rglob("*"):
        if source.is_file():
            target = repo / "snapshots" / commit / source.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.symlink_to(source)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return repo / "snapshots" / commit
