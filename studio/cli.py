"""The `amphion-studio` command: serve (default), doctor, generate, download, delete, runtime."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from . import cli_models
from .settings import Settings, SettingsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amphion-studio", description="A web studio for neural audio generation.")
    parser.add_argument("--home", help="data folder (default: $STUDIO_HOME or ~/.local/share/amphion-studio)")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="start the web studio (the default command)")
    serve.add_argument("--host", help="interface to listen on (default 0.0.0.0: the whole LAN)")
    serve.add_argument("--port", type=int, help="port (default 8080)")

    commands.add_parser("doctor", help="print the environment and every engine's readiness")

    generate = commands.add_parser("generate", help="synthesise speech without the web page")
    generate.add_argument("text", help="the text to speak ('-' reads standard input)")
    generate.add_argument("-o", "--output", required=True, help="output file: .wav, .mp3, .flac or .ogg")
    generate.add_argument("-e", "--engine", default="builtin.hibari", help="engine id (see `doctor`)")
    generate.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                          help="a parameter value, e.g. -p speed=1.2 -p seed=7 (repeatable)")
    generate.add_argument("--json", action="store_true", help="print the job's result as JSON")
    cli_models.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        overrides: dict[str, Any] = {"home": args.home}
        if args.command in (None, "serve"):
            overrides.update(host=getattr(args, "host", None), port=getattr(args, "port", None))
        settings = Settings.load(**overrides)
    except SettingsError as exc:
        print(f"amphion-studio: {exc}", file=sys.stderr)
        return 2
    if args.command == "doctor":
        from .doctor import report

        print(report(settings))
        return 0
    if args.command == "generate":
        return _generate(settings, args)
    if args.command in cli_models.COMMANDS:
        return cli_models.run(settings, args)
    return _serve(settings)


def _serve(settings: Settings) -> int:
    os.environ.setdefault("NICEGUI_STORAGE_PATH", str(settings.home / "nicegui"))
    from .app import run

    run(settings)
    return 0


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--param {pair!r}: write it as NAME=VALUE")
        try:
            params[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[name.strip()] = value
    return params


def _generate(settings: Settings, args: argparse.Namespace) -> int:
    from engines.contract import EngineError

    from .services import build_services

    text = sys.stdin.read() if args.text == "-" else args.text
    output = Path(args.output)
    fmt = output.suffix.lstrip(".").lower()
    services = build_services(settings)
    services.jobs.start()
    try:
        job = services.generation.submit(args.engine, {"text": text}, _parse_params(args.param))
        job = services.jobs.wait(job.id, timeout=24 * 3600)
        if job.error:
            print(f"amphion-studio: {job.error}", file=sys.stderr)
            return 1
        path, _ = services.generation.export(job, fmt)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, output)
        print(json.dumps(job.result, indent=2) if args.json else f"Wrote {output} ({job.result['duration']:.1f} s)")
        return 0
    except (EngineError, ValueError) as exc:
        print(f"amphion-studio: {exc}", file=sys.stderr)
        return 2
    finally:
        services.stop()
