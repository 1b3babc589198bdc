"""The job table: one row per job, written at state transitions."""
from __future__ import annotations

from enum import Enum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class JobState(str, Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"  # the process died while the job ran


ACTIVE_STATES = (JobState.queued, JobState.running)
FINISHED_STATES = (JobState.succeeded, JobState.failed, JobState.cancelled, JobState.interrupted)


class Job(SQLModel, table=True):
    __tablename__ = "jobs"

    id: str = Field(primary_key=True)
    kind: str = Field(index=True)  # what runs it: "generate", "load_model", ...
    task: str | None = Field(default=None, index=True)  # tts, vc, ... for the page that shows it
    engine_id: str | None = None
    title: str = ""
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default=JobState.queued.value, index=True)
    priority: int = 0  # lower runs first: interactive before batch
    progress: float = 0.0
    stage: str = ""
    error: str | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    retry_of: str | None = None
    created_at: float = Field(index=True)
    started_at: float | None = None
    finished_at: float | None = None
