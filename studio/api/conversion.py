"""Voice and singing conversion over HTTP: upload the clips (POST /api/uploads), then convert them here."""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from engines.contract import InvalidRequest

from ..services import Services
from .core import engine_json, job_json
from .errors import refusals


class LibraryVoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str | None = Field(None, description="A voice of the library, by name or id (its best sample is used)")
    sample: str | None = Field(None, description="One sample of the library, by id")


class ConvertBody(BaseModel):
    task: Literal["vc", "svc", "enhance", "codec"] = Field(
        "vc", description="vc: voice conversion (speech); svc: singing; enhance: denoising, speaker extraction; "
                          "codec: encode and decode with a codec")
    engine: str | None = Field(None, description="Engine id (GET /api/convert/engines); default: the best ready one")
    source: str = Field(description="Upload id of the performance to convert")
    reference: str | LibraryVoice | None = Field(
        None, description='The target voice: the upload id of a clip (optional for DSP), or a library voice '
                          '{"profile": "Anna"} or sample {"sample": id}')
    inputs: dict[str, str] = Field(default_factory=dict,
                                   description="Other audio slots of the engine, by name: upload ids")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameter values; missing ones take defaults")


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api/convert", tags=["conversion"])

    @router.get("/engines")
    def engines(task: Literal["vc", "svc", "enhance", "codec"] = "vc") -> dict[str, Any]:
        """The engines of a conversion task with their inputs, params and readiness, and which is the default."""
        engines = services.conversion.engines(task)
        return {"default": services.conversion.default_engine(task).id if engines else None,
                "engines": [engine_json(e) for e in engines]}

    @router.post("", status_code=202)
    def convert(body: ConvertBody) -> dict[str, Any]:
        """Queue a conversion; poll GET /api/jobs/{id} and fetch its audio_url when it succeeded.
        Example: `{"source": "<upload id>", "reference": "<upload id>", "params": {"semitones": 2}}`."""
        if body.engine is not None and body.engine not in services.registry:
            raise HTTPException(404, f"No engine {body.engine!r}. GET /api/convert/engines lists them.")
        with refusals():
            reference = body.reference.model_dump(exclude_none=True) if isinstance(body.reference, LibraryVoice) \
                else body.reference
            if reference == {}:
                raise InvalidRequest('Name the library voice: {"profile": name or id} or {"sample": id}.')
            job = services.conversion.submit(body.task, body.source, reference, engine_id=body.engine,
                                             inputs=dict(body.inputs), params=body.params)
        return job_json(job)

    return router
