"""Voice and singing conversion: a source performance sung or spoken again in another voice (and, on the same
pattern, enhancement and codecs: a source cleaned up, or encoded and decoded).

Conversion engines are ordinary engines (task "vc", "svc", "enhance" or "codec") whose inputs are audio slots, so
their jobs are 'generate' jobs run by the GenerationService; this service adds what conversion callers share: the
engine to use when none is named, which slot the target voice goes in, a title that names the clips, and where a
finished job's source is, so it can be shown next to the result.

Slot names the pages, API and CLI understand: "source" (the performance, required) and a target voice in
"reference" (a clip of the voice to sound like), "timbre_reference" or "style_reference". Engines may declare
more audio or text slots; the page renders each one from its InputSlot.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.contract import TASK_TITLES, Engine, InvalidRequest
from engines.registry import Registry

from .generation import GenerationService
from .jobs import INTERACTIVE, JobInfo

# enhancement: a source cleaned up, optionally guided by an enrolment clip; codec: a source encoded and decoded
TASKS = ("vc", "svc", "enhance", "codec")
SOURCE_SLOT = "source"
TARGET_SLOTS = ("reference", "timbre_reference", "style_reference")  # the target voice, in order of preference
DSP_ENGINES = {"vc": "builtin.world_vc", "svc": "builtin.world_svc",  # offline; the default without a neural model
               "enhance": "builtin.deepfilter", "codec": "builtin.opus"}

# The speaker-similarity metric (set by the composition root to EvaluationService.speaker_similarity, resemblyzer):
# (clip, clip) -> cosine similarity in [-1, 1], blocking; raises studio.metrics.MetricError when it has no value.
# When set, result cards show the converted clip's similarity to the target and to the source.
SpeakerSimilarity = Callable[[Path, Path], float]


@dataclass
class ConversionService:
    registry: Registry
    generation: GenerationService
    similarity: SpeakerSimilarity | None = None

    def engines(self, task: str) -> list[Engine]:
        return self.registry.for_task(_checked_task(task))

    def default_engine(self, task: str) -> Engine:
        """A ready neural engine when there is one, else the offline WORLD converter."""
        engines = self.engines(task)
        ready = [e for e in engines if e.check().ready]
        neural = [e for e in ready if e.id != DSP_ENGINES.get(task)]
        chosen = (neural or ready or engines or [None])[0]
        if chosen is None:
            raise InvalidRequest(f"No {TASK_TITLES[task].lower()} engine is installed.")
        return chosen

    @staticmethod
    def target_slot(engine: Engine) -> str | None:
        """The slot a target voice clip goes in (for `--reference` and the API's `reference`)."""
        audio = [s.name for s in engine.inputs if s.kind == "audio" and s.name != SOURCE_SLOT]
        return next((name for name in TARGET_SLOTS if name in audio), audio[0] if len(audio) == 1 else None)

    def submit(self, task: str, source: Any, reference: Any = None, *, engine_id: str | None = None,
               inputs: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
               priority: int = INTERACTIVE) -> JobInfo:
        """Queue a conversion of `source` (an upload id or audio reference) toward `reference`, if given."""
        engine = self.registry.get(engine_id) if engine_id in self.registry else None
        if engine_id and engine is None:
            raise InvalidRequest(f"There is no engine {engine_id!r}. Pick one of: "
                                 f"{', '.join(e.id for e in self.engines(task))}.")
        engine = engine or self.default_engine(task)
        if engine.task != _checked_task(task):
            raise InvalidRequest(f"{engine.name} is a {TASK_TITLES.get(engine.task, engine.task).lower()} engine, "
                                 f"not a {TASK_TITLES[task].lower()} engine.")
        all_inputs = {**(inputs or {}), SOURCE_SLOT: source}
        if reference is not None:
            slot = self.target_slot(engine)
            if slot is None:
                raise InvalidRequest(f"{engine.name} takes no target voice clip; "
                                     f"its inputs are {', '.join(s.name for s in engine.inputs)}.")
            all_inputs[slot] = reference
        engine, request = self.generation.prepare(engine.id, all_inputs, params or {})
        return self.generation.submit(engine.id, all_inputs, params, priority, title=_title(engine, request.inputs))

    def source_path(self, job: JobInfo) -> Path | None:
        """The source clip a finished conversion job read (None when it was deleted since)."""
        return self.input_path(job, SOURCE_SLOT)

    def input_path(self, job: JobInfo, slot: str) -> Path | None:
        value = job.payload.get("inputs", {}).get(slot)
        path = Path(value["path"]) if isinstance(value, dict) and value.get("path") else None
        return path if path is not None and path.is_file() else None


def _checked_task(task: str) -> str:
    if task not in TASKS:
        raise InvalidRequest(f"Conversion task {task!r} is not one of {', '.join(TASKS)}.")
    return task


def _title(engine: Engine, inputs: dict[str, Any]) -> str:
    source = clip_name(inputs.get(SOURCE_SLOT)) or "source"
    target = next((voice_name(inputs.get(s)) for s in TARGET_SLOTS if voice_name(inputs.get(s))), None)
    return f"{engine.name}: {source}" + (f" → {target}" if target else "")


def clip_name(value: Any) -> str | None:
    """What a resolved audio input is called: the clip's name."""
    return value.get("name") if isinstance(value, dict) else None


def voice_name(value: Any) -> str | None:
    """What a resolved target voice is called: its library voice's name, else the clip's."""
    return (value.get("profile_name") or value.get("name")) if isinstance(value, dict) else None
