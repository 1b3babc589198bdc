"""A/B comparison over HTTP: blind votes and their tally, and saved comparisons (named sets of clips).

A clip is "generation:<id>" or "upload:<id>", as everywhere in the studio.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ..history import HistoryError
from ..history.compare import Clip, TallyRow
from ..history.saved import Saved
from ..services import Services
from .errors import refusals

CLIPS = 'Clips in order: "generation:<id>" or "upload:<id>"'


class VoteBody(BaseModel):
    clips: list[str] = Field(description='Clips in the order they were shown (A, B, ...): "generation:<id>" or '
                                         '"upload:<id>"')
    chosen: str | None = Field(None, description="The preferred clip; null for no preference")


class ComparisonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="What to call it, e.g. “Hibari voices at 1.2x”")
    clips: list[str] = Field(description=f"{CLIPS}; at least two")


class ComparisonChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    clips: list[str] | None = Field(None, description=f"{CLIPS}; replaces the clips")


def saved_json(saved: Saved) -> dict[str, Any]:
    return dataclasses.asdict(saved)


def clip_json(clip: Clip) -> dict[str, Any]:
    return {"key": clip.key, "kind": clip.kind, "id": clip.id, "name": clip.name, "duration": clip.duration,
            "sample_rate": clip.sample_rate, "engine_id": clip.engine_id, "profile_id": clip.profile_id,
            "details": clip.details}


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api/compare", tags=["compare"])
    saved = services.saved_comparisons

    @router.post("/votes", status_code=201)
    def vote(body: VoteBody) -> dict[str, str]:
        """Record one blind round: the clips in the order shown, and the one preferred (or none)."""
        with refusals(HistoryError):
            return {"round_id": services.comparisons.vote(body.clips, body.chosen)}

    @router.delete("/votes/{round_id}", status_code=204)
    def delete_round(round_id: str) -> None:
        """Forget one blind round: its votes leave the tally."""
        with refusals(HistoryError):
            services.comparisons.delete_round(round_id)

    @router.get("/tally")
    def tally() -> dict[str, Any]:
        """Blind-round wins and appearances per engine (null: uploads) and per profile (null: none)."""
        result = services.comparisons.tally()

        def rows(tally_rows: list[TallyRow]) -> list[dict[str, Any]]:
            return [{**dataclasses.asdict(row), "win_rate": row.win_rate} for row in tally_rows]

        return {"rounds": result.rounds, "no_preference": result.no_preference,
                "by_engine": rows(result.by_engine), "by_profile": rows(result.by_profile)}

    @router.get("/comparisons")
    def comparisons() -> list[dict[str, Any]]:
        """Saved comparisons, the most recently changed first."""
        return [saved_json(s) for s in saved.list()]

    @router.post("/comparisons", status_code=201)
    def save(body: ComparisonBody) -> dict[str, Any]:
        """Save a set of at least two clips under a name (each clip must exist)."""
        with refusals(HistoryError):
            return saved_json(saved.save(body.name, body.clips))

    @router.get("/comparisons/{comparison_id}")
    def comparison(comparison_id: str) -> dict[str, Any]:
        """The saved comparison with each clip that still exists (`missing`: the keys of those deleted since)."""
        with refusals(HistoryError):
            found = saved.get(comparison_id)
        clips, missing = [], []
        for key in found.clips:
            try:
                clips.append(clip_json(services.comparisons.clip(key)))
            except HistoryError:
                missing.append(key)
        return {**saved_json(found), "items": clips, "missing": missing}

    @router.patch("/comparisons/{comparison_id}")
    def change(comparison_id: str, body: ComparisonChange) -> dict[str, Any]:
        """Rename it or replace its clips; fields left out stay."""
        with refusals(HistoryError):
            return saved_json(saved.change(comparison_id, body.name, body.clips))

    @router.delete("/comparisons/{comparison_id}", status_code=204)
    def delete(comparison_id: str) -> None:
        with refusals(HistoryError):
            saved.delete(comparison_id)

    return router
