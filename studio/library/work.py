"""SampleWork: what the studio does to the library's samples: transcribes them (a job; timed words kept), has
the reference doctor judge them, and fixes them (a job that adds a new version; the sample stays)."""
from __future__ import annotations

from typing import Any

from engines.contract import EngineError, InvalidRequest, Progress
from engines.registry import Registry

from ..audio.io import read_audio
from ..jobs import INTERACTIVE, JobContext, JobInfo, JobQueue
from ..prompt_cache import PromptCache
from ..transcription import DEFAULT_ASR, TranscriptionService
from . import doctor
from .fixes import FIXES
from .records import MIN_SAMPLE_SECONDS, LibraryError, SampleInfo
from .store import LibraryStore

TRANSCRIBE_SAMPLE = "library.transcribe"
FIX_SAMPLE = "library.fix"


class SampleWork:
    def __init__(self, store: LibraryStore, jobs: JobQueue, transcription: TranscriptionService, registry: Registry,
                 prompt_cache: PromptCache) -> None:
        self._store = store
        self._jobs = jobs
        self._transcription = transcription
        self._registry = registry
        self._prompt_cache = prompt_cache
        jobs.register(TRANSCRIBE_SAMPLE, self._run_transcribe)
        jobs.register(FIX_SAMPLE, self._run_fix)

    # -- the doctor ----------------------------------------------------------------------------------------

    def report(self, sample_id: str) -> doctor.Report:
        """The doctor's report (measures are kept with the sample; the verdict is made now)."""
        return self.diagnose(self._store.sample(sample_id))

    def diagnose(self, sample: SampleInfo) -> doctor.Report:
        measures = sample.measures
        if measures is None:
            audio, rate = read_audio(sample.normalised)
            measures = doctor.measure(audio, rate)
            self._store.update_sample(sample.id, measures=measures)
        return doctor.diagnose(measures, list(self._registry))

    # -- transcription -------------------------------------------------------------------------------------

    def transcribe(self, sample_id: str, engine_id: str = DEFAULT_ASR, params: dict[str, Any] | None = None,
                   priority: int = INTERACTIVE, replace: bool = True) -> JobInfo:
        """Queue a transcription of the sample; its timed words are saved with it, and the transcript too unless
        `replace` is False and the user typed one meanwhile (the automatic transcription of a new sample)."""
        sample = self._store.sample(sample_id)
        params = dict(params) if params is not None else self._language_hint(sample, engine_id)
        self._transcription.check(sample.normalised, engine_id, params)  # refuse bad params before queueing
        return self._jobs.submit(TRANSCRIBE_SAMPLE, {"sample_id": sample_id, "engine_id": engine_id,
                                                     "params": params, "replace": replace},
                                 title=f"Transcribe sample {sample.name}", task="asr", engine_id=engine_id,
                                 priority=priority)

    def _language_hint(self, sample: SampleInfo, engine_id: str) -> dict[str, Any]:
        language = self._store.profile(sample.profile_id).language.split("-")[0]
        if not language or engine_id not in self._registry:
            return {}
        try:
            self._registry.get(engine_id).param("language").coerce(language)
        except (KeyError, InvalidRequest):
            return {}
        return {"language": language}

    def _run_transcribe(self, ctx: JobContext) -> dict[str, Any]:
        p = ctx.payload
        sample = self._store.sample(p["sample_id"])
        transcript = self._transcription.transcribe(sample.normalised, p["engine_id"], p["params"], ctx.progress)
        words = [w.__dict__ for w in transcript.words]
        current = self._store.sample(sample.id)
        changes: dict[str, Any] = {"words": words or None, "language": transcript.language}
        if p.get("replace", True) or current.transcript_source != "user" or not current.transcript:
            changes.update(transcript=transcript.text, transcript_source=p["engine_id"])
        self._store.update_sample(sample.id, **changes)
        if changes.get("transcript", current.transcript) != current.transcript:
            self._prompt_cache.invalidate(audio_hash=sample.audio_hash)
        return {"sample_id": sample.id, "text": transcript.text, "language": transcript.language,
                "words": len(words), "saved": "transcript" in changes}

    # -- fixes ---------------------------------------------------------------------------------------------

    def fix(self, sample_id: str, fix: str, params: dict[str, Any] | None = None,
            priority: int = INTERACTIVE) -> JobInfo:
        """Queue a fix; the job's result names the new version it made."""
        sample = self._store.sample(sample_id)
        if fix not in FIXES:
            raise LibraryError(f"Unknown fix {fix!r}: use one of {', '.join(FIXES)}.")
        return self._jobs.submit(FIX_SAMPLE, {"sample_id": sample_id, "fix": fix, "params": params or {}},
                                 title=f"{FIXES[fix][0]}: {sample.name}", task="library", priority=priority)

    def apply_fix(self, sample_id: str, fix: str, params: dict[str, Any] | None = None,
                  progress: Progress | None = None) -> SampleInfo:
        """Make the fixed version now, on this thread (jobs call this)."""
        progress = progress or Progress()
        sample = self._store.sample(sample_id)
        if fix not in FIXES:
            raise LibraryError(f"Unknown fix {fix!r}: use one of {', '.join(FIXES)}.")
        label, function = FIXES[fix]
        words = sample.words
        if fix == "best_window" and not words:
            progress(0.0, "Transcribing to find the words")
            transcript = self._transcription.transcribe(sample.normalised, DEFAULT_ASR,
                                                        self._language_hint(sample, DEFAULT_ASR),
                                                        progress.span(0, 0.6))
            words = [w.__dict__ for w in transcript.words]
            self._store.update_sample(sample.id, words=words or None)
        progress(0.6 if fix == "best_window" else 0.0, label)
        audio, rate = read_audio(sample.normalised)
        fixed = function(audio, rate, words, progress=lambda f: progress(0.1 + 0.8 * f, label), **(params or {}))
        if len(fixed.audio) < MIN_SAMPLE_SECONDS * rate:
            raise EngineError(f"{label} would leave {len(fixed.audio) / rate:.1f} s, less than a sample needs "
                              f"({MIN_SAMPLE_SECONDS:g} s); the original is unchanged.")
        progress(0.9, "Saving the new version")
        return self._store.add_version(sample, fixed, rate, label)

    def _run_fix(self, ctx: JobContext) -> dict[str, Any]:
        p = ctx.payload
        try:
            made = self.apply_fix(p["sample_id"], p["fix"], p["params"], ctx.progress)
        except LibraryError as exc:
            raise EngineError(str(exc)) from None
        return {"sample_id": made.id, "parent_id": made.parent_id, "fix": made.fix, "duration": made.duration}
