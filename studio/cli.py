"""The `amphion-studio` command: serve (default), doctor, generate, convert, evaluate, download, delete, runtime,
export, import, checkpoint."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import cli_models
from .settings import Settings, SettingsError

if TYPE_CHECKING:
    from .jobs import JobInfo
    from .services import Services


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
    generate.add_argument("-e", "--engine", help="engine id (see `doctor`; default: the default_engine setting)")
    generate.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                          help="a parameter value, e.g. -p speed=1.2 -p seed=7 (repeatable)")
    generate.add_argument("--json", action="store_true", help="print the job's result as JSON")

    convert = commands.add_parser("convert", help="convert a voice or a song to another voice without the web page")
    convert.add_argument("source", help="the audio to convert (WAV, MP3, FLAC, OGG, M4A, or a video with sound)")
    convert.add_argument("-o", "--output", required=True, help="output file: .wav, .mp3, .flac or .ogg")
    convert.add_argument("-r", "--reference", help="a clip of the target voice")
    convert.add_argument("-t", "--task", choices=("vc", "svc", "enhance", "codec"), default="vc",
                         help="vc: speech (default); svc: singing; enhance: denoise (-r: the speaker to keep); "
                              "codec: encode and decode (-p bitrate_kbps=6 for Opus)")
    convert.add_argument("-e", "--engine", help="engine id (default: the best ready one for the task; see `doctor`)")
    convert.add_argument("-i", "--input", action="append", default=[], metavar="SLOT=FILE",
                         help="another audio input of the engine, e.g. -i style_reference=accent.wav (repeatable)")
    convert.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                         help="a parameter value, e.g. -p semitones=-5 -p formant_shift=0.9 (repeatable)")
    convert.add_argument("--json", action="store_true", help="print the job's result as JSON")

    evaluate = commands.add_parser(
        "evaluate", help="score generated audio against a reference (files or folders), or one clip alone",
        description="Print every metric that applies. Folders are matched by file name; a `name.txt` beside a "
                    "clip gives the text for WER/CER.")
    evaluate.add_argument("paths", nargs="+", metavar="[REFERENCE] GENERATED",
                          help="reference and generated file or folder; a single path is scored without reference")
    evaluate.add_argument("-t", "--text", help="what the generated clip should say (WER/CER)")
    evaluate.add_argument("--texts", metavar="FILE", help="for folders: a file of `name|text` lines")
    evaluate.add_argument("-m", "--metrics", help="comma-separated metric keys (default: all that apply)")
    evaluate.add_argument("-o", "--option", action="append", default=[], metavar="NAME=VALUE",
                          help="how metrics are computed, e.g. -o f0_method=pyworld -o periodicity_model=tiny")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object keyed by metric name")

    export = commands.add_parser("export", help="export voices, generations, saved comparisons and votes as one "
                                                "project zip")
    export.add_argument("--profiles", nargs="+", default=[], metavar="PROFILE",
                        help="voice profiles by name or id, each with all its samples")
    export.add_argument("--generations", nargs="+", default=[], metavar="ID",
                        help="generation ids, each with its takes, the voices and clips it used, and its votes")
    export.add_argument("--comparisons", nargs="+", default=[], metavar="ID",
                        help="saved comparison ids, each with the generations and uploads it compares")
    export.add_argument("--all", action="store_true", help="every voice, generation and vote of the studio")
    export.add_argument("-o", "--output", required=True, help="the project zip to write")

    import_ = commands.add_parser("import", help="import a project zip exported by a studio")
    import_.add_argument("project", help="the project zip")
    cli_models.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        overrides: dict[str, Any] = {"home": args.home}
        if args.command in (None, "serve"):
            overrides.update(host=getattr(args, "host", None), port=getattr(args, "port", None))
        settings = Settings.load(**overrides)
        return _command(settings, args)
    except SettingsError as exc:
        print(f"amphion-studio: {exc}", file=sys.stderr)
        return 2


def _command(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "doctor":
        from .doctor import report

        print(report(settings))
        return 0
    if args.command == "generate":
        return _generate(settings, args)
    if args.command == "convert":
        return _convert(settings, args)
    if args.command == "evaluate":
        from .evaluation.cli import evaluate

        return evaluate(settings, args, _parse_params)
    if args.command in cli_models.COMMANDS:
        return cli_models.run(settings, args)
    if args.command in ("export", "import"):
        return _project(settings, args)
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
    text = sys.stdin.read() if args.text == "-" else args.text
    return _run_job(settings, args, lambda services: services.generation.submit(
        args.engine or settings.default_engine, {"text": text}, _parse_params(args.param)))


def _convert(settings: Settings, args: argparse.Namespace) -> int:
    def submit(services: Services) -> JobInfo:
        store = services.uploads.store_file
        inputs = {}
        for pair in args.input:
            slot, sep, path = pair.partition("=")
            if not sep:
                raise ValueError(f"--input {pair!r}: write it as SLOT=FILE")
            inputs[slot.strip()] = store(_existing(path)).id
        reference = store(_existing(args.reference)).id if args.reference else None
        return services.conversion.submit(args.task, store(_existing(args.source)).id, reference,
                                          engine_id=args.engine, inputs=inputs, params=_parse_params(args.param))
    return _run_job(settings, args, submit)


def _existing(path: str) -> Path:
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    return Path(path)


def _run_job(settings: Settings, args: argparse.Namespace, submit: Callable[[Services], JobInfo]) -> int:
    """Submit a job, wait for it, and copy its audio to `args.output` in the format its suffix names."""
    from .audio.io import EXPORT_FORMATS
    from .cli_jobs import run_job

    output = Path(args.output)
    fmt = output.suffix.lstrip(".").lower()
    if fmt not in EXPORT_FORMATS:
        print(f"amphion-studio: {output.name}: end the output name with .{', .'.join(EXPORT_FORMATS)}", file=sys.stderr)
        return 2

    def write(services: Services, job: JobInfo) -> None:
        path, _ = services.generation.export(job, fmt)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, output)
        print(json.dumps(job.result, indent=2) if args.json else f"Wrote {output} ({job.result['duration']:.1f} s)")

    return run_job(settings, submit, write, timeout=24 * 3600)


def _project(settings: Settings, args: argparse.Namespace) -> int:
    """Export a selection to a zip, or import one; the studio's data is used directly (the server may be running)."""
    from .projects import ProjectError, Selection
    from .services import build_services

    if args.command == "import" and not Path(args.project).is_file():
        print(f"amphion-studio: {args.project}: no such file", file=sys.stderr)
        return 2
    services = build_services(settings)
    try:
        if args.command == "export":
            selection = Selection(tuple(args.profiles), tuple(args.generations), args.all, tuple(args.comparisons))
            summary = services.projects.export(selection, Path(args.output))
            print(f"Wrote {args.output}: {summary.describe()}")
        else:
            print(services.projects.import_project(Path(args.project)).describe())
        return 0
    except ProjectError as exc:
        print(f"amphion-studio: {exc}", file=sys.stderr)
        return 1 if exc.status >= 500 else 2
    finally:
        services.stop()
