"""`amphion-studio download | delete | runtime | checkpoint`: weights, isolated runtimes and the user's own
checkpoints from the command line."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .settings import Settings

COMMANDS = ("download", "delete", "runtime", "checkpoint")


def add_commands(commands: Any) -> None:
    download = commands.add_parser("download", help="download an engine's weights (resumes a partial download)")
    download.add_argument("engine", help="engine id (see `doctor`)")
    download.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                          help="the weights these parameter values need, e.g. -p model=small (default: the defaults)")
    download.add_argument("--all", action="store_true", help="every variant the engine can use")
    delete = commands.add_parser("delete", help="delete an engine's downloaded weights")
    delete.add_argument("engine", help="engine id (see `doctor`)")
    runtime = commands.add_parser("runtime", help="isolated runtimes (Qwen3-TTS, Chatterbox): install, list, remove")
    runtime.add_argument("action", choices=("install", "list", "remove"))
    runtime.add_argument("name", nargs="?", help="runtime name (see `runtime list`)")
    checkpoint = commands.add_parser("checkpoint", help="your own checkpoints of recipe models: add, list, remove")
    checkpoint.add_argument("action", choices=("add", "list", "remove"))
    checkpoint.add_argument("engine", help="engine id, e.g. amphion.vits_svc (see `doctor`)")
    checkpoint.add_argument("path", nargs="?", help="add: the checkpoint folder or an archive of it; "
                                                    "remove: the checkpoint's name")
    checkpoint.add_argument("--name", help="add: the name to give it (default: the folder's or archive's)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from engines.contract import EngineError
    from engines.registry import Registry

    if args.command == "runtime":
        return _runtime(settings, args)
    if args.command == "checkpoint":
        return _checkpoint(settings, args)

    registry = Registry(context=settings, extra_packages=settings.engine_packages)
    if args.engine not in registry:
        print(f"amphion-studio: no engine {args.engine!r}; `amphion-studio doctor` lists them.", file=sys.stderr)
        return 2
    try:
        if args.command == "download":
            return _download(registry, args)
        return _delete(registry, args)
    except (EngineError, ValueError) as exc:
        print(f"amphion-studio: {exc}", file=sys.stderr)
        return 1


def _download(registry: Any, args: argparse.Namespace) -> int:
    from engines.contract import Progress
    from engines.requirements import format_bytes

    from engines.weights import download, state

    from .cli import _parse_params

    engine = registry.get(args.engine)
    params = engine.check_params(_parse_params(args.param))
    sets = list(engine.weights) if args.all else engine.weights_for(params)
    pending = [w for w in sets if w.downloadable and not state(w).complete]
    if not pending:
        print(f"Everything {engine.name} needs{' (all variants)' if args.all else ''} is already on disk.")
        return 0
    printer = _ProgressLine()
    try:
        done = download(pending, Progress(printer), f"Downloading {engine.name}")
    except KeyboardInterrupt:
        printer.finish()
        print("Stopped. What was downloaded is kept: run the same command again to resume.", file=sys.stderr)
        return 130
    printer.finish()
    print(f"{engine.name}: {format_bytes(done)} downloaded; ready: {engine.check().label}.")
    return 0


def _delete(registry: Any, args: argparse.Namespace) -> int:
    from .weights import delete_engine_weights

    print(delete_engine_weights(registry, args.engine).message)
    return 0


class _ProgressLine:
    """One line rewritten in place on a terminal; a line every few seconds when piped."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.last = 0.0

    def __call__(self, fraction: float | None, stage: str) -> None:
        now = time.monotonic()
        if self.tty:
            sys.stdout.write("\r\033[K" + stage[:160])
            sys.stdout.flush()
        elif now - self.last >= 5 or fraction == 1.0:
            print(stage, flush=True)
            self.last = now

    def finish(self) -> None:
        if self.tty:
            sys.stdout.write("\n")


def _runtime(settings: Settings, args: argparse.Namespace) -> int:
    from engines.isolated.runtime import RUNTIMES, Runtime, RuntimeBuildError, runtimes

    if args.action == "list":
        for runtime in runtimes(settings.runtimes):
            status = runtime.status()
            print(f"{runtime.spec.name:<16} {status.state:<14} {status.message}")
            if status.hint:
                print(f"{'':<16} fix: {status.hint}")
        return 0
    if args.name not in RUNTIMES:
        print(f"amphion-studio: name a runtime: {', '.join(RUNTIMES)}.", file=sys.stderr)
        return 2
    runtime = Runtime.named(args.name, settings.runtimes)
    if args.action == "remove":
        print(f"Removed {runtime.dir}." if runtime.remove() else f"{runtime.dir} does not exist.")
        return 0
    try:
        status = runtime.install(say=lambda line: print(line, flush=True))
    except RuntimeBuildError as exc:
        print(f"amphion-studio: {exc}", file=sys.stderr)
        return 1
    print(status.message)
    return 0 if status.ready else 1


def _checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    from engines.contract import InvalidRequest
    from engines.registry import Registry
    from engines.requirements import format_bytes

    from .checkpoints import CheckpointService
    from .storage import Paths

    service = CheckpointService(Registry(context=settings, extra_packages=settings.engine_packages),
                                Paths(settings.home))
    try:
        if args.action == "list":
            for found in service.list(args.engine):
                print(f"{found.name:<40} {format_bytes(found.size_bytes):>10}  {found.path}")
            return 0
        if not args.path:
            print(f"amphion-studio: checkpoint {args.action} needs a "
                  f"{'path' if args.action == 'add' else 'name'}.", file=sys.stderr)
            return 2
        if args.action == "remove":
            print(f"Removed {args.path}: freed {format_bytes(service.remove(args.engine, args.path))}.")
            return 0
        added = service.add(args.engine, Path(args.path), args.name)
        engine = service.registry.get(args.engine)
        print(f"Added {added.name} ({format_bytes(added.size_bytes)}) to {engine.name}: {engine.check().label}.")
        return 0
    except InvalidRequest as exc:
        print(f"amphion-studio: {exc}", file=sys.stderr)
        return 1
