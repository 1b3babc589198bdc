"""The voice library's tables: profiles, and their reference samples (each version of a sample is a row)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, String
from sqlmodel import Field, SQLModel


class Profile(SQLModel, table=True):
    __tablename__ = "profiles"

    id: str = Field(primary_key=True)
    name: str
    name_key: str = Field(unique=True, index=True)  # casefolded name: names are unique regardless of case
    description: str = ""
    language: str = ""  # a language code ('en'), or empty for unknown
    created_at: float
    updated_at: float


class Sample(SQLModel, table=True):
    __tablename__ = "samples"

    id: str = Field(primary_key=True)
    profile_id: str = Field(sa_column=Column(String, ForeignKey("profiles.id", ondelete="CASCADE"), index=True,
                                             nullable=False))
    name: str
    original: str  # relative to STUDIO_HOME
    normalised: str  # relative to STUDIO_HOME: what engines read
    duration: float
    sample_rate: int
    channels: int
    audio_hash: str  # sha256 of the normalised file
    transcript: str = ""
    transcript_source: str = ""  # 'user', or the engine that transcribed it
    words: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))  # timed words of the transcript
    language: str = ""
    source: str = "upload"  # upload, recording, generation, fix
    source_ref: str = ""  # the upload, job or fix it came from
    root_id: str = Field(index=True)  # the first version of this sample (itself for an original)
    parent_id: str | None = None  # the version a fix was applied to
    fix: str = ""  # what made this version from its parent, in words
    measures: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))  # the doctor's measurements
    created_at: float = Field(index=True)


PROFILES = Profile.__table__
SAMPLES = Sample.__table__
