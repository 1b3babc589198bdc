"""`amphion-studio doctor`: the environment and every engine's readiness, as plain text."""
from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator

from engines.registry import Registry
from engines.requirements import format_bytes

from . import memory
from .settings import Settings


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        return "not found"
    try:
        out = subprocess.run([name, "--version" if name != "ffmpeg" else "-version"], capture_output=True,
                             text=True, timeout=10).stdout.splitlines()
        return f"{out[0].strip() if out else 'found'} ({path})"
    except (OSError, subprocess.TimeoutExpired):
        return f"found ({path})"


def environment_lines(settings: Settings) -> Iterator[str]:
    yield f"Amphion Studio home  {settings.home}  ({settings.sources.get('home', 'default')})"
    yield f"Config file          {settings.config_file}{'' if settings.config_file.exists() else '  (none)'}"
    yield f"Python               {platform.python_version()} ({sys.executable})"
    yield f"Platform             {platform.platform()} {platform.machine()}"
    for package in ("torch", "torchaudio", "transformers", "huggingface_hub", "nicegui", "onnxruntime", "hibari-tts"):
        yield f"{package:<20} {_version(package)}"
    device = memory.resolve_device(settings.device)
    try:
        import torch

        cuda = "available" if torch.cuda.is_available() else "not available"
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            cuda += f": {props.name}, {format_bytes(props.total_memory)}" + (
                ", unified memory" if getattr(props, "is_integrated", False) else "")
            cuda += f", arch list {' '.join(torch.cuda.get_arch_list())}"
            torch.zeros(1, device="cuda")  # initialises CUDA so the memory probe below sees it
        yield f"CUDA                 {cuda}"
    except ImportError:
        yield "CUDA                 torch is not installed"
    mem = memory.probe(device)
    yield f"Device               {mem.device} ({mem.name}), setting {settings.device!r}"
    yield (f"Memory               {format_bytes(mem.total)} total, {format_bytes(mem.available)} available; "
           f"budget {'auto (85 %)' if settings.memory_budget_gb is None else f'{settings.memory_budget_gb:g} GB'}")
    yield f"ffmpeg               {_binary('ffmpeg')}"
    yield f"espeak-ng            {_binary('espeak-ng')}"


def engine_lines(registry: Registry) -> Iterator[str]:
    for engine in registry:
        readiness = engine.check()
        mark = "ok " if readiness.ready else "-- "
        yield f"{mark}{engine.id:<32} {readiness.label:<28} {engine.name}"
        if not readiness.ready:
            yield f"     {readiness.message}"
            for hint in readiness.hints:
                yield f"     fix: {hint}"


def runtime_lines(settings: Settings) -> Iterator[str]:
    from engines.isolated.runtime import runtimes

    for runtime in runtimes(settings.runtimes):
        status = runtime.status()
        yield f"{runtime.spec.name:<20} {status.state}: {status.message}"
        if status.hint:
            yield f"{'':<20} fix: {status.hint}"


def report(settings: Settings) -> str:
    from engines.amphion.base import doctor_lines as amphion_lines

    registry = Registry(context=settings, extra_packages=settings.engine_packages)
    lines = ["Environment", *("  " + line for line in environment_lines(settings)), "",
             "Amphion", *("  " + line for line in amphion_lines(settings)), "",
             "Isolated runtimes", *("  " + line for line in runtime_lines(settings)), "",
             f"Engines ({len(registry)})", *("  " + line for line in engine_lines(registry))]
    return "\n".join(lines)
