"""The project manifest (format documented in studio/projects/__init__.py): its records, and reading one safely.

The records mirror the tables' columns; reading checks types and ranges and that ids are safe to use in file
names. Text the library or the history limits (names, transcripts, tags, notes) is checked by the importer with
the same rules those services apply.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ..history.compare import MAX_CLIPS, MIN_SAVED_CLIPS
from .errors import ProjectError

FORMAT = "amphion-studio-project"
VERSION = 2  # 2 added saved comparisons; a version 1 project reads as one without them
MANIFEST = "manifest.json"

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
Seconds = Annotated[float, Field(ge=0)]
Rate = Annotated[int, Field(gt=0, le=1_000_000)]
Channels = Annotated[int, Field(ge=1, le=64)]
SHA256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)


class FileRef(Record):
    path: str
    size: Annotated[int, Field(ge=0)]
    sha256: SHA256


class ProfileRecord(Record):
    id: Id
    name: str
    description: str = ""
    language: str = ""
    created_at: float
    updated_at: float


class SampleRecord(Record):
    id: Id
    profile_id: Id
    name: str
    duration: Seconds
    sample_rate: Rate
    channels: Channels
    audio_hash: str = ""
    transcript: str = ""
    transcript_source: str = ""
    words: list[dict[str, Any]] | None = None
    language: str = ""
    source: str = "upload"
    source_ref: str = ""
    root_id: Id
    parent_id: Id | None = None
    fix: str = ""
    measures: dict[str, Any] | None = None
    created_at: float
    original: FileRef
    normalised: FileRef


class UploadRecord(Record):
    id: Id
    name: str
    duration: Seconds
    sample_rate: Rate
    channels: Channels
    size_bytes: Annotated[int, Field(ge=0)]
    created_at: float
    original: FileRef
    normalised: FileRef


class GenerationRecord(Record):
    id: Id
    task: str
    engine_id: str
    title: str = ""
    text: str | None = None
    profile_id: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    duration: Seconds
    sample_rate: Rate
    channels: Channels = 1
    rtf: float | None = None
    engine_seconds: float | None = None
    extras: dict[str, Any] = Field(default_factory=dict)
    created_at: float
    original_id: Id | None = None
    take: Annotated[int, Field(ge=1)] = 1
    last_take_at: float
    favourite: bool = False
    rating: Annotated[int, Field(ge=0, le=5)] = 0
    tags: list[str] = Field(default_factory=list)
    notes: str = ""
    audio: FileRef


ClipKey = Annotated[str, StringConstraints(pattern=r"^(generation|upload):[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


class VoteRecord(Record):
    round_id: Id
    item: ClipKey
    label: Annotated[str, StringConstraints(max_length=8)]
    engine_id: str | None = None
    profile_id: str | None = None
    chosen: bool = False
    created_at: float


class ComparisonRecord(Record):
    id: Id
    name: str
    clips: list[ClipKey] = Field(min_length=MIN_SAVED_CLIPS, max_length=MAX_CLIPS)
    created_at: float
    updated_at: float


class Manifest(Record):
    format: Literal["amphion-studio-project"] = FORMAT
    version: int = VERSION
    created_at: float
    studio_version: str = ""
    profiles: list[ProfileRecord] = Field(default_factory=list)
    samples: list[SampleRecord] = Field(default_factory=list)
    uploads: list[UploadRecord] = Field(default_factory=list)
    generations: list[GenerationRecord] = Field(default_factory=list)
    votes: list[VoteRecord] = Field(default_factory=list)
    comparisons: list[ComparisonRecord] = Field(default_factory=list)

    def files(self) -> list[FileRef]:
        """Every file the manifest names."""
        return [*(f for s in self.samples for f in (s.original, s.normalised)),
                *(f for u in self.uploads for f in (u.original, u.normalised)), *(g.audio for g in self.generations)]


def parse_manifest(data: bytes) -> Manifest:
    """The manifest in `data`; ProjectError says what is wrong (not JSON, another format, a newer version, a
    field out of range)."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError(f"The project's manifest.json is not valid JSON ({exc}); export the project again.") \
            from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ProjectError("This zip is not an Amphion Studio project (its manifest.json names another format).")
    version = raw.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ProjectError(f"The project's format version {version!r} is not valid; export the project again.")
    if version > VERSION:
        raise ProjectError(f"This project was exported by a newer Amphion Studio (project format {version}); this "
                           f"studio reads format {VERSION}. Update the studio, then import the project again.")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
        more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        raise ProjectError(f"The project's manifest is not valid: {problems}{more}.") from None


def _where(location: tuple[Any, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else (f".{part}" if i else str(part))
                   for i, part in enumerate(location))
