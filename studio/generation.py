"""Generation: checks a request against its engine, queues it, and runs it on the job worker.

The job's payload is everything needed to run it again (seeds drawn at submission), so a retry or a
re-run after a crash reproduces the same audio. The result file lives under STUDIO_HOME/generations.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.contract import AudioInput, Engine, EngineError, InvalidRequest, Request
from engines.registry import Registry
from engines.requirements import Readiness

from .audio.io import EXPORT_FORMATS, export, write_audio
from .jobs import INTERACTIVE, JobContext, JobInfo, JobQueue
from .jobs.errors import is_out_of_memory
from .model_manager import ModelManager
from .storage import Paths

log = logging.getLogger(__name__)

GENERATE = "generate"


class EngineNotReady(EngineError):
    def __init__(self, engine: Engine, readiness: Readiness) -> None:
        hints = " ".join(readiness.hints)
        super().__init__(f"{engine.name} is not ready: {readiness.message}" + (f" To fix: {hints}" if hints else ""))
        self.readiness = readiness


@dataclass
class GenerationService:
    registry: Registry
    models: ModelManager
    jobs: JobQueue
    paths: Paths

    def __post_init__(self) -> None:
        self.jobs.register(GENERATE, self._run_job)

    def prepare(self, engine_id: str, inputs: dict[str, Any], params: dict[str, Any]) -> tuple[Engine, Request]:
        """The engine and the checked request; InvalidRequest or EngineNotReady say what to fix."""
        if engine_id not in self.registry:
            raise InvalidRequest(f"There is no engine {engine_id!r}. Pick one of: "
                                 f"{', '.join(e.id for e in self.registry)}.")
        engine = self.registry.get(engine_id)
        readiness = engine.check()
        if not readiness.runnable:
            raise EngineNotReady(engine, readiness)
        return engine, engine.validate(inputs, params)

    def submit(self, engine_id: str, inputs: dict[str, Any], params: dict[str, Any] | None = None,
               priority: int = INTERACTIVE) -> JobInfo:
        engine, request = self.prepare(engine_id, inputs, params or {})
        request = engine.with_seeds_drawn(request)
        text = request.inputs.get("text")
        title = f"{engine.name}: {text[:80]}" if isinstance(text, str) else engine.name
        payload = {"engine_id": engine.id, "inputs": request.inputs, "params": request.params}
        return self.jobs.submit(GENERATE, payload, title=title, task=engine.task, engine_id=engine.id,
                                priority=priority)

    def audio_path(self, job: JobInfo) -> Path | None:
        """The absolute path of a finished generation's audio, or None."""
        if not job.result or "audio" not in job.result:
            return None
        return self.paths.home / job.result["audio"]

    def export(self, job: JobInfo, fmt: str) -> tuple[Path, str]:
        """The job's audio as `fmt` (wav, mp3, flac, ogg) and a file name to download it as."""
        source = self.audio_path(job)
        if source is None or not source.exists():
            raise FileNotFoundError(f"job {job.id} has no audio")
        if fmt not in EXPORT_FORMATS:
            raise InvalidRequest(f"Unknown format {fmt!r}: use {', '.join(EXPORT_FORMATS)}.")
        path = source if fmt == "wav" else export(source, fmt, self.paths.exports / f"{job.id}.{fmt}")
        slug = re.sub(r"[^a-z0-9]+", "-", job.title.lower()).strip("-")[:48].rstrip("-") or "generation"
        return path, f"{slug}-{job.id}.{fmt}"

    # -- on the worker thread ------------------------------------------------------------------------------

    def _run_job(self, ctx: JobContext) -> dict[str, Any]:
        payload = ctx.payload
        engine, request = self.prepare(payload["engine_id"], payload["inputs"], payload["params"])
        request = Request(_audio_inputs(engine, request.inputs), request.params)
        key = engine.load_key(request.params)
        loading = not self.models.is_loaded(key)
        load_progress, run_progress = (ctx.progress.span(0, 0.3), ctx.progress.span(0.3, 1)) if loading \
            else (ctx.progress.span(0, 0), ctx.progress)
        try:
            result, seconds = self._run_once(engine, request, load_progress, run_progress)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            log.warning("out of memory in %s; unloading the other models and retrying once", engine.id)
            self.models.unload_all(keep=(key,))
            result, seconds = self._run_once(engine, request, load_progress, run_progress)
        relative = f"generations/{ctx.job.id}.wav"
        write_audio(self.paths.home / relative, result.audio, result.sample_rate)
        return {
            "audio": relative,
            "sample_rate": result.sample_rate,
            "duration": result.duration,
            "channels": 1 if result.audio.ndim == 1 else int(result.audio.shape[0]),
            "engine_seconds": seconds,
            "rtf": seconds / result.duration if result.duration else None,
            "extras": _json_safe(result.extras),
        }

    def _run_once(self, engine, request, load_progress, run_progress):  # type: ignore[no-untyped-def]
        with self.models.use(engine, request.params, load_progress) as model:
            started = time.perf_counter()
            result = engine.run(model, request, run_progress)
            return result, time.perf_counter() - started


def _audio_inputs(engine: Engine, inputs: dict[str, Any]) -> dict[str, Any]:
    """Audio slots arrive as {'path', 'transcript'} dicts in the payload; engines get AudioInput."""
    converted = dict(inputs)
    for slot in engine.inputs:
        value = inputs.get(slot.name)
        if slot.kind == "audio" and isinstance(value, dict):
            converted[slot.name] = AudioInput(value["path"], value.get("transcript"))
    return converted


def _json_safe(extras: dict[str, Any]) -> dict[str, Any]:
    """The extras a job row can hold: small JSON values; arrays and big blobs stay out of the database."""
    safe: dict[str, Any] = {}
    for key, value in extras.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            safe[key] = value
        elif isinstance(value, (list, tuple)) and len(value) <= 200 and all(
                isinstance(v, (str, int, float, bool)) for v in value):
            safe[key] = list(value)
    return safe
