"""The evaluation service: checks a request, queues an 'evaluate' job, scores every item on the worker, stores the
report (keyed by the job id; each item by the generate job it scored) and reads reports back.

Pages, the REST API and the CLI all go through `submit()`; the job runs `run()`, which other code may also call
from inside its own job. The history and the A/B view read a generation's newest scores (`latest_scores`); a
generation's scores are deleted with it (`forget_generations`; both in store.py); `speaker_similarity` gives one
similarity, for the conversion result card.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select as core_select
from sqlalchemy.engine import Engine as SqlEngine

from engines.builtin.pitch_trackers import crepe_capacity
from engines.contract import Cancelled, EngineError, InvalidRequest, Progress
from engines.registry import Registry

from ..audio.io import AudioReadError
from ..history.query import G
from ..jobs import INTERACTIVE, JobContext, JobInfo, JobQueue, JobState
from ..metrics import (Clip, EngineScorers, InvalidOptions, Item, MetricError, Options, applicable,
                       score_item, select as select_metrics)
from ..metrics.spectral import frechet_distance
from ..model_manager import ModelManager
from ..storage import Paths
from ..transcription import TranscriptionService
from ..uploads import safe_name
from .inputs import (Source, check_zip_name, generation_source, pair_folders, read_transcripts,
                     sidecar_text)
from .report import ItemResult, Report, summarise
from .store import ReportStore, item_keys

log = logging.getLogger(__name__)

EVALUATE = "evaluate"
SIMILARITY = "speaker_similarity"  # the job kind of `speaker_similarity`
SIMILARITY_WAIT = 600.0  # seconds a caller waits for its similarity job (it may queue behind others)
SIMILARITIES_KEPT = 256  # recent results, so a result card shown again asks no model
Mode = Literal["clip", "pair", "set", "jobs"]
MODES = ("clip", "pair", "set", "jobs")
MAX_TEXT = 20_000
FAD_ENGINES = {"vggish": "metric.vggish", "clap": "metric.clap"}  # Options.fad_model -> the embedding engine


@dataclass(frozen=True)
class EvaluationRequest:
    """What to evaluate. Paths are on the studio's machine (uploads are saved there first)."""

    mode: Mode
    generated: str | None = None  # a file (clip, pair) or a folder (set)
    reference: str | None = None
    text: str | None = None  # what the generated clip should say (clip, pair)
    transcripts: str | None = None  # a `name|text` file for a set
    jobs: tuple[str, ...] = ()  # generate jobs to score against their own inputs and text (mode jobs)
    metrics: tuple[str, ...] | None = None  # None: every metric that applies
    options: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    name: str = ""  # the item's name (clip, pair); default: the generated file's name

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> EvaluationRequest:
        data = dict(payload)
        data["jobs"] = tuple(data.get("jobs") or ())
        data["metrics"] = tuple(data["metrics"]) if data.get("metrics") is not None else None
        return cls(**data)

    def payload(self) -> dict[str, Any]:
        return {"mode": self.mode, "generated": self.generated, "reference": self.reference, "text": self.text,
                "transcripts": self.transcripts, "jobs": list(self.jobs),
                "metrics": list(self.metrics) if self.metrics is not None else None, "options": dict(self.options),
                "title": self.title, "name": self.name}


@dataclass
class EvaluationService(ReportStore):
    registry: Registry
    models: ModelManager
    jobs: JobQueue
    transcription: TranscriptionService
    paths: Paths
    db: SqlEngine

    revision: int = field(default=0, init=False)  # changes whenever stored scores do; the history and A/B poll it

    def __post_init__(self) -> None:
        self.jobs.register(EVALUATE, self._run_job)
        self.jobs.register(SIMILARITY, self._run_similarity)
        self._similarities: OrderedDict[tuple[Any, ...], float] = OrderedDict()
        self._similarities_lock = threading.Lock()  # callers run on NiceGUI's io threads

    # -- checking and queueing ------------------------------------------------------------------------------

    def prepare(self, request: EvaluationRequest) -> tuple[EvaluationRequest, list[Source]]:
        """The request with its metric list settled, and its items; InvalidRequest says what to fix."""
        if request.mode not in MODES:
            raise InvalidRequest(f"Unknown mode {request.mode!r}: use one of {', '.join(MODES)}.")
        if request.text is not None and len(request.text) > MAX_TEXT:
            raise InvalidRequest(f"The text is longer than {MAX_TEXT:,} characters.")
        try:
            options = Options.from_dict(request.options)
        except InvalidOptions as exc:
            raise InvalidRequest(str(exc)) from None
        sources = self.sources(request)
        has_reference = any(s.reference is not None and s.generated is not None for s in sources)
        has_text = any(s.text for s in sources)
        has_voice = any(s.voice is not None and s.generated is not None for s in sources)
        try:
            chosen = select_metrics(request.metrics)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        fitting = applicable(chosen, has_reference, has_text, has_voice)
        if request.mode != "set" or not has_reference:
            fitting = [k for k in fitting if k != "fad"]
        if request.metrics is None:
            chosen = fitting if request.mode != "set" else \
                [k for k in fitting if k != "fad" or self._fad_model(options.fad_model) is not None]
        elif set(chosen) - set(fitting):
            raise InvalidRequest(_why_not(sorted(set(chosen) - set(fitting)), has_reference, has_text, has_voice))
        if not chosen:
            raise InvalidRequest("No metric applies to this input.")
        return replace(request, metrics=tuple(chosen), options=options.to_dict()), sources

    def submit(self, request: EvaluationRequest, priority: int = INTERACTIVE) -> JobInfo:
        request, sources = self.prepare(request)
        title = request.title or self._title(request, sources)
        return self.jobs.submit(EVALUATE, {**request.payload(), "title": title}, title=title, task="evaluation",
                                priority=priority)

    def zip_path(self, filename: str) -> Path:
        """Where to save an uploaded zip of a set (a fresh folder under uploads/evaluation); checks the name first."""
        check_zip_name(filename)
        folder = self.paths.uploads / "evaluation" / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        return folder / safe_name(filename)

    def sources(self, request: EvaluationRequest) -> list[Source]:
        if request.mode == "jobs":
            if not request.jobs:
                raise InvalidRequest("Pick at least one generation to evaluate.")
            return [self._job_source(job_id) for job_id in request.jobs]
        generated = self._existing(request.generated, "generated")
        reference = self._existing(request.reference, "reference") if request.reference else None
        if request.mode == "set":
            for path, role in ((generated, "generated"), (reference, "reference")):
                if path is not None and not path.is_dir():
                    raise InvalidRequest(f"For a set, the {role} input must be a folder (or a zip); {path.name} is a file.")
            texts = read_transcripts(self._existing(request.transcripts, "transcripts")) if request.transcripts else None
            return pair_folders(reference, generated, texts)
        for path, role in ((generated, "generated"), (reference, "reference")):
            if path is not None and path.is_dir():
                raise InvalidRequest(f"The {role} input {path.name} is a folder: evaluate folders as a set.")
        if request.mode == "pair" and reference is None:
            raise InvalidRequest("A pair needs a reference clip as well as the generated one.")
        return [Source(request.name or generated.stem, generated, reference, (request.text or "").strip() or sidecar_text(generated),
                       source_job=self._generation_job(generated))]

    def _existing(self, path: str | None, role: str) -> Path:
        if not path:
            raise InvalidRequest(f"Choose the {role} audio.")
        resolved = Path(path).expanduser()
        resolved = resolved if resolved.is_absolute() else self.paths.home / resolved
        if not resolved.exists():
            raise InvalidRequest(f"The {role} input {path} does not exist.")
        return resolved

    def _generation_job(self, path: Path) -> str | None:
        """The generate job whose output `path` is, when it is one (generations/<job id>.wav)."""
        try:
            inside = path.resolve().parent == self.paths.generations.resolve()
        except OSError:
            return None
        if not inside:
            return None
        return path.stem if self._kept(path.stem) is not None or self.jobs.get(path.stem) is not None else None

    def _kept(self, generation_id: str) -> Any:
        """The generation's row in the history (title, engine, inputs, audio), or None; imported generations have
        no job."""
        with self.db.connect() as connection:
            return connection.execute(core_select(G.title, G.engine_id, G.inputs, G.audio)
                                      .where(G.id == generation_id)).first()

    def _job_source(self, job_id: str) -> Source:
        """A generation as an item (see generation_source), from its history row or else its job."""
        kept = self._kept(job_id)
        if kept is None:
            job = self.jobs.get(job_id)
            if job is None or job.kind != "generate":
                raise InvalidRequest(f"There is no generation {job_id}.")
            if not job.result or "audio" not in job.result:
                raise InvalidRequest(f"Generation {job_id} has no audio (it did not succeed).")
            kept = (job.title, job.payload.get("engine_id", ""), job.payload.get("inputs", {}), job.result["audio"])
        title, engine_id, inputs, audio = kept
        known = engine_id in self.registry
        source = generation_source(title[:60] or job_id, self.paths.home / audio, job_id,
                                   self.registry.get(engine_id).inputs if known else (), inputs, self.paths.home)
        if known:
            return source
        scored = "only its text and the clip itself are" if source.text else "only the clip itself is"
        return replace(source, notes=(f"Its engine {engine_id} is not installed here, so which input was its source "
                                      f"or its voice is unknown: {scored} scored.",))

    @staticmethod
    def _title(request: EvaluationRequest, sources: list[Source]) -> str:
        if request.mode == "set":
            return f"Set: {Path(request.generated or '').name} ({len(sources)} items)"
        if request.mode == "jobs":
            return f"Generations ({len(sources)})"
        source = sources[0]
        if source.reference is not None:
            return f"Pair: {source.reference.name} vs {source.generated.name if source.generated else '?'}"
        return f"Clip: {source.generated.name if source.generated else '?'}"

    # -- on the worker thread -------------------------------------------------------------------------------

    def _run_job(self, ctx: JobContext) -> dict[str, Any]:
        report = self.run(EvaluationRequest.from_payload(ctx.payload), ctx.progress, ctx.job.id)
        self.save(report)
        data = report.to_dict()
        return {"evaluation_id": report.id, "items": len(report.items), "failed_items": report.failed_items,
                "summary": data["summary"], "set_values": data["set_values"]}

    def run(self, request: EvaluationRequest, progress: Progress, evaluation_id: str) -> Report:
        """Score every item now, on this thread (inside a job); a bad item never stops the others."""
        request, sources = self.prepare(request)
        keys = list(request.metrics or ())
        options = self._settled(Options.from_dict(request.options), keys)
        per_item = item_keys(keys)
        scorers = EngineScorers(self.registry, self.models.use, self.transcription.transcribe, progress)
        results = []
        share = 0.9 if "fad" in keys else 1.0
        for n, source in enumerate(sources):
            progress(share * n / len(sources), f"Item {n + 1} of {len(sources)}: {source.name}")
            span = progress.span(share * n / len(sources), share * (n + 1) / len(sources))
            results.append(self._score_source(source, per_item, options, scorers, span))
        report = Report(evaluation_id, time.time(), request.mode, request.title, keys, options.to_dict(), results,
                        summarise(results, per_item))
        if "fad" in keys:
            progress(share, "Fréchet audio distance")
            self._set_fad(report, sources, options, scorers)
        return report

    def _settled(self, options: Options, keys: list[str]) -> Options:
        """Options with "auto" choices made for this studio's device, so the report says what was used."""
        if "f0_periodicity_rmse" in keys:
            options = replace(options, periodicity_model=crepe_capacity(options.periodicity_model, self.models.device))
        if "fad" in keys and options.fad_model == "auto":
            options = replace(options, fad_model=self._fad_model("auto") or "vggish")
        return options

    def _score_source(self, source: Source, keys: list[str], options: Options, scorers: EngineScorers,
                      progress: Progress) -> ItemResult:
        result = ItemResult(source.name, self._stored(source.generated), self._stored(source.reference), source.text,
                            source.source_job, error=source.problem, notes=list(source.notes))
        if source.generated is None:
            return result
        try:
            generated = Clip.load(source.generated)
        except AudioReadError as exc:
            result.error = f"The generated clip cannot be read: {exc}"
            return result
        item = Item(source.name, generated, text=source.text, notes=list(source.notes))
        try:
            item.reference = Clip.load(source.reference) if source.reference is not None else None
        except AudioReadError as exc:
            result.error = " ".join(filter(None, (
                result.error, f"The reference clip cannot be read: {exc} Only metrics without it were computed.")))
        try:
            item.voice = Clip.load(source.voice) if source.voice is not None else None
        except AudioReadError as exc:  # speaker similarity says so; it must not fall back to the reference
            item.voice_problem = f"The voice clip to compare the speaker with cannot be read: {exc}"
        scores = score_item(item, keys, options, scorers, progress)
        result.values, result.errors, result.notes = scores.values, scores.errors, item.notes
        return result

    def _set_fad(self, report: Report, sources: list[Source], options: Options, scorers: EngineScorers) -> None:
        """FAD of the reference set against the generated set: one Gaussian per set over its clips' embeddings
        (VGGish: every 0.96 s frame of every clip, as Amphion; CLAP: one embedding per clip)."""
        import numpy as np

        engine = FAD_ENGINES[options.fad_model]
        try:
            sets = []
            for role in ("reference", "generated"):
                paths = [getattr(s, role) for s in sources if getattr(s, role) is not None]
                scores = [scorers.score(engine, Clip.load(p)) for p in paths]
                sets.append(np.concatenate([np.atleast_2d(s.get("frames", s["embedding"])) for s in scores]))
            report.set_values["fad"] = frechet_distance(*sets)
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001  (the per-item results stand; FAD gets its message)
            if not isinstance(exc, (MetricError, AudioReadError, InvalidRequest)):
                log.warning("FAD failed", exc_info=True)
            report.set_errors["fad"] = str(exc)

    def _fad_model(self, choice: str) -> str | None:
        """The FAD model `choice` names when its engine is ready ("auto": VGGish, else CLAP), or None."""
        for name in (("vggish", "clap") if choice == "auto" else (choice,)):
            if FAD_ENGINES[name] in self.registry and self.registry.get(FAD_ENGINES[name]).check().ready:
                return name
        return None

    def _stored(self, path: Path | None) -> str | None:
        """Paths inside STUDIO_HOME are stored relative to it, so a moved data folder keeps its results."""
        if path is None:
            return None
        try:
            return path.resolve().relative_to(self.paths.home.resolve()).as_posix()
        except ValueError:
            return str(path)

    # -- one speaker similarity, for other pages (the conversion result card) ---------------------------------

    def speaker_similarity(self, a: Path, b: Path) -> float:
        """Cosine similarity of the speakers of two clips (default speaker encoder: resemblyzer, offline), computed
        on the job worker like all model work. Blocks until then: call it off the event loop. MetricError says why
        there is no value (encoder not ready, a clip too short or silent, the studio stopping)."""
        try:
            key = tuple(sorted(_fingerprint(path) for path in (a, b)))
        except OSError as exc:
            raise MetricError(f"A clip is missing: {exc}") from None
        with self._similarities_lock:
            if key in self._similarities:
                self._similarities.move_to_end(key)
                return self._similarities[key]
        job = self.jobs.submit(SIMILARITY, {"clips": [str(a), str(b)]}, task="metric",
                               title=f"Speaker similarity: {a.name} · {b.name}", engine_id=Options().speaker_model)
        done = self._waited(job.id)
        if done.state != JobState.succeeded:
            raise MetricError(done.error or f"The similarity job ended {done.state.value}.")
        value = float(done.result["similarity"])
        with self._similarities_lock:
            self._similarities[key] = value
            while len(self._similarities) > SIMILARITIES_KEPT:
                self._similarities.popitem(last=False)
        return value

    def _waited(self, job_id: str) -> JobInfo:
        deadline = time.monotonic() + SIMILARITY_WAIT
        while True:
            try:
                return self.jobs.wait(job_id, timeout=1.0)
            except TimeoutError:
                if not self.jobs.working or time.monotonic() > deadline:
                    self.jobs.cancel(job_id)
                    raise MetricError("The studio is stopping." if not self.jobs.working else
                                      "The similarity waited too long behind other jobs.") from None

    def _run_similarity(self, ctx: JobContext) -> dict[str, float]:
        try:
            a, b = (Clip.load(path) for path in ctx.payload["clips"])
        except AudioReadError as exc:
            raise EngineError(f"A clip cannot be read: {exc}") from None
        scorers = EngineScorers(self.registry, self.models.use, self.transcription.transcribe, ctx.progress)
        scores = score_item(Item("similarity", b, a), ["speaker_similarity"], Options(), scorers)
        if "speaker_similarity" in scores.errors:
            raise EngineError(f"Speaker similarity: {scores.errors['speaker_similarity']}")  # foreseen: a warning
        return {"similarity": scores.values["speaker_similarity"]}


def _why_not(misfits: list[str], has_reference: bool, has_text: bool, has_voice: bool) -> str:
    reasons = ["FAD compares two sets of clips."] if "fad" in misfits else []
    if not has_reference:
        reasons.append("Metrics that compare with a reference need a reference clip" + (
            ": for a generation, the input whose content it keeps (a conversion's source; text-to-speech has none)."
            if has_voice else "."))
        if not has_text:
            reasons.append("WER and CER need the text that was spoken.")
    return f"{', '.join(misfits)} cannot apply here: {' '.join(reasons)}"


def _fingerprint(path: Path) -> tuple[str, int, int]:
    """A file as it is now: a rewritten file is another clip."""
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size
