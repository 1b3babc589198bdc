"""Projects over HTTP: export a selection as one zip, import such a zip (format: studio/projects/__init__.py)."""
from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from ..projects import ExportSummary, ImportReport, ProjectError, Selection
from ..projects import service as projects_module
from ..services import Services
from .errors import refusals
from .uploads import MULTIPART_OVERHEAD

PREFIX = "/api/projects"
DOWNLOADS = "/downloads"


class ExportBody(BaseModel):
    profiles: list[str] = Field(
        default_factory=list, description="Voice profiles by id or name; each comes with all its samples and versions")
    generations: list[str] = Field(default_factory=list,
                                   description="Generation ids; each comes with its takes, the voices and clips it "
                                               "used, and the blind votes it took part in")
    comparisons: list[str] = Field(default_factory=list,
                                   description="Saved comparison ids; each comes with the generations and clips it "
                                               "compares")
    everything: bool = Field(False, description="Export every voice, generation, vote and comparison of the studio")


def download_url(summary: ExportSummary) -> str:
    """Where a page's browser fetches a zip made by ProjectService.export_file."""
    return f"{PREFIX}{DOWNLOADS}/{summary.path.parent.name}"


def report_json(report: ImportReport) -> dict[str, Any]:
    return {**dataclasses.asdict(report), "message": report.describe()}


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["projects"])
    projects = services.projects

    def too_large() -> HTTPException:
        limit = projects_module.MAX_PROJECT_BYTES
        return HTTPException(413, f"Projects are limited to {limit / 1024**3:g} GB; export a smaller selection.")

    @router.post("/export", response_class=FileResponse,
                 responses={200: {"content": {"application/zip": {}}, "description": "The project zip"}})
    def export(body: ExportBody) -> FileResponse:
        """The selection as one project zip (a download). 404 names an unknown profile, generation or comparison."""
        with refusals(ProjectError):
            summary = projects.export_file(Selection(tuple(body.profiles), tuple(body.generations), body.everything,
                                                     tuple(body.comparisons)))
        return zip_response(summary.path, {"x-studio-project": summary.describe()})

    @router.get(f"{DOWNLOADS}/{{token}}", response_class=FileResponse, include_in_schema=False)
    def download(token: str) -> FileResponse:
        """A zip the pages exported (see `download_url`); it can be fetched once."""
        path = projects.exported(token)
        if path is None:
            raise HTTPException(404, "This export is gone (each is downloaded once, or within an hour); export "
                                     "again.")
        return zip_response(path)

    def zip_response(path: Path, headers: dict[str, str] | None = None) -> FileResponse:
        return FileResponse(path, media_type="application/zip", filename=path.name, headers=headers,
                            background=BackgroundTask(projects.discard_export, path))

    @router.post("/import", status_code=201)
    async def import_(request: Request, file: UploadFile) -> dict[str, Any]:
        """Import a project zip: everything in it or nothing. Ids this studio already uses get new ones; a voice
        whose name is taken comes in as "Name (imported)". 400 says what is wrong with the zip, 413 when it is
        too large, 409 when the studio changed meanwhile, 507 when the disk is too full."""
        limit = projects_module.MAX_PROJECT_BYTES
        if int(request.headers.get("content-length") or 0) > limit + MULTIPART_OVERHEAD:
            raise too_large()
        if file.size is not None and file.size > limit:
            raise too_large()
        with refusals(ProjectError):
            report = await asyncio.to_thread(projects.import_project, file.file)
        return report_json(report)

    return router
