"""The history's tables: one row per kept generation, the votes of blind comparisons, and saved comparisons.

A generation's row and its audio file (generations/<id>.wav) are created and deleted together. Text, notes
and tags are indexed for search by an FTS5 table kept in step with `generations` by triggers.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel


class Generation(SQLModel, table=True):
    __tablename__ = "generations"
    __table_args__ = (  # the History page lists originals (original_id IS NULL) in these orders
        Index("generations_originals_by_last_take", "original_id", "last_take_at"),
        Index("generations_originals_by_duration", "original_id", "duration"),
        Index("generations_originals_by_rating", "original_id", "rating", "created_at"),
    )

    seq: int | None = Field(default=None, primary_key=True)  # stable integer key for the text index
    id: str = Field(unique=True)  # the id of the job that made it, which also names its audio file
    task: str = Field(index=True)
    engine_id: str = Field(index=True)
    title: str = ""
    text: str | None = None
    profile_id: str | None = Field(default=None, index=True)  # the library profile an audio input came from
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    seed: int | None = None
    audio: str  # relative to STUDIO_HOME
    duration: float
    sample_rate: int
    channels: int = 1
    rtf: float | None = None
    engine_seconds: float | None = None
    extras: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: float = Field(index=True)
    original_id: str | None = Field(default=None, index=True)  # the group's first take; None for an original
    take: int = 1
    last_take_at: float  # when the group's newest take was made (kept up to date on originals)
    favourite: bool = Field(default=False, index=True)
    rating: int = 0  # 0 = not rated, else 1 to 5 stars
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notes: str = ""


class ComparisonVote(SQLModel, table=True):
    """One row per clip of a blind round; `chosen` marks the preferred one (none for "no preference").

    Engine and profile are copied in, so tallies survive the deletion of the clips voted on.
    """

    __tablename__ = "comparison_votes"

    seq: int | None = Field(default=None, primary_key=True)
    round_id: str = Field(index=True)
    item: str  # "generation:<id>" or "upload:<id>"
    label: str  # the letter the clip had while hidden
    engine_id: str | None = Field(default=None, index=True)
    profile_id: str | None = Field(default=None, index=True)
    chosen: bool = False
    created_at: float = Field(index=True)


class SavedComparison(SQLModel, table=True):
    """A set of clips the user named on the Compare page, to listen to again (or export) later."""

    __tablename__ = "saved_comparisons"

    id: str = Field(primary_key=True)
    name: str
    clips: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # clip keys, in order
    created_at: float = Field(index=True)
    updated_at: float


TEXT_INDEX_DDL = (
    "CREATE VIRTUAL TABLE generations_fts USING fts5(text, notes, tags, content='generations', "
    "content_rowid='seq', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER generations_fts_insert AFTER INSERT ON generations BEGIN "
    "INSERT INTO generations_fts(rowid, text, notes, tags) VALUES (new.seq, new.text, new.notes, new.tags); END",
    "CREATE TRIGGER generations_fts_delete AFTER DELETE ON generations BEGIN "
    "INSERT INTO generations_fts(generations_fts, rowid, text, notes, tags) "
    "VALUES ('delete', old.seq, old.text, old.notes, old.tags); END",
    "CREATE TRIGGER generations_fts_update AFTER UPDATE OF text, notes, tags ON generations BEGIN "
    "INSERT INTO generations_fts(generations_fts, rowid, text, notes, tags) "
    "VALUES ('delete', old.seq, old.text, old.notes, old.tags); "
    "INSERT INTO generations_fts(rowid, text, notes, tags) VALUES (new.seq, new.text, new.notes, new.tags); END",
    "INSERT INTO generations_fts(generations_fts) VALUES ('rebuild')",
)
