"""The composition root of the domain: builds every service once; pages, the API and the CLI receive it."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine as SqlEngine

from engines.registry import Registry

from . import memory
from .audio_refs import upload_resolver
from .checkpoints import CheckpointService
from .conversion import ConversionService
from .db import open_database
from .evaluation import EvaluationService
from .generation import GenerationService
from .history import HistoryService
from .history.compare import UPLOAD, Comparisons, clip_key
from .history.saved import SavedComparisons
from .jobs import ACTIVE_STATES, JobContext, JobInfo, JobQueue
from .library import LibraryService
from .logs import configure_logging
from .model_manager import ModelManager
from .projects import ProjectService
from .prompt_cache import PromptCache
from .settings import Settings, SettingsError
from .storage import Paths
from .transcription import TranscriptionService
from .uploads import UploadService, UploadUser
from .weights import WeightManager

log = logging.getLogger(__name__)

LOAD_MODEL = "load_model"
MEMORY_SAMPLE_SECONDS = 2.0


@dataclass
class Services:
    settings: Settings
    paths: Paths
    db: SqlEngine
    registry: Registry
    models: ModelManager
    jobs: JobQueue
    generation: GenerationService
    transcription: TranscriptionService
    uploads: UploadService
    prompt_cache: PromptCache
    library: LibraryService
    history: HistoryService
    comparisons: Comparisons
    conversion: ConversionService
    evaluation: EvaluationService
    weights: WeightManager
    projects: ProjectService
    checkpoints: CheckpointService
    saved_comparisons: SavedComparisons

    def __post_init__(self) -> None:
        self._stopping = threading.Event()

    def start(self) -> None:
        """Start the job worker and the memory sampler. Nothing here imports torch: the device is found at the
        first model load (studio/memory.py)."""
        self._stopping.clear()
        self.history.reconcile()  # before the worker starts, so no job finishes meanwhile
        self.jobs.start()
        threading.Thread(target=self._sample_memory, name="studio-memory", daemon=True).start()

    def _sample_memory(self) -> None:
        while not self._stopping.is_set():
            self.models.sample()
            self._stopping.wait(MEMORY_SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stopping.set()
        if not self.jobs.stop():
            log.warning("the running job did not stop in time; it will show as interrupted after a restart")

    def load_model(self, engine_id: str, options: dict[str, Any] | None = None) -> JobInfo:
        """Queue a model load, so it runs on the worker like every other use of the device."""
        engine = self.registry.get(engine_id)
        return self.jobs.submit(LOAD_MODEL, {"engine_id": engine_id, "options": options or {}},
                                title=f"Load {engine.name}", engine_id=engine_id)

    def _run_load_model(self, ctx: JobContext) -> dict[str, Any]:
        engine = self.registry.get(ctx.payload["engine_id"])
        info = self.models.load(engine, ctx.payload.get("options", {}), ctx.progress)
        return {"key": info.key, "footprint": info.footprint, "load_seconds": info.load_seconds}


def check_default_engine(settings: Settings, registry: Registry) -> None:
    """The default_engine setting must name a speech engine the registry has."""
    engine_id = settings.default_engine
    if engine_id not in registry or registry.get(engine_id).task != "tts":
        raise SettingsError(f"Setting default_engine = {engine_id!r} is not a speech engine of this studio: use "
                            f"one of {', '.join(e.id for e in registry.for_task('tts'))}.")


def build_services(settings: Settings, registry: Registry | None = None) -> Services:
    memory.map_large_allocations_directly()
    paths = Paths(settings.home).ensure()
    configure_logging(paths.logs, settings.log_level)
    registry = registry or Registry(context=settings, extra_packages=settings.engine_packages)
    check_default_engine(settings, registry)
    db = open_database(paths.database)
    models = ModelManager(registry, settings.device, settings.memory_budget_gb)
    jobs = JobQueue(db, log_path=str(paths.logs / "studio.log"))
    prompt_cache = PromptCache(db, paths.prompt_cache)
    generation = GenerationService(registry, models, jobs, paths, prompt_cache)
    transcription = TranscriptionService(registry, models, jobs)
    uploads = UploadService(db, paths)
    library = LibraryService(db, paths, uploads, jobs, transcription, registry, prompt_cache)
    generation.audio_refs.register("upload", upload_resolver(uploads))
    generation.audio_refs.register("sample", library.resolve_sample)  # before "profile": a retry keeps its sample
    generation.audio_refs.register("profile", library.resolve_profile)
    history = HistoryService(db, paths, registry, jobs, generation)
    comparisons = Comparisons(db, registry, history, uploads)
    saved_comparisons = SavedComparisons(db, comparisons)
    guard_uploads(uploads, jobs, history, comparisons, saved_comparisons)
    conversion = ConversionService(registry, generation)
    evaluation = EvaluationService(registry, models, jobs, transcription, paths, db)
    history.on_delete(evaluation.forget_generations)  # a generation's scores are deleted with it
    conversion.similarity = evaluation.speaker_similarity  # result cards: similarity to the target and source
    weights = WeightManager(registry, jobs)
    projects = ProjectService(db, paths, library, history, comparisons, saved_comparisons,
                              on_import=lambda report: saved_comparisons.added_elsewhere(report.comparisons))
    checkpoints = CheckpointService(registry, paths)
    services = Services(settings, paths, db, registry, models, jobs, generation, transcription, uploads,
                        prompt_cache, library, history, comparisons, conversion, evaluation, weights, projects,
                        checkpoints, saved_comparisons)
    jobs.register(LOAD_MODEL, services._run_load_model)
    return services


def guard_uploads(uploads: UploadService, jobs: JobQueue, history: HistoryService, comparisons: Comparisons,
                  saved: SavedComparisons) -> None:
    """An upload a queued or running job, a generation, a blind vote or a saved comparison uses cannot be deleted
    from under it."""
    uploads.add_user(UploadUser("generation", history.using_upload, "DELETE /api/history/{id}"))
    uploads.add_user(UploadUser("blind-vote round", lambda i: comparisons.rounds_using(clip_key(UPLOAD, i)),
                                "DELETE /api/compare/votes/{round_id}"))
    uploads.add_user(UploadUser("saved comparison", lambda i: saved.using(clip_key(UPLOAD, i)),
                                "DELETE /api/compare/comparisons/{id}"))
    uploads.watch_jobs(lambda: [(job.id, job.payload) for job in jobs.list(limit=None, states=ACTIVE_STATES)])
