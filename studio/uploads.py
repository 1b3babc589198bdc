"""Uploads: audio (or video with sound) a user gives the studio, checked on the server and kept.

Each upload keeps its original file next to a normalised copy (mono 16-bit WAV at the original rate, at most
48 kHz) that engines read; both live under STUDIO_HOME/uploads/<id>/ with a row in the database. Limits are
enforced here, not only in the browser: size, type, decodability, duration (read from the header before
anything is decoded, and decoding stops at the limit).
"""
from __future__ import annotations

import re
import shutil
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile as sf
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import Field, SQLModel

from .audio.io import AudioReadError, decode_to_wav, probe, read_audio, write_audio
from .storage import Paths

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_UPLOAD_SECONDS = 2 * 3600  # a 50 MB file of low-bitrate speech can last a day; nothing here needs more
MAX_NORMALISED_RATE = 48_000
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac")
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".avi", ".mkv")
ACCEPTED_SUFFIXES = AUDIO_SUFFIXES + VIDEO_SUFFIXES
ACCEPT_ATTRIBUTE = ",".join(("audio/*", "video/*", *ACCEPTED_SUFFIXES))


class UploadError(ValueError):
    """An upload the studio refuses; the message says why and what to do. `status` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Upload(SQLModel, table=True):
    __tablename__ = "uploads"

    id: str = Field(primary_key=True)
    name: str  # the user's file name, made safe
    original: str  # relative to STUDIO_HOME
    normalised: str  # relative to STUDIO_HOME
    duration: float
    sample_rate: int  # of the normalised copy
    channels: int  # of the original
    size_bytes: int
    created_at: float = Field(index=True)


UPLOADS = Upload.__table__


@dataclass(frozen=True)
class UploadUser:
    """What refers to uploads by id (generations, blind votes, saved comparisons): an upload it uses stays."""

    what: str  # "generation", in words
    find: Callable[[str], list[str]]  # an upload's id -> the ids of those that use it
    remedy: str  # how to delete one of them, e.g. "DELETE /api/history/{id}"


@dataclass(frozen=True)
class StoredAudio:
    """An accepted upload: where its files are and what they hold."""

    id: str
    name: str
    original: Path
    normalised: Path
    duration: float
    sample_rate: int
    channels: int
    size_bytes: int
    created_at: float


def check_duration(display: str, duration: float, min_seconds: float | None, max_seconds: float,
                   cut: bool = False) -> None:
    """UploadError unless `duration` is within the limits; `cut`: decoding stopped at the limit, so it is longer."""
    if min_seconds is not None and duration < min_seconds:
        raise UploadError(f"{display} is {_length(duration, min_seconds, places=1)} long; at least {min_seconds:g} s "
                          "is needed.")
    if duration > max_seconds:
        length = f"longer than {_limit(max_seconds)}" if cut else f"{_length(duration, max_seconds)} long"
        taken = "is taken" if max_seconds < MAX_UPLOAD_SECONDS else "is taken for an upload"
        raise UploadError(f"{display} is {length}; at most {_limit(max_seconds)} {taken}. Cut it shorter first.")


def _length(seconds: float, limit: float, places: int = 0) -> str:
    """`seconds` with as many decimals (up to three) as it takes not to read as the `limit` it missed."""
    value, limit, unit = (seconds / 3600, limit / 3600, "hours") if seconds >= 3600 else (seconds, limit, "s")
    places = max(places, 1) if unit == "hours" else places
    while places < 3 and float(f"{value:.{places}f}") == limit:
        places += 1
    return f"{value:.{places}f} {unit}"


def _limit(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 3600 else f"{seconds / 3600:g} hours"


def _counted(ids: list[str], what: str) -> str:
    """E.g. "2 generations (a1, b2)", naming at most five."""
    return f"{len(ids)} {what}{'s' if len(ids) != 1 else ''} ({', '.join(ids[:5])}{', …' if len(ids) > 5 else ''})"


def safe_name(name: str) -> str:
    """A display name with no path, no control characters and no surprises; keeps the suffix."""
    name = unicodedata.normalize("NFC", str(name)).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip().lstrip(".")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = stem[:96] or "audio"
    return f"{stem}.{suffix[:8]}" if suffix else stem


class UploadService:
    def __init__(self, db: SqlEngine, paths: Paths) -> None:
        self._db = db
        self._paths = paths
        self._users: list[UploadUser] = []
        self._active_payloads: Callable[[], list[tuple[str, dict[str, Any]]]] = lambda: []

    def add_user(self, user: UploadUser) -> None:
        """Refuse to delete an upload `user` still refers to (a re-run or an export would lose the clip)."""
        self._users.append(user)

    def watch_jobs(self, active_payloads: Callable[[], list[tuple[str, dict[str, Any]]]]) -> None:
        """Refuse to delete an upload a queued or running job names; `active_payloads()` gives (job id, payload)."""
        self._active_payloads = active_payloads

    def named_in(self, payload: Any, upload_id: str) -> bool:
        """Whether a job's payload names the upload: as `{"upload": id}` or by a path to one of its files."""
        if isinstance(payload, dict):
            return payload.get("upload") == upload_id or any(self.named_in(v, upload_id) for v in payload.values())
        if isinstance(payload, list):
            return any(self.named_in(v, upload_id) for v in payload)
        return isinstance(payload, str) and Path(payload).is_relative_to(self._paths.uploads / upload_id)

    # -- storing -------------------------------------------------------------------------------------------

    async def store_stream(self, name: str, chunks: AsyncIterator[bytes], *, min_seconds: float | None = None,
                           max_seconds: float | None = None) -> StoredAudio:
        """Stream an upload to disk (stopping at the size limit), then check and normalise it."""
        suffix = self._check_name(name)
        upload_id, folder = self._new_folder()
        original = folder / f"original{suffix}"
        size = 0
        try:
            with open(original, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        raise UploadError(f"{safe_name(name)} is larger than {MAX_UPLOAD_BYTES // 2**20} MB; "
                                          f"trim it or convert it to a compressed format first.", 413)
                    out.write(chunk)
            return self._finish(upload_id, name, original, size, min_seconds, max_seconds)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def store_file(self, source: str | Path, name: str | None = None, *, min_seconds: float | None = None,
                   max_seconds: float | None = None) -> StoredAudio:
        """Copy a file that is already on disk (a generation, a recording, a test fixture) in as an upload."""
        source = Path(source)
        name = name or source.name
        suffix = self._check_name(name)
        size = source.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise UploadError(f"{safe_name(name)} is larger than {MAX_UPLOAD_BYTES // 2**20} MB.", 413)
        upload_id, folder = self._new_folder()
        try:
            original = folder / f"original{suffix}"
            shutil.copyfile(source, original)
            return self._finish(upload_id, name, original, size, min_seconds, max_seconds)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _check_name(self, name: str) -> str:
        suffix = Path(safe_name(name)).suffix.lower()
        if suffix not in ACCEPTED_SUFFIXES:
            raise UploadError(f"{safe_name(name)}: the studio takes audio ({', '.join(AUDIO_SUFFIXES)}) or video "
                              f"with sound ({', '.join(VIDEO_SUFFIXES)}).", 415)
        return suffix

    def _new_folder(self) -> tuple[str, Path]:
        upload_id = uuid.uuid4().hex[:12]
        folder = self._paths.uploads / upload_id
        folder.mkdir(parents=True)
        return upload_id, folder

    def _finish(self, upload_id: str, name: str, original: Path, size: int, min_seconds: float | None,
                max_seconds: float | None) -> StoredAudio:
        """Check the duration from the header before decoding (a small compressed file can be hours long), then
        write the normalised copy, decoding no more than the limit allows."""
        display = safe_name(name)
        if size == 0:
            raise UploadError(f"{display} is empty (0 bytes).")
        limit = min(max_seconds, MAX_UPLOAD_SECONDS) if max_seconds is not None else MAX_UPLOAD_SECONDS
        try:
            info = probe(original)
            if info.duration is not None:
                check_duration(display, info.duration, min_seconds, limit)
            rate = min(info.sample_rate, MAX_NORMALISED_RATE)
            normalised = original.parent / "normalised.wav"
            if info.decoder == "soundfile":
                audio, _ = read_audio(original, rate)
                write_audio(normalised, audio, rate)
            else:  # one second past the limit is enough to know the file is too long
                decode_to_wav(original, normalised, rate, limit + 1)
        except AudioReadError as exc:
            raise UploadError(f"{display}: {str(exc).split(': ', 1)[-1]}") from None
        duration = sf.info(str(normalised)).duration
        if duration == 0:
            raise UploadError(f"{display}: the file holds no audio samples.")
        check_duration(display, duration, min_seconds, limit, cut=duration > limit and info.duration is None)
        stored = StoredAudio(upload_id, display, original, normalised, duration, rate, info.channels, size,
                             time.time())
        with self._db.begin() as connection:
            connection.execute(insert(UPLOADS).values(
                id=upload_id, name=display, original=self._relative(original), normalised=self._relative(normalised),
                duration=duration, sample_rate=rate, channels=info.channels, size_bytes=size,
                created_at=stored.created_at))
        return stored

    # -- reading and deleting ------------------------------------------------------------------------------

    def get(self, upload_id: str) -> StoredAudio | None:
        with self._db.connect() as connection:
            row = connection.execute(select(UPLOADS).where(UPLOADS.c.id == upload_id)).first()
        return self._from_row(row) if row else None

    def list(self, limit: int = 100) -> list[StoredAudio]:
        with self._db.connect() as connection:
            rows = connection.execute(select(UPLOADS).order_by(UPLOADS.c.created_at.desc()).limit(limit)).all()
        return [self._from_row(r) for r in rows]

    def delete(self, upload_ids: Iterable[str]) -> int:
        """Delete uploads with their files; UploadError 409 (nothing deleted) when anything still uses one."""
        ids = list(upload_ids)
        for upload_id in ids:
            self._refuse_if_used(upload_id)
        with self._db.begin() as connection:
            removed = connection.execute(delete(UPLOADS).where(UPLOADS.c.id.in_(ids))).rowcount
        for upload_id in ids:
            shutil.rmtree(self._paths.uploads / upload_id, ignore_errors=True)
        return removed

    def _refuse_if_used(self, upload_id: str) -> None:
        stored = self.get(upload_id)
        name = stored.name if stored else upload_id
        jobs = [job_id for job_id, payload in self._active_payloads() if self.named_in(payload, upload_id)]
        if jobs:
            raise UploadError(f"{name} is used by {_counted(jobs, 'queued or running job')}: cancel "
                              f"{'it' if len(jobs) == 1 else 'them'} (POST /api/jobs/{{id}}/cancel) or wait until "
                              f"{'it ends' if len(jobs) == 1 else 'they end'}, then delete the upload.", 409)
        used = [(user, found) for user in self._users if (found := user.find(upload_id))]
        if not used:
            return
        uses = " and ".join(_counted(found, user.what) for user, found in used)
        remedies = "; ".join(user.remedy for user, _ in used)
        raise UploadError(f"{name} is used by {uses}: delete those first ({remedies}), then the upload.", 409)

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self._paths.home))

    def _from_row(self, row) -> StoredAudio:  # type: ignore[no-untyped-def]
        return StoredAudio(row.id, row.name, self._paths.home / row.original, self._paths.home / row.normalised,
                           row.duration, row.sample_rate, row.channels, row.size_bytes, row.created_at)
