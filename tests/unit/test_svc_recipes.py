"""Amphion's singing conversion recipes end to end through the job queue, on tiny random-weight checkpoints built
with Amphion's own classes and laid out as the released ones are: MultipleContentsSVC from the (local stand-in)
hub, DiffComoSVC (teacher and student), TransformerSVC and VitsSVC from the user's checkpoint folder.

Tiny random weights make noise, not singing: the tests assert what is structurally true (rate, the source's
length, segments, progress, cancellation, determinism, params reaching the model) and that bad input gets a
clear message. They need an Amphion checkout (AMPHION_ROOT) and skip without one, except the readiness test.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engines.amphion.svc_recipes import RELEASE_FOLDER
from engines.contract import InvalidRequest
from studio.jobs import JobInfo, JobState
from studio.services import Services
from studio.settings import Settings
from tests import svc_fixtures as fx
from tests.audio_measures import median_semitones, sung_tone, write
from tests.job_watch import cancel_at
from tests.svc_fixtures import SvcAssets, audio_of, run_job, svc, svc_assets, user_checkpoint  # noqa: F401 (fixtures)

SINGERS, MEDIANS = fx.SINGERS, fx.MEDIANS


def run(services: Services, engine_id: str, source: Path, params: dict) -> tuple[JobInfo, list[str]]:
    return run_job(services, "svc", engine_id, {"source": source}, params)


def song(tmp_path: Path, seconds: float = 3.0, hz: float = 220.0, rate: int = 24_000, name: str = "song.wav",
         stereo: bool = False) -> Path:
    audio = 0.5 * sung_tone(seconds, hz, rate, vibrato_cents=40, glide_semitones=2)
    return write(tmp_path / name, np.stack([audio, audio * 0.7]) if stereo else audio, rate)


# -- MultipleContentsSVC: the released checkpoint -----------------------------------------------------------------


def test_multiple_contents_svc_downloads_its_checkpoints_and_sings_as_a_singer_of_its_table(
        svc: Services, tmp_path: Path) -> None:
    engine = svc.registry.get("amphion.multiple_contents_svc")
    readiness = engine.check()
    assert readiness.state == "needs_download", readiness.message
    assert "MultipleContentsSVC vocalist_l1" in readiness.message and "ContentVec" in readiness.message
    before = engine.param("singer")
    assert "vocalist_l1_TaylorSwift" in [v for v, _ in before.choices]  # the demo's list until singers.json is here

    source = song(tmp_path, 3.0)
    params = {"singer": "vocalist_l1_Adele", "steps": 4, "seed": 7}
    job, stages = run(svc, "amphion.multiple_contents_svc", source, params)
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(svc, job)
    assert rate == engine.sample_rate == 24_000
    assert len(audio) == 3 * 24_000 and np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert sum("Diffusion step" in s for s in stages) == 13  # PNDM: 4 steps + 9 warm-up evaluations
    extras = job.result["extras"]
    assert extras["singer"] == "vocalist_l1_Adele" and extras["blocks"] == 1
    assert extras["semitones_applied"] == pytest.approx(12 * np.log2(330.0 / extras["source_median_hz"]), abs=0.01)
    source_audio, _ = sf.read(str(source), dtype="float32")
    measured = 12 * np.log2(extras["source_median_hz"] / 440.0)  # Amphion's parselmouth statistics of the source
    assert abs(measured - median_semitones(source_audio, 24_000)) < 0.3

    # the checkpoint is on disk now: the singers come from its singers.json
    assert {v for v, _ in engine.param("singer").choices} == set(SINGERS)
    assert engine.check().ready

    again, _ = run(svc, "amphion.multiple_contents_svc", source, params)
    assert np.array_equal(audio_of(svc, again)[0], audio)  # same seed, same audio
    other_seed, _ = run(svc, "amphion.multiple_contents_svc", source, {**params, "seed": 8})
    assert not np.array_equal(audio_of(svc, other_seed)[0], audio)
    transposed, _ = run(svc, "amphion.multiple_contents_svc", source,
                        {**params, "pitch_shift": "semitones", "semitones": -5})
    assert transposed.result["extras"]["semitones_applied"] == -5
    assert not np.array_equal(audio_of(svc, transposed)[0], audio)  # the pitch reaches the model
    more_steps, stages = run(svc, "amphion.multiple_contents_svc", source, {**params, "steps": 6})
    assert sum("Diffusion step" in s for s in stages) == 15


def test_a_long_song_is_sliced_into_overlapping_segments_and_merged_to_its_length(svc: Services,
                                                                                  tmp_path: Path) -> None:
    job, stages = run(svc, "amphion.multiple_contents_svc", song(tmp_path, 21.5),
                      {"singer": "vocalist_l1_李健", "steps": 4, "seed": 1})
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(svc, job)
    assert len(audio) == round(21.5 * 24_000)  # 10 s segments overlapping by 1 s, merged back to the source's length
    assert job.result["extras"]["blocks"] == 3
    assert "Pitch, energy and mel of 3 segments" in stages and "Merging the segments" in stages
    assert np.abs(audio[-24_000:]).max() > 0  # the last segment was converted too


def cancel_conversion(services: Services, engine_id: str, source: Path, params: dict, stage: str) -> list[str]:
    """Convert `source` through the job queue, cancel at `stage`: the job ends cancelled before vocoding. The
    stages seen on the way."""
    job = services.conversion.submit("svc", services.uploads.store_file(source).id, engine_id=engine_id,
                                     params=params)
    ended, stages = cancel_at(services, job.id, stage, timeout=300)
    assert ended.state == JobState.cancelled, (ended.state, ended.error, stages)
    assert not any("Vocoding" in s or "Merging" in s for s in stages)
    return stages


def test_conversion_cancels_between_diffusion_steps(svc: Services, tmp_path: Path) -> None:
    cancel_conversion(svc, "amphion.multiple_contents_svc", song(tmp_path, 3.0),
                      {"singer": "vocalist_l1_Adele", "steps": 1000, "seed": 1}, "Diffusion step")


# -- bad input ------------------------------------------------------------------------------------------------------


def test_bad_input_gets_a_clear_message_or_a_correct_result(svc: Services, tmp_path: Path) -> None:
    engine_id = "amphion.multiple_contents_svc"
    params = {"singer": "vocalist_l1_李健", "steps": 4, "seed": 3}
    with pytest.raises(InvalidRequest, match="Target singer: 'Pavarotti' is not one of"):
        svc.conversion.submit("svc", svc.uploads.store_file(song(tmp_path)).id, engine_id=engine_id,
                              params={**params, "singer": "Pavarotti"})
    with pytest.raises(InvalidRequest, match="takes no target voice clip"):
        upload = svc.uploads.store_file(song(tmp_path))
        svc.conversion.submit("svc", upload.id, upload.id, engine_id=engine_id, params=params)

    silent = write(tmp_path / "silent.wav", np.zeros(3 * 24_000, np.float32), 24_000)
    job, _ = run(svc, engine_id, silent, params)
    assert job.state == JobState.failed and "The source audio is silent" in job.error

    noise = write(tmp_path / "hiss.wav", (np.random.default_rng(1).standard_normal(3 * 24_000) * 0.05)
                  .astype(np.float32), 24_000)
    job, _ = run(svc, engine_id, noise, params)
    assert job.state == JobState.failed and "No sung or spoken pitch was found in the source" in job.error

    stereo, _ = run(svc, engine_id, song(tmp_path, 2.0, stereo=True, name="stereo.wav"), params)
    assert stereo.state == JobState.succeeded, stereo.error
    assert len(audio_of(svc, stereo)[0]) == 2 * 24_000

    narrow, _ = run(svc, engine_id, song(tmp_path, 2.0, rate=8_000, name="phone.wav"), params)
    assert narrow.state == JobState.succeeded, narrow.error
    audio, rate = audio_of(svc, narrow)
    assert rate == 24_000 and len(audio) == 2 * 24_000
    assert any("8 kHz" in note for note in narrow.result["extras"]["notes"])


def test_a_singer_without_statistics_in_the_checkpoint_is_refused_in_words(svc: Services, tmp_path: Path,
                                                                          studio_home: Path) -> None:
    from engines.amphion.svc_checkpoints import Experiment

    folder = studio_home / "checkpoints" / "amphion.multiple_contents_svc" / "fine-tune"
    shutil.copytree(released_experiment(svc) / RELEASE_FOLDER, folder)
    shutil.rmtree(folder / "data" / "opencpop")
    engine = svc.registry.get("amphion.multiple_contents_svc")
    assert [v for v, _ in engine.param("checkpoint").choices] == ["released", "fine-tune"]
    assert Experiment(folder).missing_statistics("opencpop_female1") is not None
    job, _ = run(svc, "amphion.multiple_contents_svc", song(tmp_path),
                 {"checkpoint": "fine-tune", "singer": "opencpop_female1", "steps": 4, "seed": 1})
    assert job.state == JobState.failed
    assert job.error == ("fine-tune lacks data/opencpop/mel_min_max_stats/mel_min.npy, "
                         "data/opencpop/mel_min_max_stats/mel_max.npy, data/opencpop/pitches/statistics.json, "
                         "needed to sing as opencpop_female1.")


def released_experiment(services: Services) -> Path:
    """The released experiment as this test's hub cache holds it (downloads it first)."""
    from engines.amphion.svc_recipes import MULTIPLE_CONTENTS_RELEASE
    from engines.contract import Progress
    from engines.weights import ensure

    return ensure(MULTIPLE_CONTENTS_RELEASE, Progress())


# -- the user's checkpoints ---------------------------------------------------------------------------------------


def test_diffcomo_svc_runs_the_teacher_for_its_steps_and_the_student_in_one(svc: Services, svc_assets: SvcAssets,
                                                                          studio_home: Path, tmp_path: Path) -> None:
    engine = svc.registry.get("amphion.diffcomo_svc")
    assert engine.check().state == "needs_checkpoint"
    assert "train a checkpoint on the Training page" in engine.check().message
    user_checkpoint(svc_assets, studio_home, "amphion.diffcomo_svc", "como-teacher")
    user_checkpoint(svc_assets, studio_home, "amphion.diffcomo_svc", "como-student")
    assert {v for v, _ in engine.param("checkpoint").choices} == {"como-teacher", "como-student"}
    source = song(tmp_path, 2.5)
    for name, steps, expected in (("como-teacher", 5, 6), ("como-student", 5, 1)):  # Karras: steps + 1 calls
        job, stages = run(svc, "amphion.diffcomo_svc", source,
                          {"checkpoint": name, "singer": "vocalist_l1_Adele", "steps": steps, "seed": 2})
        assert job.state == JobState.succeeded, job.error
        audio, rate = audio_of(svc, job)
        assert rate == 24_000 and len(audio) == round(2.5 * 24_000) and np.isfinite(audio).all()
        assert sum("Diffusion step" in s for s in stages) == expected, stages
        assert job.result["extras"]["checkpoint"] == name


def test_diffcomo_svc_cancels_between_the_teachers_steps(svc: Services, svc_assets: SvcAssets, studio_home: Path,
                                                          tmp_path: Path) -> None:
    user_checkpoint(svc_assets, studio_home, "amphion.diffcomo_svc", "como-teacher")
    stages = cancel_conversion(svc, "amphion.diffcomo_svc", song(tmp_path, 21.5),
                               {"checkpoint": "como-teacher", "singer": "vocalist_l1_Adele", "steps": 200, "seed": 1},
                               "Diffusion step")
    assert not any("Diffusion step 201/" in s for s in stages)


@pytest.mark.parametrize(("engine_id", "checkpoint"), [("amphion.transformer_svc", "transformer-bin"),
                                                       ("amphion.vits_svc", "vits")])
def test_one_pass_recipes_cancel_between_their_stages(svc: Services, svc_assets: SvcAssets, studio_home: Path,
                                                      tmp_path: Path, engine_id: str, checkpoint: str) -> None:
    user_checkpoint(svc_assets, studio_home, engine_id, checkpoint)
    cancel_conversion(svc, engine_id, song(tmp_path, 21.5), {"singer": "vocalist_l1_Adele"},
                      "Pitch, energy and mel of 3 segments")


def test_transformer_svc_converts_deterministically_from_a_pytorch_model_bin_checkpoint(
        svc: Services, svc_assets: SvcAssets, studio_home: Path, tmp_path: Path) -> None:
    user_checkpoint(svc_assets, studio_home, "amphion.transformer_svc", "transformer-bin")
    engine = svc.registry.get("amphion.transformer_svc")
    assert engine.check().state == "needs_download"  # the vocoder and the content models
    assert "seed" not in {p.name for p in engine.params}  # one deterministic pass
    source = song(tmp_path, 2.0, hz=300.0)
    first, _ = run(svc, "amphion.transformer_svc", source, {"singer": "opencpop_female1"})
    assert first.state == JobState.succeeded, first.error
    second, _ = run(svc, "amphion.transformer_svc", source, {"singer": "opencpop_female1"})
    assert np.array_equal(audio_of(svc, first)[0], audio_of(svc, second)[0])
    other, _ = run(svc, "amphion.transformer_svc", source, {"singer": "vocalist_l1_李健"})
    assert not np.array_equal(audio_of(svc, first)[0], audio_of(svc, other)[0])  # the singer reaches the model


def test_vits_svc_makes_the_waveform_itself(svc: Services, svc_assets: SvcAssets, studio_home: Path,
                                            tmp_path: Path) -> None:
    user_checkpoint(svc_assets, studio_home, "amphion.vits_svc", "vits")
    engine = svc.registry.get("amphion.vits_svc")
    assert "Amphion Singing BigVGAN" not in [w.title for w in engine.weights_for(engine.defaults())]
    source = song(tmp_path, 2.0)
    params = {"singer": "vocalist_l1_Adele", "seed": 4, "noise_scale": 0.667}
    job, _ = run(svc, "amphion.vits_svc", source, params)
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(svc, job)
    assert rate == 24_000 and len(audio) == 2 * 24_000 and np.isfinite(audio).all()
    same, _ = run(svc, "amphion.vits_svc", source, params)
    assert np.array_equal(audio_of(svc, same)[0], audio)
    louder_noise, _ = run(svc, "amphion.vits_svc", source, {**params, "noise_scale": 1.2})
    assert not np.array_equal(audio_of(svc, louder_noise)[0], audio)


def test_a_broken_user_checkpoint_is_described_before_any_job(svc: Services, svc_assets: SvcAssets,
                                                              studio_home: Path) -> None:
    folder = user_checkpoint(svc_assets, studio_home, "amphion.transformer_svc", "transformer-bin")
    (folder / "singers.json").unlink()
    shutil.rmtree(folder / "checkpoint")
    readiness = svc.registry.get("amphion.transformer_svc").check()
    assert readiness.state == "needs_checkpoint"
    assert readiness.message == ("transformer-bin has no checkpoint/epoch-…_step-…_loss-… folder. "
                                 "transformer-bin has no singer table (singers.json).")
    como = user_checkpoint(svc_assets, studio_home, "amphion.diffcomo_svc", "como-teacher")
    shutil.copytree(como, studio_home / "checkpoints" / "amphion.vits_svc" / "wrong-kind")
    readiness = svc.registry.get("amphion.vits_svc").check()
    assert readiness.message.startswith("wrong-kind is a DiffComoSVC checkpoint, not VitsSVC.")


# -- without an Amphion checkout (runs in CI) ------------------------------------------------------------------------


def test_without_a_checkout_readiness_says_how_to_get_one() -> None:
    from engines.registry import Registry

    registry = Registry(context=Settings.load())
    for engine_id in ("amphion.multiple_contents_svc", "amphion.diffcomo_svc", "amphion.transformer_svc",
                      "amphion.vits_svc"):
        readiness = registry.get(engine_id).check()
        assert readiness.state == "missing_dependency" and readiness.message == "No Amphion checkout is configured."
