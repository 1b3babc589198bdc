"""Uploads over HTTP: browser recordings and scripts send audio here (never over the websocket)."""
from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request, UploadFile

from ..services import Services
from ..uploads import MAX_UPLOAD_BYTES, StoredAudio, UploadError
from .errors import refusals

MULTIPART_OVERHEAD = 64 * 1024


def upload_json(upload: StoredAudio) -> dict[str, Any]:
    data = dataclasses.asdict(upload)
    data.update(original=upload.original.name, normalised=upload.normalised.name,
                url=f"/media/uploads/{upload.id}/{upload.normalised.name}")
    return data


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(1024 * 1024):
        yield chunk


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api/uploads", tags=["uploads"])

    @router.post("", status_code=201)
    async def upload(request: Request, file: UploadFile, min_seconds: float | None = None,
                     max_seconds: float | None = None) -> dict[str, Any]:
        """Upload one audio file (WAV, MP3, FLAC, OGG, M4A) or a video with sound (MP4, MOV, WebM, AVI, MKV),
        at most 50 MB. The original is kept; `url` plays the normalised mono copy."""
        declared = int(request.headers.get("content-length") or 0)
        if declared > MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD:
            raise HTTPException(413, f"Uploads are limited to {MAX_UPLOAD_BYTES // 2**20} MB.")
        with refusals(UploadError):
            stored = await services.uploads.store_stream(file.filename or "upload", _chunks(file),
                                                         min_seconds=min_seconds, max_seconds=max_seconds)
        return upload_json(stored)

    @router.get("")
    def uploads(limit: int = 100) -> list[dict[str, Any]]:
        return [upload_json(u) for u in services.uploads.list(limit)]

    @router.get("/{upload_id}")
    def get(upload_id: str) -> dict[str, Any]:
        stored = services.uploads.get(upload_id)
        if stored is None:
            raise HTTPException(404, f"No upload {upload_id}.")
        return upload_json(stored)

    @router.delete("/{upload_id}", status_code=204)
    def delete(upload_id: str) -> None:
        """Delete an upload and its files; 409 names the generations, votes and saved comparisons that use it."""
        with refusals(UploadError):
            deleted = services.uploads.delete([upload_id])
        if not deleted:
            raise HTTPException(404, f"No upload {upload_id}.")

    return router
