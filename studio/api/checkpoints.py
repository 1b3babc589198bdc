"""The user's own checkpoints over HTTP: add one from an archive, list, remove (studio/checkpoints.py)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, UploadFile
from starlette.concurrency import run_in_threadpool

from engines.contract import InvalidRequest

from ..checkpoints import ARCHIVES, checkpoint_json
from ..services import Services


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api/checkpoints", tags=["checkpoints"])
    checkpoints = services.checkpoints

    @router.get("/{engine_id}")
    def list_checkpoints(engine_id: str) -> list[dict[str, Any]]:
        """The engine's checkpoints of your own, newest first (the newest is its default)."""
        try:
            return [checkpoint_json(c) for c in checkpoints.list(engine_id)]
        except InvalidRequest as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post("/{engine_id}", status_code=201)
    async def add(engine_id: str, file: UploadFile, name: str | None = None) -> dict[str, Any]:
        """Add a checkpoint from an archive of its folder (zip, tar, tar.gz): for a recipe model, the experiment
        folder Amphion's trainer writes (args.json, checkpoint/, singers.json, ...). Refused with the engine's
        reasons when it cannot use it."""
        filename = Path(file.filename or "checkpoint.zip").name
        if not filename.lower().endswith(ARCHIVES):
            raise HTTPException(400, f"{filename}: send an archive ({', '.join(ARCHIVES)}) of the checkpoint folder.")
        incoming = services.paths.home / "tmp"
        incoming.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=incoming) as folder:
            archive = Path(folder) / filename
            with archive.open("wb") as out:
                while chunk := await file.read(4 * 1024 * 1024):
                    out.write(chunk)
            try:
                added = await run_in_threadpool(checkpoints.add, engine_id, archive, name or None)
            except InvalidRequest as exc:
                raise HTTPException(400, str(exc)) from None
        return checkpoint_json(added)

    @router.delete("/{engine_id}/{name}")
    def remove(engine_id: str, name: str) -> dict[str, Any]:
        try:
            return {"freed_bytes": checkpoints.remove(engine_id, name)}
        except InvalidRequest as exc:
            raise HTTPException(404, str(exc)) from None

    return router
