"""Transcription: speech to text with word timestamps, through any engine of task 'asr'.

Other services call `transcribe()` from inside their own jobs (it runs on the calling thread, which is the
job worker); pages and the API queue a 'transcribe' job with `submit()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.contract import AudioInput, Engine, InvalidRequest, Progress, Request
from engines.registry import Registry

from .jobs import INTERACTIVE, JobContext, JobInfo, JobQueue
from .model_manager import ModelManager
from .readiness import runnable_request

TRANSCRIBE = "transcribe"
DEFAULT_ASR = "builtin.whisper"


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float = 1.0


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    duration: float
    words: tuple[Word, ...] = ()
    segments: tuple[dict[str, Any], ...] = field(default=())
    language_probability: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "language": self.language, "duration": self.duration,
                "language_probability": self.language_probability, "segments": list(self.segments),
                "words": [w.__dict__ for w in self.words]}

    def cues(self, max_chars: int = 84, max_seconds: float = 6.0) -> list[tuple[float, float, str]]:
        """Subtitle cues: words grouped up to a sentence end, `max_chars` or `max_seconds` (else the segments)."""
        if not self.words:
            return [(s["start"], s["end"], s["text"]) for s in self.segments if s.get("text")]
        cues: list[tuple[float, float, str]] = []
        group: list[Word] = []

        def flush() -> None:
            if group:
                cues.append((group[0].start, group[-1].end, " ".join(w.word for w in group)))
                group.clear()

        for word in self.words:
            if group and (len(" ".join(w.word for w in group)) + len(word.word) >= max_chars
                          or word.end - group[0].start > max_seconds):
                flush()
            group.append(word)
            if word.word.rstrip().endswith((".", "?", "!")):
                flush()
        flush()
        return cues

    def to_srt(self) -> str:
        def stamp(seconds: float) -> str:
            ms = int(round(max(seconds, 0.0) * 1000))
            return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

        return "".join(f"{i}\n{stamp(start)} --> {stamp(end)}\n{text.strip()}\n\n"
                       for i, (start, end, text) in enumerate(self.cues(), 1))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        return cls(data["text"], data.get("language", ""), data.get("duration", 0.0),
                   tuple(Word(w["start"], w["end"], w["word"], w.get("probability", 1.0)) for w in data.get("words", [])),
                   tuple(data.get("segments", [])), data.get("language_probability", 1.0))


@dataclass
class TranscriptionService:
    registry: Registry
    models: ModelManager
    jobs: JobQueue

    def __post_init__(self) -> None:
        self.jobs.register(TRANSCRIBE, self._run_job)

    def engines(self) -> list[str]:
        return [e.id for e in self.registry.for_task("asr")]

    def check(self, path: str | Path, engine_id: str = DEFAULT_ASR,
              params: dict[str, Any] | None = None) -> tuple[Engine, Request]:
        """The engine and the checked request; InvalidRequest or EngineNotReady say what to fix."""
        if engine_id not in self.registry or self.registry.get(engine_id).task != "asr":
            raise InvalidRequest(f"{engine_id!r} is not a transcription engine; use one of {', '.join(self.engines())}.")
        engine = self.registry.get(engine_id)
        return engine, runnable_request(engine, {"audio": AudioInput(str(path))}, params or {})

    def transcribe(self, path: str | Path, engine_id: str = DEFAULT_ASR, params: dict[str, Any] | None = None,
                   progress: Progress | None = None) -> Transcript:
        """Transcribe now, on this thread (call it from a job). `params` are the ASR engine's own."""
        engine, request = self.check(path, engine_id, params)
        progress = progress or Progress()
        with self.models.use(engine, request.params, progress.span(0, 0.2)) as model:
            result = engine.run(model, request, progress.span(0.2, 1.0))
        return Transcript.from_dict(result.extras)

    def submit(self, path: str | Path, engine_id: str = DEFAULT_ASR, params: dict[str, Any] | None = None,
               priority: int = INTERACTIVE, title: str | None = None) -> JobInfo:
        self.check(path, engine_id, params)  # refuse bad params, and weights offline jobs cannot fetch, before queueing
        return self.jobs.submit(TRANSCRIBE, {"engine_id": engine_id, "path": str(path), "params": params or {}},
                                title=title or f"Transcribe {Path(path).name}", task="asr", engine_id=engine_id,
                                priority=priority)

    def _run_job(self, ctx: JobContext) -> dict[str, Any]:
        p = ctx.payload
        return self.transcribe(p["path"], p["engine_id"], p["params"], ctx.progress).to_dict()
