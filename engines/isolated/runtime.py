"""Isolated runtimes: a virtual environment per peer package whose pins clash with the studio's, sharing the
machine's torch.

`qwen-tts` pins transformers 4.57.3 and `chatterbox-tts` pins transformers 5.2.0 and torch 2.6.0, while the
studio keeps transformers < 5 for Amphion. Each runtime is a venv made from the studio's own interpreter
(so compiled extensions match) with:

- `machine-torch/`: symlinks to the studio environment's torch, torchaudio, torchvision and what torch itself
  requires (CUDA libraries, triton, sympy, ...), put on the path by a `.pth` file that Python processes after
  the runtime's site-packages, so anything the runtime installs wins and torch is never downloaded again
  (on the Jetson there is no other torch for CUDA 13);
- a constraints file pinning torch/torchaudio/torchvision to the machine's versions, so pip fails loudly
  instead of replacing them;
- the packages of `recipes/<name>/no-deps.txt` installed without their own (clashing) dependencies, then
  the curated, tested set of `recipes/<name>/requirements.txt` (package data, so a wheel install has them too).

`amphion-studio runtime install NAME` builds it; a stamp records what it was built from, so `status()` tells
"ready", "not installed" or "out of date" (requirements, Python or torch changed) with the command to run.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPECS = Path(__file__).resolve().parent / "recipes"
ENGINES_PACKAGE = Path(__file__).resolve().parents[1]  # what a worker imports from the studio: engines/ only
MACHINE_PACKAGES = ("torch", "torchaudio", "torchvision")  # shared with the studio, never installed in a runtime
STAMP = "studio-runtime.json"
PTH_NAME = "zz-studio-machine-torch.pth"


PROBE = """
import importlib.metadata, json
import torch, {module}
versions = {{name: importlib.metadata.version(name) for name in {packages!r}}}
print(json.dumps({{"versions": versions, "torch": torch.__file__}}))
"""


class RuntimeBuildError(Exception):
    """Building a runtime failed; the message says where and how to retry."""


@dataclass(frozen=True)
class RuntimeSpec:
    name: str  # folder under recipes/ and under the runtimes directory
    title: str
    probe: str  # module that must import in the runtime once it is built
    distribution: str  # the package the runtime exists for
    purpose: str  # why it cannot share the studio's environment

    @property
    def folder(self) -> Path:
        return SPECS / self.name


RUNTIMES: dict[str, RuntimeSpec] = {
    "qwen-tts": RuntimeSpec("qwen-tts", "Qwen3-TTS", "qwen_tts", "qwen-tts",
                            "qwen-tts 0.1.1 pins transformers 4.57.3, which Amphion's models cannot share"),
    "chatterbox-tts": RuntimeSpec("chatterbox-tts", "Chatterbox", "chatterbox", "chatterbox-tts",
                                  "chatterbox-tts 0.1.7 pins transformers 5.2.0 and torch 2.6.0"),
}


@dataclass(frozen=True)
class RuntimeStatus:
    state: str  # "ready", "not installed", "out of date", "broken"
    message: str
    hint: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready"


class Runtime:
    """One runtime's environment under `root` (Settings.runtimes)."""

    def __init__(self, spec: RuntimeSpec, root: Path) -> None:
        self.spec = spec
        self.dir = root / spec.name

    @classmethod
    def named(cls, name: str, root: Path) -> Runtime:
        if name not in RUNTIMES:
            raise KeyError(f"No runtime {name!r}; known: {', '.join(RUNTIMES)}.")
        return cls(RUNTIMES[name], root)

    @property
    def python(self) -> Path:
        return self.dir / "bin" / "python"

    @property
    def install_command(self) -> str:
        return f"amphion-studio runtime install {self.spec.name}"

    def studio_code(self) -> Path:
        """A folder holding only a link to this install's `engines` package, for a worker's PYTHONPATH; named after
        the package's path, so studios installed apart that share a runtimes directory never repoint each other's.
        (The folder that holds `engines` is site-packages in a wheel install, whose transformers must not shadow the
        runtime's.)"""
        install = hashlib.sha256(str(ENGINES_PACKAGE).encode()).hexdigest()[:12]
        folder = self.dir / f"studio-code-{install}"
        link = folder / "engines"
        if not (link.is_symlink() and link.resolve() == ENGINES_PACKAGE):
            folder.mkdir(parents=True, exist_ok=True)
            fresh = folder / f".engines-{uuid.uuid4().hex}"
            fresh.symlink_to(ENGINES_PACKAGE, target_is_directory=True)
            os.replace(fresh, link)
        return folder

    # -- what it is built from ---------------------------------------------------------------------------------

    def fingerprint(self) -> dict[str, Any]:
        digest = hashlib.sha256()
        for path in sorted(self.spec.folder.glob("*.txt")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return {"requirements": digest.hexdigest()[:16], "python": platform.python_version(),
                "machine": machine_versions()}

    def stamp(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.dir / STAMP).read_text())
        except (OSError, ValueError):
            return None

    def status(self) -> RuntimeStatus:
        stamp = self.stamp()
        if stamp is None or not self.python.exists():
            return RuntimeStatus("not installed", f"The {self.spec.title} runtime is not installed: "
                                                  f"{self.spec.purpose}, so it runs in an environment of its own.",
                                 self.install_command)
        built, now = stamp.get("fingerprint", {}), self.fingerprint()
        if built.get("python") != now["python"]:
            return RuntimeStatus("out of date", f"The {self.spec.title} runtime was built for Python "
                                                f"{built.get('python')}, the studio now runs {now['python']}.",
                                 self.install_command)
        if built.get("machine") != now["machine"]:
            return RuntimeStatus("out of date", f"The {self.spec.title} runtime was built against torch "
                                                f"{_versions(built.get('machine', {}))}, the machine now has "
                                                f"{_versions(now['machine'])}.", self.install_command)
        if built.get("requirements") != now["requirements"]:
            return RuntimeStatus("out of date", f"The {self.spec.title} runtime's requirements changed since it "
                                                f"was built.", self.install_command)
        return RuntimeStatus("ready", f"{self.spec.title} runtime ready in {self.dir} "
                                      f"({', '.join(f'{k} {v}' for k, v in stamp.get('versions', {}).items())}).")

    # -- building ----------------------------------------------------------------------------------------------

    def install(self, say: Callable[[str], None] = print) -> RuntimeStatus:
        """Build (or rebuild) the environment; pip's output goes to `<dir>.log`. Holds a lock while it works."""
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        log_path = self.dir.parent / f"{self.spec.name}.log"
        with _exclusive(self.dir.parent / f".{self.spec.name}.lock"):
            if self.status().ready:  # another process built it while we waited
                return self.status()
            started = time.monotonic()
            with log_path.open("w") as log:
                self._build(say, log, log_path)
            say(f"Built the {self.spec.title} runtime in {time.monotonic() - started:.0f} s.")
        return self.status()

    def _build(self, say: Callable[[str], None], log: Any, log_path: Path) -> None:
        if self.dir.exists():
            say(f"Removing the old environment {self.dir}")
            shutil.rmtree(self.dir)
        say(f"Creating {self.dir} with Python {platform.python_version()}")
        self._run([sys.executable, "-m", "venv", str(self.dir)], log, log_path)
        shared = link_machine_torch(self.dir / "machine-torch")
        site = _site_packages(self.python)
        (site / PTH_NAME).write_text(str(self.dir / "machine-torch") + "\n")
        constraints = self.dir / "machine-constraints.txt"
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in machine_versions().items()))
        say(f"Sharing the machine's {', '.join(f'{n} {v}' for n, v in machine_versions().items())} "
            f"({len(shared)} packages linked)")
        pip = [str(self.python), "-m", "pip", "--disable-pip-version-check", "install", "--no-input"]
        no_deps = self.spec.folder / "no-deps.txt"
        if no_deps.exists():
            say(f"Installing {', '.join(_requirement_lines(no_deps))} without their pinned dependencies")
            self._run([*pip, "--no-deps", "-r", str(no_deps)], log, log_path)
        requirements = self.spec.folder / "requirements.txt"
        say(f"Installing the tested set in {requirements} (pip's output: {log_path})")
        self._run([*pip, "-c", str(constraints), "-r", str(requirements)], log, log_path)
        say(f"Checking that {self.spec.probe} imports with the machine's torch")
        probe = PROBE.format(module=self.spec.probe, packages=("torch", "transformers", self.spec.distribution))
        out = self._run([str(self.python), "-c", probe], log, log_path, capture=True)
        found = json.loads(out.strip().splitlines()[-1])
        if not Path(found["torch"]).is_relative_to(self.dir / "machine-torch"):
            raise RuntimeBuildError(f"The {self.spec.title} runtime imports its own torch ({found['torch']}) instead "
                                    f"of the machine's; see {log_path}.")
        stamp = {"fingerprint": self.fingerprint(), "versions": found["versions"],
                 "built": time.strftime("%Y-%m-%d %H:%M")}
        (self.dir / STAMP).write_text(json.dumps(stamp, indent=2))

    def _run(self, command: list[str], log: Any, log_path: Path, capture: bool = False) -> str:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
        env.pop("PYTHONPATH", None)
        result = subprocess.run(command, stdout=subprocess.PIPE if capture else log, stderr=log, text=True,
                                env=env, cwd=self.dir.parent)
        if result.returncode != 0:
            tail = _tail(log_path)
            raise RuntimeBuildError(f"Building the {self.spec.title} runtime failed at `{' '.join(command[:6])} ...`:"
                                    f"\n{tail}\nThe whole log is {log_path}. Fix the cause (often the network or "
                                    f"a missing compiler), then run `{self.install_command}` again.")
        return result.stdout or ""

    def remove(self) -> bool:
        if not self.dir.exists():
            return False
        shutil.rmtree(self.dir)
        return True


# -- the machine's torch -------------------------------------------------------------------------------------------


def machine_versions() -> dict[str, str]:
    found = {}
    for name in MACHINE_PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def _versions(versions: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in versions.items()) or "none"


def machine_distributions() -> list[importlib.metadata.Distribution]:
    """torch, torchaudio, torchvision and everything torch needs to import, as installed for the studio."""
    from packaging.requirements import Requirement

    seen: dict[str, importlib.metadata.Distribution] = {}
    pending: list[tuple[str, frozenset[str]]] = [(name, frozenset()) for name in machine_versions()]
    while pending:
        name, extras = pending.pop()
        key = name.lower().replace("_", "-")
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if key in seen and not extras:
            continue
        seen[key] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            markers_ok = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""}))
            if markers_ok:
                pending.append((requirement.name, frozenset(requirement.extras)))
    return list(seen.values())


def link_machine_torch(target: Path) -> list[str]:
    """Symlink every top-level entry of the machine's torch distributions into `target`; their names."""
    target.mkdir(parents=True, exist_ok=True)
    names = []
    for dist in machine_distributions():
        base = Path(str(dist.locate_file("")))
        for entry in _top_level_entries(dist):
            source = base / entry
            link = target / entry
            if source.exists() and not link.exists():
                link.symlink_to(source)
        names.append(dist.metadata["Name"])
    return names


def _top_level_entries(dist: importlib.metadata.Distribution) -> set[str]:
    entries = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first not in ("..", "__pycache__") and not first.endswith(".pth"):
            entries.add(first)
    return entries


def _site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _requirement_lines(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class _exclusive:
    """An advisory file lock: one build of a runtime at a time, across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        import fcntl

        self.file = self.path.open("w")
        fcntl.flock(self.file, fcntl.LOCK_EX)

    def __exit__(self, *exc: Any) -> None:
        self.file.close()


def runtimes(root: Path) -> Iterator[Runtime]:
    for spec in RUNTIMES.values():
        yield Runtime(spec, root)
