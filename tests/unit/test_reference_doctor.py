"""The reference doctor's verdicts on constructed clips, and each one-click fix doing what it says."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engines.contract import EngineError
from studio.audio import quality
from studio.jobs import JobState
from studio.library import LibraryService
from studio.library.doctor import TARGET_LUFS, diagnose, measure
from studio.services import Services
from tests.conftest import transcribe, word_error_rate
from tests.library_fixtures import LONG_TEXT, SR, clipped, hibari_speech, noisy, padded, write


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return hibari_speech(LONG_TEXT)


@pytest.fixture
def library(services: Services) -> LibraryService:
    return services.library


def add(library: LibraryService, audio: np.ndarray, path: Path, transcript: str = ""):  # type: ignore[no-untyped-def]
    voice = library.profile_by_name("Doctor") or library.create_profile("Doctor")
    return library.add_file(voice.id, write(path, audio), transcript=transcript, transcribe=False)


def test_clean_speech_is_a_good_reference(speech: np.ndarray) -> None:
    report = diagnose(measure(speech, SR))
    assert report.verdict == "ok" and report.fixes == [] and "good reference" in report.summary


def test_a_clipped_clip_is_bad_and_no_fix_is_offered_for_it(speech: np.ndarray) -> None:
    report = diagnose(measure(clipped(speech), SR))
    assert report.verdict == "bad" and "clipped" in report.summary
    assert report.measures["clipping_ratio"] > 0.01 and "normalise" not in report.fixes


def test_silence_around_the_speech_asks_for_a_trim(speech: np.ndarray) -> None:
    report = diagnose(measure(padded(speech, 2.5, 3.0), SR))
    assert report.verdict == "warn" and report.fixes == ["trim"]
    assert report.measures["leading_silence"] == pytest.approx(2.5, abs=0.4)
    assert report.measures["trailing_silence"] == pytest.approx(3.0, abs=0.5)


def test_noise_asks_for_denoising(speech: np.ndarray) -> None:
    report = diagnose(measure(noisy(padded(speech, 0.5, 0.5), 0.01), SR))
    assert report.verdict == "bad" and "denoise" in report.fixes and report.measures["snr_db"] < 15


def test_quiet_speech_asks_for_normalising_and_pure_noise_has_no_speech(speech: np.ndarray) -> None:
    assert diagnose(measure(speech * 0.03, SR)).fixes == ["normalise"]
    hiss = np.random.default_rng(1).standard_normal(SR * 4).astype(np.float32) * 0.05
    report = diagnose(measure(hiss, SR))
    assert report.verdict == "bad" and "no speech was found" in report.summary


def test_the_sweet_spot_of_every_engine_with_an_audio_slot_is_shown(services: Services, speech: np.ndarray) -> None:
    report = diagnose(measure(speech[: 8 * SR], SR), list(services.registry))
    (fit,) = [f for f in report.fits if f.engine_id == "test.prompted"]
    assert fit.fit == "sweet" and fit.describe == "best 3-12 s, takes 2-30 s"
    assert all(f.engine_id != "builtin.hibari" for f in report.fits)  # no audio slot, nothing to show
    longer = diagnose(measure(np.concatenate([speech] * 2), SR), list(services.registry))
    assert [f.fit for f in longer.fits if f.engine_id == "test.prompted"] == ["ok"]


def test_trim_makes_a_new_version_without_the_silence(library: LibraryService, speech: np.ndarray,
                                                      tmp_path: Path) -> None:
    original = add(library, padded(speech, 2.0, 2.5), tmp_path / "padded.wav", "words")
    before = original.normalised.read_bytes()
    trimmed = library.apply_fix(original.id, "trim")
    assert trimmed.parent_id == original.id and trimmed.root_id == original.id and trimmed.fix.startswith("Trim")
    assert trimmed.transcript == "words"
    assert trimmed.measures["leading_silence"] < 0.4 and trimmed.measures["trailing_silence"] < 0.6
    assert trimmed.duration == pytest.approx(original.duration - 4.5, abs=0.6)
    assert original.normalised.read_bytes() == before  # the original stays as it was
    assert [v.id for v in library.versions(trimmed.id)] == [original.id, trimmed.id]
    assert library.report(trimmed.id).fixes == []


def test_normalise_brings_the_loudness_to_the_target(library: LibraryService, speech: np.ndarray,
                                                    tmp_path: Path) -> None:
    quiet = add(library, speech * 0.03, tmp_path / "quiet.wav")
    louder = library.apply_fix(quiet.id, "normalise")
    audio, sr = sf.read(str(louder.normalised), dtype="float32")
    assert quality.loudness_lufs(audio, sr) == pytest.approx(TARGET_LUFS, abs=0.5)
    assert "LUFS" in louder.fix


def test_denoise_raises_the_snr(library: LibraryService, speech: np.ndarray, tmp_path: Path) -> None:
    hissy = add(library, noisy(padded(speech, 0.5, 0.5), 0.01), tmp_path / "noisy.wav")
    cleaned = library.apply_fix(hissy.id, "denoise")
    assert cleaned.duration == pytest.approx(hissy.duration, abs=0.01)
    assert cleaned.measures["snr_db"] > hissy.measures["snr_db"] + 20
    assert "denoise" in library.report(hissy.id).fixes and "denoise" not in library.report(cleaned.id).fixes


def test_best_window_cuts_audio_and_transcript_together(services: Services, library: LibraryService,  # type: ignore[no-untyped-def]
                                                        speech: np.ndarray, tmp_path: Path, whisper) -> None:
    long = add(library, speech, tmp_path / "long.wav", LONG_TEXT)
    job = services.jobs.wait(library.fix(long.id, "best_window", {"seconds": 6}).id, 90)  # transcribes first
    assert job.state == JobState.succeeded, job.error
    cut = library.sample(job.result["sample_id"])
    assert 4.5 <= cut.duration <= 6.0
    assert cut.transcript_source == "cut" and 6 <= len(cut.transcript.split()) < len(LONG_TEXT.split())
    assert word_error_rate(cut.transcript, transcribe(whisper, cut.normalised)) <= 0.2  # the words are the audio's
    assert cut.words and cut.words[-1]["end"] <= cut.duration
    assert library.sample(long.id).words  # the timings found on the way are kept with the original


def test_a_fix_that_would_leave_too_little_is_refused_and_changes_nothing(library: LibraryService, speech: np.ndarray,
                                                                         tmp_path: Path) -> None:
    short = add(library, padded(speech[: int(1.2 * SR)], 1.0, 1.0), tmp_path / "short.wav")
    with pytest.raises(EngineError, match="less than a sample needs"):
        library.apply_fix(short.id, "trim")
    assert len(library.versions(short.id)) == 1
    failed = library.jobs.wait(library.fix(short.id, "trim").id, 30)
    assert failed.state == JobState.failed and "original is unchanged" in failed.error
