"""Weights over REST: what is on disk per engine, download jobs with live numbers, deletion."""
from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from engines.contract import EngineError, InvalidRequest

from ..services import Services
from engines.weights import WeightState

from ..weights import NothingToDownload
from .core import job_json


class DownloadBody(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict, description="Download what these parameter values need")
    all: bool = Field(False, description="Every variant the engine can use")


def state_json(found: WeightState) -> dict[str, Any]:
    return {"weights": dataclasses.asdict(found.weights), "status": found.status, "label": found.label,
            "bytes_on_disk": found.bytes_on_disk, "missing_bytes": found.missing_bytes,
            "path": str(found.path) if found.path else None}


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api/weights", tags=["weights"])

    def engine_or_404(engine_id: str) -> None:
        if engine_id not in services.registry:
            raise HTTPException(404, f"No engine {engine_id!r}.")

    @router.get("")
    def on_disk() -> dict[str, Any]:
        """Bytes on disk per engine, and the numbers of running downloads (bytes, speed, time left)."""
        live = {job_id: {"title": s.title, "file": s.file, "done": s.done, "total": s.total, "speed": s.speed,
                         "eta": s.eta, "fraction": s.fraction}
                for job_id, s in list(services.weights.live.items())}
        return {"engines": services.weights.on_disk(), "downloads": live}

    @router.get("/{engine_id}")
    def engine_weights(engine_id: str) -> list[dict[str, Any]]:
        engine_or_404(engine_id)
        return [state_json(s) for s in services.weights.status(engine_id)]

    @router.post("/{engine_id}/download", status_code=202)
    def download(engine_id: str, body: DownloadBody | None = None) -> dict[str, Any]:
        """Queue a download job; poll GET /api/jobs/{id} (cancel it there; a new download resumes)."""
        engine_or_404(engine_id)
        body = body or DownloadBody()
        try:
            params = services.registry.get(engine_id).check_params(body.params)
        except InvalidRequest as exc:
            raise HTTPException(400, str(exc)) from None
        try:
            return job_json(services.weights.submit_download(engine_id, params, body.all))
        except NothingToDownload as exc:
            raise HTTPException(409, str(exc)) from None

    @router.delete("/{engine_id}")
    def delete(engine_id: str) -> dict[str, Any]:
        engine_or_404(engine_id)
        try:
            report = services.weights.delete(engine_id)
        except EngineError as exc:
            raise HTTPException(409, str(exc)) from None
        return {**dataclasses.asdict(report), "message": report.message}

    return router
