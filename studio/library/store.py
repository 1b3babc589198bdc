"""LibraryStore: voice profiles and their reference samples (made from uploads, files or generations), with the
versions fixes make of a sample.

A sample owns its files under STUDIO_HOME/library/<sample id>/: the original as given and the normalised mono
copy engines read (hard links to the upload's files when it came from one, so nothing is copied twice).
Files are written first and the row last; deleting removes the row first and the files after, so a crash
never leaves a row without its files. Fixes never change a sample: they add a new version linked to it.
"""
from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine as SqlEngine

from ..audio.io import read_audio, write_audio
from ..jobs import JobQueue
from ..prompt_cache import PromptCache, file_hash
from ..storage import Paths
from ..uploads import StoredAudio, UploadError, UploadService, safe_name
from . import doctor
from .fixes import Fixed
from .records import (MAX_DESCRIPTION, MAX_NAME, MAX_SAMPLE_SECONDS, MAX_TRANSCRIPT, MIN_SAMPLE_SECONDS, LibraryError,
                      NotFound, ProfileInfo, SampleInfo, clean_text, language_code, profile_name, words_of)
from .tables import PROFILES, SAMPLES


class LibraryStore(ABC):
    def __init__(self, db: SqlEngine, paths: Paths, uploads: UploadService, jobs: JobQueue,
                 prompt_cache: PromptCache) -> None:
        self._db = db
        self._paths = paths
        self.uploads = uploads
        self.jobs = jobs
        self.prompt_cache = prompt_cache
        self._sweep()

    @abstractmethod
    def _transcribe_new(self, sample_id: str) -> None:
        """Queue the transcription of a sample added without a transcript (the library's jobs do that)."""

    # -- profiles ------------------------------------------------------------------------------------------

    def create_profile(self, name: str, description: str = "", language: str = "") -> ProfileInfo:
        name = self._checked_name(name)
        now = time.time()
        profile = ProfileInfo(uuid.uuid4().hex[:12], name, clean_text(description, MAX_DESCRIPTION, "The description"),
                              self._checked_language(language), now, now)
        with self._db.begin() as connection:
            connection.execute(insert(PROFILES).values(
                id=profile.id, name=profile.name, name_key=name.casefold(), description=profile.description,
                language=profile.language, created_at=now, updated_at=now))
        return profile

    def update_profile(self, profile_id: str, *, name: str | None = None, description: str | None = None,
                       language: str | None = None) -> ProfileInfo:
        current = self.profile(profile_id)
        changes: dict[str, Any] = {"updated_at": time.time()}
        if name is not None and name.strip() != current.name:
            changes["name"] = self._checked_name(name, allow_id=profile_id)
            changes["name_key"] = changes["name"].casefold()
        if description is not None:
            changes["description"] = clean_text(description, MAX_DESCRIPTION, "The description")
        if language is not None:
            changes["language"] = self._checked_language(language)
        with self._db.begin() as connection:
            connection.execute(update(PROFILES).where(PROFILES.c.id == profile_id).values(**changes))
        return self.profile(profile_id)

    def _checked_name(self, name: str, allow_id: str | None = None) -> str:
        name = profile_name(name)
        with self._db.connect() as connection:
            clash = connection.execute(select(PROFILES.c.id, PROFILES.c.name)
                                       .where(PROFILES.c.name_key == name.casefold())).first()
        if clash is not None and clash.id != allow_id:
            raise LibraryError(f"A voice called “{clash.name}” already exists; choose another name.", 409)
        return name

    @staticmethod
    def _checked_language(language: str | None) -> str:
        return language_code(language)

    def profile(self, profile_id: str) -> ProfileInfo:
        found = self.profiles(ids=[profile_id])
        if not found:
            raise NotFound(f"There is no voice profile {profile_id!r}.")
        return found[0]

    def find_profile(self, key: str) -> ProfileInfo:
        """The profile whose id is `key`, else the one called `key` (any case); NotFound says neither exists."""
        try:
            return self.profile(key)
        except NotFound:
            found = self.profile_by_name(key)
            if found is None:
                raise NotFound(f"There is no voice profile {key!r} (give its name or its id; GET /api/profiles "
                               f"lists them).") from None
            return found

    def profile_by_name(self, name: str) -> ProfileInfo | None:
        with self._db.connect() as connection:
            row = connection.execute(select(PROFILES.c.id)
                                     .where(PROFILES.c.name_key == name.strip().casefold())).first()
        return self.profile(row.id) if row else None

    def profiles(self, ids: list[str] | None = None) -> list[ProfileInfo]:
        counts = (select(SAMPLES.c.profile_id, func.count().label("n")).group_by(SAMPLES.c.profile_id).subquery())
        query = (select(PROFILES, func.coalesce(counts.c.n, 0).label("n"))
                 .outerjoin(counts, counts.c.profile_id == PROFILES.c.id).order_by(PROFILES.c.name_key))
        if ids is not None:
            query = query.where(PROFILES.c.id.in_(ids))
        with self._db.connect() as connection:
            rows = connection.execute(query).all()
        return [ProfileInfo(r.id, r.name, r.description, r.language, r.created_at, r.updated_at, r.n) for r in rows]

    def delete_profile(self, profile_id: str) -> int:
        """Delete the profile with its samples (rows, files and cached prompts); how many samples went."""
        self.profile(profile_id)
        samples = self.samples(profile_id)
        with self._db.begin() as connection:
            connection.execute(delete(SAMPLES).where(SAMPLES.c.profile_id == profile_id))
            connection.execute(delete(PROFILES).where(PROFILES.c.id == profile_id))
        for sample in samples:
            self._discard(sample)
        return len(samples)

    # -- adding samples ------------------------------------------------------------------------------------

    def add_upload(self, profile_id: str, upload_id: str, *, transcript: str | None = None, source: str = "upload",
                   name: str | None = None, transcribe: bool = True) -> SampleInfo:
        """A sample from an upload (the upload's files are linked, not copied; the upload itself stays)."""
        self.profile(profile_id)
        stored = self.uploads.get(upload_id)
        if stored is None:
            raise NotFound(f"There is no upload {upload_id!r}; upload the file first.")
        self._check_duration(stored.name, stored.duration)
        return self._adopt(profile_id, stored, transcript, source, upload_id, name, transcribe)

    def add_file(self, profile_id: str, path: str | Path, *, name: str | None = None, transcript: str | None = None,
                 source: str = "upload", source_ref: str = "", transcribe: bool = True) -> SampleInfo:
        """A sample from a file on disk, checked exactly as an upload is (type, size, decodable, 2 s to 5 min)."""
        self.profile(profile_id)
        try:
            stored = self.uploads.store_file(path, name, min_seconds=MIN_SAMPLE_SECONDS, max_seconds=MAX_SAMPLE_SECONDS)
        except UploadError as exc:
            raise LibraryError(str(exc), exc.status) from None
        try:
            return self._adopt(profile_id, stored, transcript, source, source_ref, name, transcribe)
        finally:
            self.uploads.delete([stored.id])  # only a step on the way in: the sample holds the files now

    def add_generation(self, profile_id: str, *, job_id: str | None = None, path: str | Path | None = None,
                       transcript: str | None = None, name: str | None = None,
                       transcribe: bool = True) -> SampleInfo:
        """A sample from a finished generation, by its job id or its file under STUDIO_HOME/generations.

        A kept generation whose job is not in this studio (one imported from a project) is found by its file."""
        if job_id is not None:
            job = self.jobs.get(job_id)
            kept = self._paths.generations / f"{job_id}.wav"
            if job is not None and job.result and "audio" in job.result:
                path = self._paths.home / job.result["audio"]
                text = job.payload.get("inputs", {}).get("text")
                transcript = transcript if transcript is not None else (text if isinstance(text, str) else None)
                name = name or f"{job.title[:60]}.wav"
            elif job is None and re.fullmatch(r"[A-Za-z0-9_-]+", job_id) and kept.is_file():
                path, name = kept, name or kept.name
            else:
                raise NotFound(f"There is no finished generation {job_id!r} with audio.")
        elif path is not None:
            path = Path(path).resolve()
            if self._paths.generations.resolve() not in path.parents:
                raise LibraryError("Only files in the studio's generations folder can be added this way.")
            name = name or path.name
        else:
            raise LibraryError("Name the generation: a job id or its file.")
        if not Path(path).is_file():
            raise NotFound("The generation's audio file is gone.")
        return self.add_file(profile_id, path, name=name, transcript=transcript, source="generation",
                             source_ref=job_id or Path(path).stem, transcribe=transcribe)

    def add_version(self, parent: SampleInfo, fixed: Fixed, rate: int, label: str) -> SampleInfo:
        """A new version of `parent` holding what a fix (`label`) made of it."""
        def fill(folder: Path) -> None:
            write_audio(folder / "normalised.wav", fixed.audio, rate)
            _link_or_copy(folder / "normalised.wav", folder / "original.wav")

        cut = fixed.transcript is not None
        return self._new_sample(
            fill, profile_id=parent.profile_id, name=parent.name, duration=len(fixed.audio) / rate, sample_rate=rate,
            channels=1, transcript=fixed.transcript if cut else parent.transcript,
            transcript_source="cut" if cut else parent.transcript_source, words=fixed.words, language=parent.language,
            source="fix", source_ref=parent.id, root_id=parent.root_id, parent_id=parent.id,
            fix=f"{label}: {fixed.description}")

    def _check_duration(self, name: str, duration: float) -> None:
        if duration < MIN_SAMPLE_SECONDS:
            raise LibraryError(f"{name} is {duration:.1f} s long; a voice sample needs at least "
                               f"{MIN_SAMPLE_SECONDS:g} s of speech.")
        if duration > MAX_SAMPLE_SECONDS:
            raise LibraryError(f"{name} is {duration:.0f} s long; a voice sample can be at most "
                               f"{MAX_SAMPLE_SECONDS / 60:g} minutes. Cut it shorter first.")

    def _adopt(self, profile_id: str, stored: StoredAudio, transcript: str | None, source: str, source_ref: str,
               name: str | None, transcribe: bool) -> SampleInfo:
        def fill(folder: Path) -> None:
            _link_or_copy(stored.original, folder / f"original{stored.original.suffix}")
            _link_or_copy(stored.normalised, folder / "normalised.wav")

        text = clean_text(transcript, MAX_TRANSCRIPT, "The transcript")
        sample = self._new_sample(fill, profile_id=profile_id, name=safe_name(name) if name else stored.name,
                                  duration=stored.duration, sample_rate=stored.sample_rate, channels=stored.channels,
                                  transcript=text, transcript_source="user" if text else "", source=source,
                                  source_ref=source_ref)
        if transcribe and not text:
            self._transcribe_new(sample.id)
        return sample

    def _new_sample(self, fill: Callable[[Path], None], **fields: Any) -> SampleInfo:
        """A sample whose files `fill(folder)` puts in place (original.* and normalised.wav): files first, in a
        staging folder renamed into place, then measured, then the row."""
        sample_id = uuid.uuid4().hex[:12]
        folder = self._paths.library / sample_id
        staging = self._paths.library / f".incoming-{sample_id}"
        staging.mkdir(parents=True)
        try:
            fill(staging)
            original = next(staging.glob("original.*"))
            audio, rate = read_audio(staging / "normalised.wav")
            measures = doctor.measure(audio, rate)
            os.replace(staging, folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        row = {"words": None, "language": "", "parent_id": None, "fix": "", "root_id": sample_id, **fields,
               "id": sample_id, "original": self._relative(folder / original.name),
               "normalised": self._relative(folder / "normalised.wav"),
               "audio_hash": file_hash(folder / "normalised.wav"), "measures": measures, "created_at": time.time()}
        try:
            with self._db.begin() as connection:
                connection.execute(insert(SAMPLES).values(**row))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self.sample(sample_id)

    # -- reading, editing, deleting samples ----------------------------------------------------------------

    def sample(self, sample_id: str) -> SampleInfo:
        with self._db.connect() as connection:
            row = connection.execute(select(SAMPLES).where(SAMPLES.c.id == sample_id)).first()
        if row is None:
            raise NotFound(f"There is no sample {sample_id!r}.")
        return self._from_row(row)

    def samples(self, profile_id: str) -> list[SampleInfo]:
        """The profile's samples, oldest first (each version after the sample it came from)."""
        with self._db.connect() as connection:
            rows = connection.execute(select(SAMPLES).where(SAMPLES.c.profile_id == profile_id)
                                      .order_by(SAMPLES.c.created_at)).all()
        return [self._from_row(r) for r in rows]

    def versions(self, sample_id: str) -> list[SampleInfo]:
        """Every version of the sample's family (the original first), oldest first."""
        root = self.sample(sample_id).root_id
        with self._db.connect() as connection:
            rows = connection.execute(select(SAMPLES).where(SAMPLES.c.root_id == root)
                                      .order_by(SAMPLES.c.created_at)).all()
        return [self._from_row(r) for r in rows]

    def set_transcript(self, sample_id: str, text: str) -> SampleInfo:
        sample = self.sample(sample_id)
        text = clean_text(text, MAX_TRANSCRIPT, "The transcript")
        if text == sample.transcript:
            return sample
        timed = sample.words if sample.words and words_of(text) == words_of(" ".join(w["word"] for w in sample.words)) \
            else None  # timings stay only while they still describe the words
        self.update_sample(sample_id, transcript=text, transcript_source="user", words=timed)
        self.prompt_cache.invalidate(audio_hash=sample.audio_hash)
        return self.sample(sample_id)

    def rename_sample(self, sample_id: str, name: str) -> SampleInfo:
        clean = clean_text(name, MAX_NAME, "The name")
        if not clean:
            raise LibraryError("Give the sample a name.")
        self.sample(sample_id)
        self.update_sample(sample_id, name=clean)
        return self.sample(sample_id)

    def delete_sample(self, sample_id: str) -> None:
        """Delete one version; the versions made from it stay (linked to its parent instead)."""
        sample = self.sample(sample_id)
        with self._db.begin() as connection:
            connection.execute(update(SAMPLES).where(SAMPLES.c.parent_id == sample_id)
                               .values(parent_id=sample.parent_id))
            connection.execute(delete(SAMPLES).where(SAMPLES.c.id == sample_id))
        self._discard(sample)

    def update_sample(self, sample_id: str, **values: Any) -> None:
        """Write these columns of the sample's row as given, unchecked: for the library's own work (transcripts,
        timed words, measures); what a user changes goes through set_transcript and rename_sample."""
        with self._db.begin() as connection:
            connection.execute(update(SAMPLES).where(SAMPLES.c.id == sample_id).values(**values))

    def _discard(self, sample: SampleInfo) -> None:
        self.prompt_cache.invalidate(audio_hash=sample.audio_hash)
        shutil.rmtree(self._paths.library / sample.id, ignore_errors=True)

    def _sweep(self) -> None:
        """Remove folders a crash left without a row (a half-made sample, or one whose delete was cut short)."""
        if not self._paths.library.is_dir():
            return
        with self._db.connect() as connection:
            known = {r.id for r in connection.execute(select(SAMPLES.c.id))}
        for folder in self._paths.library.iterdir():
            if folder.is_dir() and folder.name.removeprefix(".incoming-") not in known:
                shutil.rmtree(folder, ignore_errors=True)

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self._paths.home))

    def _from_row(self, row: Any) -> SampleInfo:
        return SampleInfo(row.id, row.profile_id, row.name, self._paths.home / row.original,
                          self._paths.home / row.normalised, row.duration, row.sample_rate, row.channels,
                          row.audio_hash, row.transcript, row.transcript_source, row.words, row.language, row.source,
                          row.source_ref, row.root_id, row.parent_id, row.fix, row.measures, row.created_at)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
