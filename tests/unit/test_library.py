"""The voice library: profiles, samples (every way in, every way refused), transcripts, versions, deletion."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.jobs import JobState
from studio.library import LibraryError, LibraryService, NotFound
from studio.services import Services
from tests.conftest import SENTENCE, word_error_rate
from tests.library_fixtures import SR, hibari_speech, write
from tests.unit.test_uploads import tone_file


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return hibari_speech(SENTENCE)


@pytest.fixture
def library(services: Services) -> LibraryService:
    return services.library


@pytest.fixture
def voice(library: LibraryService):  # type: ignore[no-untyped-def]
    return library.create_profile("Narrator", "Warm and slow", "en")


def test_profiles_are_created_renamed_described_and_listed(library: LibraryService) -> None:
    made = library.create_profile("  Anna  ", "calm", "EN")
    assert (made.name, made.description, made.language) == ("Anna", "calm", "en")
    library.create_profile("bob")
    changed = library.update_profile(made.id, name="Anna Karenina", description="calm, Russian novel", language="ru")
    assert (changed.name, changed.description, changed.language) == ("Anna Karenina", "calm, Russian novel", "ru")
    assert [p.name for p in library.profiles()] == ["Anna Karenina", "bob"]
    assert library.profile_by_name("ANNA KARENINA").id == made.id


def test_names_are_unique_whatever_their_case_and_bad_values_say_why(library: LibraryService) -> None:
    anna = library.create_profile("Anna")
    with pytest.raises(LibraryError, match="“Anna” already exists") as clash:
        library.create_profile("aNNa")
    assert clash.value.status == 409
    other = library.create_profile("Other")
    with pytest.raises(LibraryError, match="already exists"):
        library.update_profile(other.id, name="ANNA")
    assert library.update_profile(anna.id, name="anna").name == "anna"  # a change of case of its own name is fine
    with pytest.raises(LibraryError, match="Give the voice a name"):
        library.create_profile(" \t\x00 ")
    with pytest.raises(LibraryError, match="under 80"):
        library.create_profile("x" * 81)
    with pytest.raises(LibraryError, match="language code"):
        library.create_profile("Lang", language="English please")
    with pytest.raises(NotFound):
        library.update_profile("nope", name="x")


def test_a_sample_keeps_its_original_and_a_normalised_copy(library: LibraryService, voice, speech: np.ndarray,
                                                           tmp_path: Path) -> None:
    stereo = np.stack([speech, speech * 0.5], axis=1)
    source = tmp_path / "take 1.flac"
    sf.write(str(source), stereo, SR)
    sample = library.add_file(voice.id, source, transcript=SENTENCE, transcribe=False)
    assert sample.original.read_bytes() == source.read_bytes()
    info = sf.info(str(sample.normalised))
    assert (info.channels, info.samplerate) == (1, SR)
    assert sample.duration == pytest.approx(len(speech) / SR, abs=0.01)
    assert sample.transcript == SENTENCE and sample.transcript_source == "user"
    assert sample.measures and sample.measures["speech_ratio"] > 0.5
    assert library.uploads.list() == []  # the intermediate upload is gone; the sample holds its files
    assert [s.id for s in library.samples(voice.id)] == [sample.id]
    assert library.profiles()[0].samples == 1


def test_a_sample_from_an_upload_outlives_the_upload(library: LibraryService, voice, speech: np.ndarray,
                                                    tmp_path: Path) -> None:
    upload = library.uploads.store_file(write(tmp_path / "rec.webm.wav", speech), "recording.wav")
    sample = library.add_upload(voice.id, upload.id, transcript="hello", source="recording")
    library.uploads.delete([upload.id])
    assert sample.source == "recording" and sample.normalised.is_file() and sample.original.is_file()
    assert sf.info(str(sample.normalised)).duration == pytest.approx(len(speech) / SR, abs=0.01)
    with pytest.raises(NotFound, match="no upload"):
        library.add_upload(voice.id, "missing")


@pytest.mark.parametrize("seconds,message", [
    (1.0, "is 1.0 s long; at least 2 s"), (301.0, "is 301 s long; at most 300 s"),
    # just past a limit, the length is not written as the limit itself
    (1.96, "is 1.96 s long; at least 2 s"), (300.4, "is 300.4 s long; at most 300 s"),
])
def test_too_short_and_too_long_samples_are_refused(library: LibraryService, voice, tmp_path: Path, seconds: float,
                                                    message: str) -> None:
    path = tone_file(tmp_path / "clip.wav", seconds=seconds, sr=8000)
    with pytest.raises(LibraryError, match=message):
        library.add_file(voice.id, path)
    upload = library.uploads.store_file(path)
    with pytest.raises(LibraryError, match="a voice sample"):
        library.add_upload(voice.id, upload.id)
    assert library.samples(voice.id) == [] and not any(library._paths.library.iterdir())


def test_bad_files_are_refused_with_a_reason(library: LibraryService, voice, tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wave file" * 10)
    (tmp_path / "notes.txt").write_text("hello")
    huge = tmp_path / "huge.wav"
    with open(huge, "wb") as f:
        f.truncate(51 * 2**20)  # sparse: costs no disk
    for name, status, reason in (("empty.wav", 400, "empty"), ("broken.wav", 400, "broken.wav"),
                                 ("notes.txt", 415, "takes audio"), ("huge.wav", 413, "larger than 50 MB")):
        with pytest.raises(LibraryError, match=reason) as refused:
            library.add_file(voice.id, tmp_path / name)
        assert refused.value.status == status
    assert library.samples(voice.id) == []
    with pytest.raises(NotFound, match="no voice profile"):
        library.add_file("nobody", tmp_path / "empty.wav")


def test_a_hostile_name_stays_a_name(library: LibraryService, voice, speech: np.ndarray, tmp_path: Path) -> None:
    sample = library.add_file(voice.id, write(tmp_path / "x.wav", speech), name="../../../etc/passwd\x00.wav",
                              transcribe=False)
    assert sample.name == "passwd.wav" and library._paths.library in sample.original.parents


def test_a_generation_becomes_a_sample_with_its_text(services: Services, library: LibraryService, voice) -> None:
    job = services.jobs.wait(services.generation.submit("builtin.hibari", {"text": SENTENCE}, {"seed": 3}).id, 30)
    sample = library.add_generation(voice.id, job_id=job.id, transcribe=False)
    assert sample.source == "generation" and sample.source_ref == job.id and sample.transcript == SENTENCE
    assert sample.duration == pytest.approx(job.result["duration"], abs=0.01)
    by_path = library.add_generation(voice.id, path=services.generation.audio_path(job), transcribe=False)
    assert by_path.duration == sample.duration
    with pytest.raises(LibraryError, match="generations folder"):
        library.add_generation(voice.id, path=by_path.normalised)
    with pytest.raises(NotFound):
        library.add_generation(voice.id, job_id="nojob")


def test_a_sample_without_transcript_is_transcribed_and_typing_wins(library: LibraryService, voice,
                                                                   speech: np.ndarray, tmp_path: Path) -> None:
    sample = library.add_file(voice.id, write(tmp_path / "a.wav", speech))
    job = library.jobs.list(kinds=("library.transcribe",))[0]
    assert library.jobs.wait(job.id, 60).state == JobState.succeeded
    heard = library.sample(sample.id)
    assert word_error_rate(SENTENCE, heard.transcript) <= 0.1
    assert heard.transcript_source == "builtin.whisper" and heard.language == "en" and len(heard.words) >= 12
    typed = library.set_transcript(sample.id, heard.transcript.upper() + "!")  # same words: timings stay
    assert typed.transcript_source == "user" and typed.words == heard.words
    retyped = library.set_transcript(sample.id, "Something else entirely.")
    assert retyped.words is None
    automatic = library.jobs.wait(library.transcribe(sample.id, replace=False).id, 60)
    assert automatic.result["saved"] is False
    assert library.sample(sample.id).transcript == "Something else entirely."  # the user's words are kept
    asked = library.jobs.wait(library.transcribe(sample.id).id, 60)  # the Transcribe button: asked for, replaces
    assert asked.result["saved"] is True and library.sample(sample.id).transcript == heard.transcript
    with pytest.raises(LibraryError, match="under 5,000"):
        library.set_transcript(sample.id, "x" * 5001)


def test_deleting_a_profile_removes_its_samples_files_and_nothing_else(library: LibraryService, speech: np.ndarray,
                                                                      tmp_path: Path) -> None:
    keep, gone = library.create_profile("Keep"), library.create_profile("Gone")
    kept = library.add_file(keep.id, write(tmp_path / "k.wav", speech), transcript="k", transcribe=False)
    doomed = [library.add_file(gone.id, write(tmp_path / f"g{i}.wav", speech), transcript="g", transcribe=False)
              for i in range(2)]
    assert library.delete_profile(gone.id) == 2
    assert [p.name for p in library.profiles()] == ["Keep"]
    assert not any(s.original.parent.exists() for s in doomed)
    assert kept.normalised.is_file() and [s.id for s in library.samples(keep.id)] == [kept.id]
    with pytest.raises(NotFound):
        library.sample(doomed[0].id)


def test_leftovers_of_a_crash_are_swept_at_start(services: Services, speech: np.ndarray, tmp_path: Path) -> None:
    voice = services.library.create_profile("V")
    sample = services.library.add_file(voice.id, write(tmp_path / "a.wav", speech), transcript="a", transcribe=False)
    half = services.paths.library / ".incoming-deadbeef0000"
    orphan = services.paths.library / "0123456789ab"
    half.mkdir()
    orphan.mkdir()
    (orphan / "normalised.wav").write_bytes(b"x")
    again = LibraryService(services.db, services.paths, services.uploads, services.jobs, services.transcription,
                           services.registry, services.prompt_cache)
    assert not half.exists() and not orphan.exists()
    assert again.sample(sample.id).normalised.is_file()
    assert os.listdir(services.paths.library) == [sample.id]
