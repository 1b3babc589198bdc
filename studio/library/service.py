"""LibraryService: the voice library as the rest of the studio sees it.

It is the store of voice profiles and their samples (LibraryStore, studio/library/store.py: adding from uploads,
files and generations, versions, editing, deleting) and hands on to the two parts that work with the store:
SampleWork (studio/library/work.py: transcription and fixes as jobs, the doctor's report) and EngineReferences
(studio/library/references.py: the sample an engine is given for a profile). What the library keeps, its
refusals and its text rules are in studio/library/records.py.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine as SqlEngine

from engines.contract import Engine, InputSlot, Progress
from engines.registry import Registry

from ..audio_refs import ResolvedAudio
from ..jobs import INTERACTIVE, JobInfo, JobQueue
from ..prompt_cache import PromptCache
from ..storage import Paths
from ..transcription import DEFAULT_ASR, TranscriptionService
from ..uploads import UploadService
from . import doctor
from .records import SampleInfo
from .references import EngineReferences
from .store import LibraryStore
from .work import SampleWork


class LibraryService(LibraryStore):
    def __init__(self, db: SqlEngine, paths: Paths, uploads: UploadService, jobs: JobQueue,
                 transcription: TranscriptionService, registry: Registry, prompt_cache: PromptCache) -> None:
        super().__init__(db, paths, uploads, jobs, prompt_cache)
        self.transcription = transcription
        self.registry = registry
        self.work = SampleWork(self, jobs, transcription, registry, prompt_cache)
        self.references = EngineReferences(self)

    def _transcribe_new(self, sample_id: str) -> None:
        self.transcribe(sample_id, replace=False)  # what the user types meanwhile wins

    # -- work on samples (SampleWork) ----------------------------------------------------------------------

    def report(self, sample_id: str) -> doctor.Report:
        """The doctor's report (measures are kept with the sample; the verdict is made now)."""
        return self.work.report(sample_id)

    def diagnose(self, sample: SampleInfo) -> doctor.Report:
        return self.work.diagnose(sample)

    def transcribe(self, sample_id: str, engine_id: str = DEFAULT_ASR, params: dict[str, Any] | None = None,
                   priority: int = INTERACTIVE, replace: bool = True) -> JobInfo:
        """Queue a transcription of the sample (see SampleWork.transcribe)."""
        return self.work.transcribe(sample_id, engine_id, params, priority, replace)

    def fix(self, sample_id: str, fix: str, params: dict[str, Any] | None = None,
            priority: int = INTERACTIVE) -> JobInfo:
        """Queue a fix; the job's result names the new version it made."""
        return self.work.fix(sample_id, fix, params, priority)

    def apply_fix(self, sample_id: str, fix: str, params: dict[str, Any] | None = None,
                  progress: Progress | None = None) -> SampleInfo:
        """Make the fixed version now, on this thread (jobs call this)."""
        return self.work.apply_fix(sample_id, fix, params, progress)

    # -- references for engines (EngineReferences) ---------------------------------------------------------

    def best_sample(self, profile_id: str, engine: Engine, slot: InputSlot) -> SampleInfo:
        """The profile's sample that suits the engine's slot best (see EngineReferences.best_sample)."""
        return self.references.best_sample(profile_id, engine, slot)

    def resolve_sample(self, engine: Engine, slot: InputSlot, sample_id: str) -> ResolvedAudio | None:
        """{'sample': id} in an audio slot (the AudioRefs hook): that sample, or None when it is gone."""
        return self.references.resolve_sample(engine, slot, sample_id)

    def resolve_profile(self, engine: Engine, slot: InputSlot, key: str) -> ResolvedAudio | None:
        """{'profile': id or name} in an audio slot: the profile's best sample for this engine's slot."""
        return self.references.resolve_profile(engine, slot, key)
