"""The core REST API: health, engines, generate, jobs, audio, models."""
from __future__ import annotations

import dataclasses
import platform
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from engines.contract import Engine, EngineError
from engines.requirements import Readiness

from .. import __version__
from ..audio.io import EXPORT_FORMATS
from ..jobs import JobInfo, JobState
from ..services import Services
from .errors import refusals
from .generate_body import GenerateBody, generate_request


AudioFormat = Literal["wav", "mp3", "flac", "ogg"]
assert set(AudioFormat.__args__) == set(EXPORT_FORMATS)  # type: ignore[attr-defined]


class LoadBody(BaseModel):
    options: dict[str, Any] = Field(default_factory=dict, description="Values of the params that pick weights")


class KeyBody(BaseModel):
    key: str = Field(description="The loaded model's key, as listed by GET /api/models")


class PinBody(KeyBody):
    pinned: bool = True


def engine_json(engine: Engine, readiness: Readiness | None = None) -> dict[str, Any]:
    readiness = readiness or engine.check()
    return {
        "id": engine.id, "name": engine.name, "task": engine.task, "family": engine.family,
        "summary": engine.summary, "languages": list(engine.languages), "sample_rate": engine.sample_rate,
        "license": engine.license, "memory_mb": engine.memory_mb,
        "inputs": [dataclasses.asdict(slot) for slot in engine.inputs],
        "params": [dataclasses.asdict(param) for param in engine.params],
        "weights": [dataclasses.asdict(w) for w in engine.weights],
        "readiness": {"state": readiness.state, "label": readiness.label, "message": readiness.message,
                      "hints": list(readiness.hints), "download_bytes": readiness.download_bytes},
    }


def job_json(job: JobInfo) -> dict[str, Any]:
    data = dataclasses.asdict(job)
    data["state"] = job.state.value
    if job.result and "audio" in job.result:
        data["audio_url"] = f"/api/jobs/{job.id}/audio"
    return data


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api")

    def job_or_404(job_id: str) -> JobInfo:
        job = services.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"No job {job_id}.")
        return job

    @router.get("/health", tags=["studio"])
    def health() -> dict[str, Any]:
        """Status, device, memory, loaded models and the job counts."""
        snap = services.models.snapshot()
        counts = services.jobs.counts()
        return {
            "status": "ok", "version": __version__, "python": platform.python_version(),
            "device": snap.device.device, "device_name": snap.device.name,
            "memory": {"total": snap.device.total, "available": snap.device.available, "used": snap.device.used,
                       "process": snap.device.process, "budget": snap.budget, "models": snap.models_total},
            "models_loaded": [m.key for m in snap.models],
            "jobs": {"queued": counts["queued"], "running": counts["running"]},
        }

    @router.get("/engines", tags=["engines"])
    def engines(task: str | None = None) -> list[dict[str, Any]]:
        return [engine_json(e) for e in services.registry if task is None or e.task == task]

    @router.get("/engines/{engine_id}", tags=["engines"])
    def engine(engine_id: str) -> dict[str, Any]:
        if engine_id not in services.registry:
            raise HTTPException(404, f"No engine {engine_id!r}.")
        return engine_json(services.registry.get(engine_id))

    @router.post("/generate", status_code=202, tags=["jobs"],
                 responses={200: {"description": "wait=true: the finished generation, as GET /api/history/{id}"}})
    def generate(body: GenerateBody, wait: bool = Query(False, description="Answer when the generation is done"),
                 timeout: float = Query(300, gt=0, le=3600, description="wait=true: seconds before answering "
                                                                         "with the job (202) instead")) -> Any:
        """Queue a generation; poll GET /api/jobs/{id} and fetch its audio_url when it succeeded.
        `profile` (a voice profile's name or id), `seed` and `language` fill the engine's reference voice, seed and
        language parameter. 400: bad input; 404: unknown engine or profile; 409: not ready; 413: text too long.

        With wait=true the answer comes when it is done: the generation (200), or the job's error (500 when it
        failed, 409 when it was cancelled), or the still-running job (202) after `timeout` seconds."""
        engine_id = body.engine or services.settings.default_engine
        if engine_id not in services.registry:
            raise HTTPException(404, f"No engine {engine_id!r}. GET /api/engines lists them.")
        inputs, params = generate_request(services, services.registry.get(engine_id), body)
        with refusals():
            job = services.generation.submit(engine_id, inputs, params)
        if wait:
            from .history import finished_generation

            return finished_generation(services, job, timeout)
        return job_json(job)

    @router.get("/jobs", tags=["jobs"])
    def jobs(limit: int = Query(50, ge=1, le=500), task: str | None = None,
             state: JobState | None = None) -> list[dict[str, Any]]:
        return [job_json(j) for j in services.jobs.list(limit=limit, task=task,
                                                         states=(state,) if state else None)]

    @router.get("/jobs/{job_id}", tags=["jobs"])
    def job(job_id: str) -> dict[str, Any]:
        return job_json(job_or_404(job_id))

    @router.post("/jobs/{job_id}/cancel", tags=["jobs"])
    def cancel(job_id: str) -> dict[str, Any]:
        job_or_404(job_id)
        if not services.jobs.cancel(job_id):
            raise HTTPException(409, "This job has already ended.")
        return job_json(job_or_404(job_id))

    @router.post("/jobs/{job_id}/retry", status_code=202, tags=["jobs"])
    def retry(job_id: str) -> dict[str, Any]:
        try:
            return job_json(services.jobs.retry(job_or_404(job_id).id))
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None

    @router.get("/jobs/{job_id}/audio", tags=["jobs"], response_class=FileResponse)
    def audio(job_id: str, format: AudioFormat = "wav") -> FileResponse:
        job = job_or_404(job_id)
        try:
            path, filename = services.generation.export(job, format)
        except FileNotFoundError:
            raise HTTPException(404, "This job has no audio (it has not succeeded, or its file was deleted).") from None
        return FileResponse(path, media_type=EXPORT_FORMATS[format]["mime"], filename=filename)

    @router.get("/models", tags=["models"])
    def models() -> dict[str, Any]:
        snap = services.models.snapshot()
        return {"device": dataclasses.asdict(snap.device), "budget": snap.budget,
                "models": [dataclasses.asdict(m) for m in snap.models]}

    @router.post("/models/{engine_id}/load", status_code=202, tags=["models"])
    def load(engine_id: str, body: LoadBody | None = None) -> dict[str, Any]:
        if engine_id not in services.registry:
            raise HTTPException(404, f"No engine {engine_id!r}.")
        return job_json(services.load_model(engine_id, (body or LoadBody()).options))

    @router.post("/models/unload", tags=["models"])
    def unload(body: KeyBody) -> dict[str, Any]:
        try:
            report = services.models.unload(body.key)
        except KeyError:
            raise HTTPException(404, f"{body.key} is not loaded.") from None
        except EngineError as exc:
            raise HTTPException(409, str(exc)) from None
        return {**dataclasses.asdict(report), "message": report.message}

    @router.post("/models/unload-all", tags=["models"])
    def unload_all() -> list[dict[str, Any]]:
        return [{**dataclasses.asdict(r), "message": r.message} for r in services.models.unload_all()]

    @router.post("/models/pin", tags=["models"])
    def pin(body: PinBody) -> dict[str, Any]:
        try:
            services.models.pin(body.key, body.pinned)
        except KeyError:
            raise HTTPException(404, f"{body.key} is not loaded.") from None
        return {"key": body.key, "pinned": body.pinned}

    return router
