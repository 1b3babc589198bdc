"""What the library keeps (ProfileInfo, SampleInfo), its refusals, and the rules for the text a user gives it."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.contract import AudioInput

MIN_SAMPLE_SECONDS = 2.0
MAX_SAMPLE_SECONDS = 300.0
MAX_NAME = 80
MAX_DESCRIPTION = 2000
MAX_TRANSCRIPT = 5000


class LibraryError(ValueError):
    """A request the library refuses; the message says what to fix. `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class NotFound(LibraryError):
    def __init__(self, message: str) -> None:
        super().__init__(message, 404)


@dataclass(frozen=True)
class ProfileInfo:
    id: str
    name: str
    description: str
    language: str
    created_at: float
    updated_at: float
    samples: int = 0


@dataclass(frozen=True)
class SampleInfo:
    id: str
    profile_id: str
    name: str
    original: Path
    normalised: Path
    duration: float
    sample_rate: int
    channels: int
    audio_hash: str
    transcript: str
    transcript_source: str
    words: list[dict[str, Any]] | None
    language: str
    source: str
    source_ref: str
    root_id: str
    parent_id: str | None
    fix: str
    measures: dict[str, Any] | None
    created_at: float

    @property
    def is_version(self) -> bool:
        return self.parent_id is not None

    @property
    def reference(self) -> AudioInput:
        return AudioInput(str(self.normalised), self.transcript or None)


def clean_text(value: str | None, limit: int, what: str) -> str:
    text = unicodedata.normalize("NFC", value or "")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()
    if len(text) > limit:
        raise LibraryError(f"{what} is {len(text):,} characters long; keep it under {limit:,}.")
    return text


def profile_name(name: str) -> str:
    """A voice's name as the library keeps it (spaces collapsed, no control characters); LibraryError if unusable."""
    name = re.sub(r"\s+", " ", clean_text(name, 10_000, "The name"))
    if not name:
        raise LibraryError("Give the voice a name.")
    if len(name) > MAX_NAME:
        raise LibraryError(f"The name is {len(name)} characters long; keep it under {MAX_NAME}.")
    return name


def language_code(language: str | None) -> str:
    """A profile's language as the library keeps it: a code such as en or pt-br, or empty; LibraryError if not."""
    code = (language or "").strip().lower()
    if code and not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})?", code):
        raise LibraryError(f"Language {language!r}: use a language code such as en, zh, ja or pt-br, "
                           f"or leave it empty.")
    return code


def words_of(text: str) -> list[str]:
    return re.sub(r"[^\w' ]+", " ", text.lower()).split()
