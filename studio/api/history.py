"""The history API: list, search, change, delete, re-run and download kept generations; statistics."""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from ..audio.io import EXPORT_FORMATS
from ..history import HistoryError, HistoryItem, HistoryQuery
from ..library import LibraryError
from ..jobs import JobInfo, JobState
from ..services import Services
from .core import AudioFormat, job_json
from .errors import refusals


class HistoryChange(BaseModel):
    favourite: bool | None = None
    rating: int | None = Field(None, description="0 (not rated) to 5 stars")
    tags: list[str] | None = Field(None, description="Replaces the tags; at most 20, each at most 40 characters")
    notes: str | None = None


class DeleteBody(BaseModel):
    ids: list[str] = Field(description="Generation ids; each is deleted with its audio")


class VariationBody(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters to change; the others are kept")
    new_seed: bool = Field(True, description="Draw a new seed (unless `params` sets one)")


def item_json(item: HistoryItem) -> dict[str, Any]:
    data = dataclasses.asdict(item)
    data["created"] = dt.datetime.fromtimestamp(item.created_at).astimezone().isoformat(timespec="seconds")
    data["audio_url"] = f"/api/history/{item.id}/audio"
    data["media_url"] = f"/media/{item.audio}"
    return data


def finished_generation(services: Services, job: JobInfo, timeout: float) -> JSONResponse:
    """POST /api/generate?wait=true: the kept generation (200); the job itself (202) if it is still running."""
    try:
        return JSONResponse(item_json(services.history.wait(job.id, timeout)))
    except TimeoutError:
        return JSONResponse(job_json(services.jobs.get(job.id) or job), status_code=202)
    except HistoryError as exc:
        ended = services.jobs.get(job.id) or job
        failed = ended.state == JobState.failed
        detail = f"The generation failed: {exc}" if failed else f"The job ended {ended.state.value}: {exc}"
        return JSONResponse({"detail": detail, "job": job_json(ended)}, status_code=500 if failed else exc.status)


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["history"])
    history = services.history

    def item_or_404(generation_id: str) -> HistoryItem:
        with refusals(HistoryError):
            return history.require(generation_id)

    def profile_id(key: str | None) -> str | None:
        """A voice profile given by name or id, as the history keeps it; 404 when no profile (or generation) has it."""
        if not key:
            return None
        try:
            return services.library.find_profile(key).id
        except LibraryError as exc:
            if history.has_profile(key):  # a profile deleted since: its generations stay
                return key
            raise HTTPException(exc.status, str(exc)) from None

    def query(search: str, profile: str | None, task: str | None, engine: str | None, favourite: bool | None,
              tag: str | None, min_rating: int | None, date_from: dt.date | None, date_to: dt.date | None,
              sort: str = "newest", grouped: bool = False, limit: int = 50, offset: int = 0) -> HistoryQuery:
        with refusals(HistoryError):
            return HistoryQuery(search=search, task=task, engine_id=engine, profile_id=profile_id(profile),
                                date_from=date_from, date_to=date_to, favourite=favourite, tag=tag,
                                min_rating=min_rating, sort=sort, grouped=grouped, limit=limit, offset=offset).checked()

    @router.get("/history")
    def listing(search: str = "", profile: str | None = None, task: str | None = None, engine: str | None = None,
                favourite: bool | None = None, tag: str | None = None, min_rating: int | None = None,
                date_from: dt.date | None = None, date_to: dt.date | None = None, sort: str = "newest",
                grouped: bool = False, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Kept generations, newest first. `search` matches words of the text, notes and tags (as prefixes);
        `profile` is a voice profile's name or id (404 when there is none); dates are inclusive (local time);
        `grouped=true` lists each original once with `group_size` takes."""
        page = history.list(query(search, profile, task, engine, favourite, tag, min_rating, date_from, date_to,
                                  sort, grouped, limit, offset))
        return {"items": [item_json(i) for i in page.items], "total": page.total, "limit": page.query.limit,
                "offset": page.query.offset}

    @router.get("/history/stats")
    def stats(search: str = "", profile: str | None = None, task: str | None = None, engine: str | None = None,
              favourite: bool | None = None, tag: str | None = None, min_rating: int | None = None,
              date_from: dt.date | None = None, date_to: dt.date | None = None) -> dict[str, Any]:
        """Count and total duration, by engine, by profile, by task and by day, of the generations that match."""
        result = history.stats(query(search, profile, task, engine, favourite, tag, min_rating, date_from, date_to))
        return dataclasses.asdict(result)

    @router.get("/history/{generation_id}")
    def get(generation_id: str) -> dict[str, Any]:
        return item_json(item_or_404(generation_id))

    @router.get("/history/{generation_id}/takes")
    def takes(generation_id: str) -> list[dict[str, Any]]:
        """The original and every take of the group this generation belongs to."""
        return [item_json(i) for i in history.takes(item_or_404(generation_id).id)]

    @router.patch("/history/{generation_id}")
    def change(generation_id: str, body: HistoryChange) -> dict[str, Any]:
        """Favourite, rating, tags, notes: only the fields given change."""
        with refusals(HistoryError):
            return item_json(history.update(generation_id, **body.model_dump(exclude_none=True)))

    @router.delete("/history/{generation_id}", status_code=204)
    def delete(generation_id: str) -> None:
        """Delete the generation and its audio (its takes stay; the next one becomes their original)."""
        if not history.delete([generation_id]):
            raise HTTPException(404, f"No generation {generation_id} in the history.")

    @router.post("/history/delete")
    def delete_many(body: DeleteBody) -> dict[str, list[str]]:
        deleted = history.delete(body.ids)
        return {"deleted": deleted, "missing": [i for i in body.ids if i not in deleted]}

    def take(submit: Any) -> dict[str, Any]:
        with refusals(HistoryError):
            return job_json(submit())

    @router.post("/history/{generation_id}/rerun", status_code=202)
    def rerun(generation_id: str) -> dict[str, Any]:
        """Queue the same engine, inputs, parameters and seed again; the result is a new take of the group."""
        return take(lambda: history.rerun(generation_id))

    @router.post("/history/{generation_id}/variation", status_code=202)
    def variation(generation_id: str, body: VariationBody | None = None) -> dict[str, Any]:
        """Queue the same inputs with changed parameters and/or a new seed, as a new take of the group."""
        body = body or VariationBody()
        return take(lambda: history.vary(generation_id, body.params, body.new_seed))

    @router.get("/history/{generation_id}/audio", response_class=FileResponse)
    def audio(generation_id: str, format: AudioFormat = "wav") -> FileResponse:
        try:
            path, filename = history.export(item_or_404(generation_id).id, format)
        except FileNotFoundError:
            raise HTTPException(404, "The audio file of this generation is missing.") from None
        return FileResponse(path, media_type=EXPORT_FORMATS[format]["mime"], filename=filename)

    return router
