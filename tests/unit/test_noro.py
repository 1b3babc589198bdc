"""Noro through the job queue on a tiny random-weight checkpoint built with Amphion's own classes (the model, a
fairseq HuBERT checkpoint, a scikit-learn k-means, a vocoder on Noro's mel settings), as a user's checkpoint
folder; with its own vocoder, a released Amphion vocoder from the (local stand-in) hub, and Griffin-Lim.
Needs an Amphion checkout (AMPHION_ROOT) and skips without one."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from studio.jobs import JobInfo, JobState
from studio.services import Services
from tests import svc_fixtures as fx
from tests.audio_measures import sung_tone, write
from tests.job_watch import cancel_at
from tests.svc_fixtures import audio_of, run_job, svc, svc_assets  # noqa: F401 (fixtures)


@pytest.fixture(scope="session")
def noro_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fx.tiny_noro(fx.amphion_runtime(), tmp_path_factory.mktemp("noro") / "noro-clean")


@pytest.fixture
def noro(svc: Services, noro_checkpoint: Path, studio_home: Path) -> Services:
    shutil.copytree(noro_checkpoint, studio_home / "checkpoints" / "amphion.noro" / "noro-clean")
    return svc


def clips(tmp_path: Path) -> dict[str, Path]:
    return {"source": write(tmp_path / "source.wav", 0.5 * sung_tone(2.3, 140.0, 16_000, glide_semitones=3), 16_000),
            "reference": write(tmp_path / "reference.wav", 0.4 * sung_tone(3.0, 240.0, 22_050), 22_050)}


def test_noro_converts_with_its_own_vocoder_at_the_sources_length(noro: Services, tmp_path: Path) -> None:
    engine = noro.registry.get("amphion.noro")
    assert engine.check().ready
    assert engine.param("vocoder").default == "checkpoint"
    params = {"steps": 6, "seed": 3}
    job, stages = run_job(noro, "vc", "amphion.noro", clips(tmp_path), params)
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(noro, job)
    assert rate == 16_000 and len(audio) == round(2.3 * 16_000) and np.isfinite(audio).all() and audio.any()
    assert sum("Diffusion step" in s for s in stages) == 6  # the steps reach the reverse diffusion
    assert job.result["prompt_cache"] == {"hits": 0, "misses": 1}  # the reference's mel
    again, _ = run_job(noro, "vc", "amphion.noro", clips(tmp_path), params)
    assert np.array_equal(audio_of(noro, again)[0], audio)
    other, _ = run_job(noro, "vc", "amphion.noro", clips(tmp_path), {**params, "sigma": 1.5})
    assert not np.array_equal(audio_of(noro, other)[0], audio)
    assert again.result["prompt_cache"] == other.result["prompt_cache"] == {"hits": 1, "misses": 0}


def test_noro_with_a_released_vocoder_or_griffin_lim(noro: Services, tmp_path: Path) -> None:
    job, _ = run_job(noro, "vc", "amphion.noro", clips(tmp_path), {"steps": 3, "seed": 1, "vocoder": "bigvgan_singing"})
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(noro, job)
    assert rate == 24_000 and len(audio) == round(2.3 * 24_000)
    assert any("re-expressed" in note for note in job.result["extras"]["notes"])
    job, _ = run_job(noro, "vc", "amphion.noro", clips(tmp_path), {"steps": 3, "seed": 1, "vocoder": "griffin_lim"})
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(noro, job)
    assert rate == 16_000 and len(audio) == round(2.3 * 16_000) and audio.any()


def test_noro_cancels_in_its_diffusion_loop(noro: Services, tmp_path: Path) -> None:
    inputs = {slot: {"upload": noro.uploads.store_file(path).id} for slot, path in clips(tmp_path).items()}
    job = noro.generation.submit("amphion.noro", inputs, {"steps": 1000, "seed": 1})
    ended, stages = cancel_at(noro, job.id, "Diffusion step", timeout=120)
    assert ended.state == JobState.cancelled
    assert not any("Vocoding" in s or "1000/1000" in s for s in stages)


def test_noro_converts_a_long_source_in_pieces_of_its_length(noro: Services, tmp_path: Path) -> None:
    long = write(tmp_path / "long.wav", 0.5 * sung_tone(34.0, 140.0, 16_000, glide_semitones=3), 16_000)
    job, stages = run_job(noro, "vc", "amphion.noro", {**clips(tmp_path), "source": long},
                          {"steps": 2, "seed": 1})
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(noro, job)
    assert len(audio) == 34 * rate and np.abs(audio[-rate:]).max() > 0
    assert job.result["extras"]["blocks"] == 2
    assert any(s.startswith("Part 1 of 2") for s in stages) and any(s.startswith("Part 2 of 2") for s in stages)
    assert job.result["prompt_cache"] == {"hits": 0, "misses": 1}  # one reference mel for both pieces


def test_noro_refuses_silence_and_notes_stereo_and_narrow_band_input(noro: Services, tmp_path: Path) -> None:
    silent = write(tmp_path / "silent.wav", np.zeros(32_000, np.float32), 16_000)
    voice = 0.5 * sung_tone(2.0, 140.0, 8_000)
    stereo_phone = write(tmp_path / "stereo-phone.wav", np.stack([voice, 0.3 * voice]), 8_000)
    reference = clips(tmp_path)["reference"]
    params = {"steps": 2, "seed": 1}

    def convert(source: Path, target: Path) -> JobInfo:
        job = noro.conversion.submit("vc", {"path": str(source)}, {"path": str(target)}, engine_id="amphion.noro",
                                     params=params)
        return noro.jobs.wait(job.id, 120)

    job = convert(silent, reference)
    assert job.state == JobState.failed and job.error.startswith("The source audio is silent")
    job = convert(clips(tmp_path)["source"], silent)
    assert job.state == JobState.failed and job.error.startswith("The target voice clip is silent")
    job = convert(stereo_phone, reference)
    assert job.state == JobState.succeeded, job.error
    assert len(audio_of(noro, job)[0]) == 2 * 16_000
    assert job.result["extras"]["notes"][:2] == [
        "The source audio has 2 channels; they were mixed to one.",
        "The source audio is 8 kHz; it was converted at 16 kHz, so nothing above 4 kHz of it was there to convert."]


def test_noro_readiness_names_what_its_checkpoint_lacks(svc: Services, noro_checkpoint: Path,
                                                        studio_home: Path) -> None:
    engine = svc.registry.get("amphion.noro")
    readiness = engine.check()
    assert readiness.state == "needs_checkpoint" and "train a checkpoint on the Training page" in readiness.message
    folder = studio_home / "checkpoints" / "amphion.noro" / "noro-clean"
    shutil.copytree(noro_checkpoint, folder)
    (folder / "mhubert_base_L9_km8.bin").unlink()
    readiness = engine.check()
    assert readiness.state == "needs_checkpoint"
    assert readiness.message == ("noro-clean has no k-means model (the file its config names, or one named *km*).")
    assert "Google Drive" in readiness.hints[0]
    shutil.rmtree(folder / "vocoder")
    assert engine.param("vocoder").default == "hifigan_speech"  # no vocoder of its own: a released one
