"""Generation: checks a request against its engine, queues it, and runs it on the job worker.

The job's payload is everything needed to run it again (seeds drawn at submission), so a retry or a
re-run after a crash reproduces the same audio. The result file lives under STUDIO_HOME/generations.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.contract import AudioInput, Engine, InvalidRequest, Progress, Request, Result
from engines.registry import Registry

from .audio.io import EXPORT_FORMATS, crossfade_join, export, to_mono, write_audio
from .audio_refs import AudioRefs
from .jobs import INTERACTIVE, JobContext, JobInfo, JobQueue
from .jobs.errors import is_out_of_memory
from .model_manager import ModelManager
from .prompt_cache import PromptCache
from .readiness import runnable_request
from .storage import Paths
from .text_chunks import split_text

log = logging.getLogger(__name__)

GENERATE = "generate"
CROSSFADE_SECONDS = 0.05


@dataclass
class GenerationService:
    registry: Registry
    models: ModelManager
    jobs: JobQueue
    paths: Paths
    prompt_cache: PromptCache | None = None
    audio_refs: AudioRefs = field(default_factory=AudioRefs)  # resolves {"upload": id}, {"profile": id}, ...

    def __post_init__(self) -> None:
        self.jobs.register(GENERATE, self._run_job)

    def prepare(self, engine_id: str, inputs: dict[str, Any], params: dict[str, Any]) -> tuple[Engine, Request]:
        """The engine and the checked request; InvalidRequest or EngineNotReady say what to fix (weights the params
        need that are missing while the studio is offline make it not ready)."""
        if engine_id not in self.registry:
            raise InvalidRequest(f"There is no engine {engine_id!r}. Pick one of: "
                                 f"{', '.join(e.id for e in self.registry)}.")
        engine = self.registry.get(engine_id)
        return engine, runnable_request(engine, self.audio_refs.resolve(engine, inputs), params)

    def submit(self, engine_id: str, inputs: dict[str, Any], params: dict[str, Any] | None = None,
               priority: int = INTERACTIVE, take_of: str | None = None, title: str | None = None) -> JobInfo:
        """Queue a generation; `take_of` names the generation this one is a new take of (a re-run, a variation)."""
        engine, request = self.prepare(engine_id, inputs, params or {})
        request = engine.with_seeds_drawn(request)
        text = request.inputs.get("text")
        title = title or (f"{engine.name}: {text[:80]}" if isinstance(text, str) else engine.name)
        payload: dict[str, Any] = {"engine_id": engine.id, "inputs": request.inputs, "params": request.params}
        if take_of:
            payload["take_of"] = take_of
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
        return export_as(source, fmt, self.paths.exports, job.title, job.id)

    # -- on the worker thread ------------------------------------------------------------------------------

    def _run_job(self, ctx: JobContext) -> dict[str, Any]:
        payload = ctx.payload
        engine, request = self.prepare(payload["engine_id"], payload["inputs"], payload["params"])
        prompts = self.prompt_cache.for_engine(engine, request.params) if self.prompt_cache else None
        request = Request(_audio_inputs(engine, request.inputs), request.params,
                          **({"prompts": prompts} if prompts else {}))
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
            **_references(engine, payload["inputs"]),
            **({"prompt_cache": {"hits": prompts.stats.hits, "misses": prompts.stats.misses}}
               if prompts and (prompts.stats.hits or prompts.stats.misses) else {}),
        }

    def _run_once(self, engine, request, load_progress, run_progress):  # type: ignore[no-untyped-def]
        with self.models.use(engine, request.params, load_progress) as model:
            started = time.perf_counter()
            result = run_in_chunks(engine, model, request, run_progress)
            return result, time.perf_counter() - started


def run_in_chunks(engine: Engine, model: Any, request: Request, progress: Progress) -> Result:
    """engine.run, or, when the engine asks for text in chunks and the text is longer, one run per chunk
    (same parameters and seed) joined with a cross-fade; progress and cancellation per chunk."""
    slot = next((s for s in engine.inputs if s.kind == "text" and s.chunk_chars), None)
    text = request.inputs.get(slot.name) if slot else None
    chunks = split_text(text, slot.chunk_chars) if slot and isinstance(text, str) else []  # type: ignore[arg-type]
    if len(chunks) <= 1:
        return engine.run(model, request, progress)
    parts, results = [], []
    for i, chunk in enumerate(chunks):
        part = Request({**request.inputs, slot.name: chunk}, request.params, request.prompts)  # type: ignore[union-attr]
        result = engine.run(model, part, progress.span(i / len(chunks), (i + 1) / len(chunks),
                                                       f"Chunk {i + 1} of {len(chunks)}"))
        parts.append(to_mono(result.audio))  # type: ignore[arg-type]
        results.append(result)
    audio = crossfade_join(parts, results[0].sample_rate, CROSSFADE_SECONDS)
    return Result(audio, results[0].sample_rate, {**results[0].extras, "chunks": len(chunks)})


def export_as(source: Path, fmt: str, exports: Path, title: str, generation_id: str) -> tuple[Path, str]:
    """`source` as `fmt` (re-encoded once into `exports`) and the file name to download it as."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidRequest(f"Unknown format {fmt!r}: use {', '.join(EXPORT_FORMATS)}.")
    path = source if fmt == "wav" else export(source, fmt, exports / f"{generation_id}.{fmt}")
    return path, download_name(title, generation_id, fmt)


def download_name(title: str, generation_id: str, fmt: str) -> str:
    """A file name a browser can save: a slug of the title, the id, the format's suffix."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:48].rstrip("-") or "generation"
    return f"{slug}-{generation_id}.{fmt}"


def _audio_inputs(engine: Engine, inputs: dict[str, Any]) -> dict[str, Any]:
    """Audio slots arrive as {'path', 'transcript'} dicts in the payload; engines get AudioInput."""
    converted = dict(inputs)
    for slot in engine.inputs:
        value = inputs.get(slot.name)
        if slot.kind == "audio" and isinstance(value, dict):
            converted[slot.name] = AudioInput(value["path"], value.get("transcript"))
    return converted


def _references(engine: Engine, inputs: dict[str, Any]) -> dict[str, Any]:
    """Which library profile and sample each audio slot used, for the result (and the history)."""
    used = {slot.name: {k: v for k, v in inputs[slot.name].items() if k != "path"}
            for slot in engine.inputs if slot.kind == "audio" and isinstance(inputs.get(slot.name), dict)
            and "sample" in inputs[slot.name]}
    return {"references": used} if used else {}


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
