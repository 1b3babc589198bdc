"""`amphion-studio evaluate [REFERENCE] GENERATED`: the evaluation service from a shell, printed as a table or JSON."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..metrics import METRICS
from ..settings import Settings
from .report import Report, summary_text
from .service import EvaluationRequest

if TYPE_CHECKING:
    from ..jobs import JobInfo
    from ..services import Services

JOB_TIMEOUT = 7 * 24 * 3600.0


def evaluate(settings: Settings, args: argparse.Namespace, parse_options: Callable[[list[str]], dict[str, Any]]) -> int:
    from ..cli_jobs import run_job

    if len(args.paths) > 2:
        print("amphion-studio evaluate: give at most two paths, REFERENCE and GENERATED.", file=sys.stderr)
        return 2
    reference, generated = (None, args.paths[0]) if len(args.paths) == 1 else args.paths
    folder = Path(generated).is_dir()
    mode = "set" if folder else ("pair" if reference else "clip")

    def submit(services: Services) -> JobInfo:
        return services.evaluation.submit(EvaluationRequest(
            mode, str(Path(generated).absolute()), str(Path(reference).absolute()) if reference else None, args.text,
            str(Path(args.texts).absolute()) if args.texts else None,
            metrics=tuple(k for k in args.metrics.split(",")) if args.metrics else None,
            options=parse_options(args.option)))

    def show(services: Services, job: JobInfo) -> None:
        report = services.evaluation.report(job.id)
        assert report is not None
        print(json.dumps(report.flat(), indent=2, ensure_ascii=False) if args.json else table(report))
        if args.json:
            print_messages(report)

    return run_job(settings, submit, show, timeout=JOB_TIMEOUT)


def table(report: Report) -> str:
    """Metric, value (or mean ± std over n items), unit; then the messages."""
    lines = [report.title, ""]
    width = max(len(k) for k in report.metrics)
    single = len(report.items) == 1 and report.mode in ("clip", "pair")
    for key in report.metrics:
        metric = METRICS[key]
        if key in report.set_values or key in report.set_errors:
            value = report.set_values.get(key)
            text = metric.format(value) if value is not None else "—"
        elif single:
            text = metric.format(report.items[0].values.get(key))
        elif key in report.summary:
            stats = report.summary[key]
            text = f"{summary_text(key, stats)} (n={stats['n']})"
        else:
            text = "—"
        lines.append(f"{key:<{width}}  {text:<28}  {metric.label}")
    messages = list(iter_messages(report))
    if messages:
        lines += ["", "Messages:"] + [f"  {m}" for m in messages]
    return "\n".join(lines)


def iter_messages(report: Report):  # type: ignore[no-untyped-def]
    for key, message in report.set_errors.items():
        yield f"{key}: {message}"
    for item in report.items:
        prefix = f"{item.name}: " if len(report.items) > 1 else ""
        if item.error:
            yield prefix + item.error
        for key, message in item.errors.items():
            yield f"{prefix}{key}: {message}"
        for note in item.notes:
            yield f"{prefix}note: {note}"


def print_messages(report: Report) -> None:
    for message in iter_messages(report):
        print(message, file=sys.stderr)
