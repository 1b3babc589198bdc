"""Stored evaluations: one row per run, one row per item. Items carry the generate job they scored (when the
generated clip is a studio generation), so the history and the A/B view can show a generation's scores.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, String
from sqlmodel import Field, SQLModel


class Evaluation(SQLModel, table=True):
    __tablename__ = "evaluations"

    id: str = Field(primary_key=True)  # the id of the 'evaluate' job that produced it
    created_at: float = Field(index=True)
    mode: str  # clip, pair, set, jobs
    title: str = ""
    metrics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    set_values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    set_errors: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    item_count: int = 0
    failed_items: int = 0


class EvaluationItem(SQLModel, table=True):
    __tablename__ = "evaluation_items"

    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: str = Field(sa_column=Column(String, ForeignKey("evaluations.id", ondelete="CASCADE"),
                                                index=True, nullable=False))
    position: int = 0
    name: str
    generated: str | None = Field(default=None, index=True)  # path, relative to STUDIO_HOME when inside it
    reference: str | None = None
    source_job: str | None = Field(default=None, index=True)  # the 'generate' job whose audio was scored
    text: str | None = None
    values: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    errors: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    notes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    error: str | None = None  # the whole item could not be scored (unreadable file, no partner in the other set)
