"""The evaluation API: the metrics, evaluations of server paths or uploads (queued as jobs), reports, exports,
and the scores stored with a generation."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from engines.contract import InvalidRequest

from ..evaluation import EvaluationRequest
from ..evaluation.inputs import accept_zip
from ..metrics import FAMILIES, METRICS
from ..services import Services
from ..uploads import UploadError
from .core import job_json


class EvaluateBody(BaseModel):
    mode: Literal["clip", "pair", "set", "jobs"] = Field("pair", description="clip, pair, set (folders) or jobs")
    generated: str | None = Field(None, description="Generated file (clip, pair) or folder (set), on the server")
    reference: str | None = Field(None, description="Reference file or folder, on the server")
    text: str | None = Field(None, max_length=20_000, description="What the generated clip should say (WER/CER)")
    transcripts: str | None = Field(None, description="A `name|text` file for a set")
    jobs: list[str] = Field(default_factory=list, description="Generate job ids (mode jobs)")
    metrics: list[str] | None = Field(None, description="Metric keys (GET /api/metrics) or Amphion's names for "
                                                      "them; all that apply when empty")
    options: dict[str, Any] = Field(default_factory=dict, description="How metrics are computed (see /api/metrics)")
    title: str = ""


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["evaluation"])
    evaluation = services.evaluation

    def submit(request: EvaluationRequest) -> dict[str, Any]:
        try:
            return job_json(evaluation.submit(request))
        except InvalidRequest as exc:
            raise HTTPException(400, str(exc)) from None

    @router.get("/metrics")
    def metrics() -> dict[str, Any]:
        """Every metric: key, unit, what it needs, whether higher is better, and Amphion's name for it."""
        from ..metrics.base import Options

        return {"families": FAMILIES, "options": Options().to_dict(),
                "metrics": [{**m.__dict__} for m in METRICS.values()]}

    @router.post("/evaluations", status_code=202)
    def evaluate(body: EvaluateBody) -> dict[str, Any]:
        """Queue an evaluation of files already on the server; poll the job, then GET /api/evaluations/{job id}."""
        return submit(EvaluationRequest(body.mode, body.generated, body.reference, body.text, body.transcripts,
                                        tuple(body.jobs), tuple(body.metrics) if body.metrics else None,
                                        body.options, body.title))

    @router.post("/evaluations/upload", status_code=202)
    async def evaluate_upload(generated: UploadFile = File(..., description="Audio file, or a zip of a set"),
                              reference: UploadFile | None = File(None, description="Audio file, or a zip of a set"),
                              text: str | None = Form(None),
                              metrics: str | None = Form(None, description="comma-separated metric keys "
                                                                           "(or Amphion's names)"),
                              options: str | None = Form(None, description="JSON object")) -> dict[str, Any]:
        """Upload one clip, a pair, or two zips (a set, matched by file name) and queue their evaluation."""
        try:
            parsed = json.loads(options) if options else {}
            if not isinstance(parsed, dict):
                raise InvalidRequest("options must be a JSON object.")
            uploads = {role: upload for role, upload in (("generated", generated), ("reference", reference)) if upload}
            zipped = {role: (upload.filename or "").lower().endswith(".zip") for role, upload in uploads.items()}
            if len(set(zipped.values())) > 1:
                raise InvalidRequest("Upload two zips for a set, or two audio files for a pair, not one of each.")
            paths = {role: await _store(services, upload, zipped[role]) for role, upload in uploads.items()}
        except json.JSONDecodeError:
            raise HTTPException(400, "options is not valid JSON.") from None
        except InvalidRequest as exc:
            raise HTTPException(400, str(exc)) from None
        except UploadError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        mode = "set" if any(zipped.values()) else ("pair" if "reference" in paths else "clip")
        keys = tuple(k.strip() for k in metrics.split(",") if k.strip()) if metrics else None
        names = {role: Path(upload.filename or role).stem for role, upload in uploads.items()}
        title = {"set": f"Set: {names['generated']}", "clip": f"Clip: {names['generated']}"}.get(
            mode, f"Pair: {names.get('reference')} vs {names['generated']}")
        return await run_in_threadpool(submit, EvaluationRequest(
            mode, str(paths["generated"]), str(paths["reference"]) if "reference" in paths else None, text,
            metrics=keys or None, options=parsed, title=title, name=names["generated"] if mode != "set" else ""))

    @router.get("/evaluations")
    def evaluations(limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
        return [row.model_dump() for row in evaluation.list(limit)]

    @router.get("/evaluations/{evaluation_id}")
    def report(evaluation_id: str) -> dict[str, Any]:
        found = evaluation.report(evaluation_id)
        if found is None:
            raise HTTPException(404, f"No evaluation {evaluation_id} (it may still be running: GET /api/jobs/{evaluation_id}).")
        return found.to_dict()

    @router.get("/evaluations/{evaluation_id}/export")
    def export(evaluation_id: str, format: Literal["csv", "json"] = "csv") -> Response:
        found = evaluation.report(evaluation_id)
        if found is None:
            raise HTTPException(404, f"No evaluation {evaluation_id}.")
        body, media = (found.to_csv(), "text/csv") if format == "csv" else (found.to_json(), "application/json")
        return Response(body, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="evaluation-{evaluation_id}.{format}"'})

    @router.delete("/evaluations/{evaluation_id}")
    def remove(evaluation_id: str) -> dict[str, Any]:
        if not evaluation.delete(evaluation_id):
            raise HTTPException(404, f"No evaluation {evaluation_id}.")
        return {"deleted": evaluation_id}

    @router.get("/jobs/{job_id}/evaluations")
    def for_generation(job_id: str) -> list[dict[str, Any]]:
        """The scores stored for a generation (newest first): how the history shows them."""
        from ..evaluation.report import json_safe

        return [json_safe({"evaluation_id": eid, **item.__dict__}) for eid, item in evaluation.for_job(job_id)]

    return router


async def _store(services: Services, upload: UploadFile, zipped: bool) -> Path:
    """A zip is saved and unpacked (its folder is the set); an audio file goes through the studio's uploads."""
    name = upload.filename or "upload"
    if not zipped:
        return (await services.uploads.store_stream(name, _chunks(upload))).original
    target = services.evaluation.zip_path(name)
    with open(target, "wb") as out:
        async for chunk in _chunks(upload):
            out.write(chunk)
    return await run_in_threadpool(accept_zip, target)


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(1024 * 1024):
        yield chunk
