"""MaskGCT and Metis end to end on tiny random-weight checkpoints built with Amphion's own classes, served as the
hub repositories lay them out and run through the job queue.

These tests need an Amphion checkout (AMPHION_ROOT) and skip without one; the readiness test runs everywhere.
The checkout is mirrored with stand-ins for the G2P's large files when it lacks them (tests/amphion_checkout.py).
Tiny random weights make noise, not speech: the tests check rate, length, determinism, progress, cancellation
and that the params reach the model (steps counted at the model's own layers).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engines.amphion import maskgct_parts as parts
from engines.amphion import traps
from engines.amphion.runtime import AmphionRuntime
from engines.contract import EngineError, InvalidRequest
from studio.jobs import JobInfo, JobState
from studio.services import Services
from studio.settings import Settings
from tests import maskgct_tiny as tiny
from tests.amphion_checkout import mirrored
from tests.hub_server import FakeHub
from tests.audio_measures import write
from tests.job_watch import cancel_at, watch

HOP = 480  # samples per token at 24 kHz


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with mirrored(tmp_path_factory) as root:
        yield root


@pytest.fixture(scope="module")
def repos(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return tiny.build_all(AmphionRuntime(checkout), tmp_path_factory.mktemp("tiny-maskgct"))


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {"reference": tiny.reference_clip(folder / "reference.wav", 2.0),
            "source": tiny.reference_clip(folder / "source.wav", 1.6, rate=16_000, pitch=220.0)}


@pytest.fixture
def amphion_services(checkout: Path, repos: dict[str, Path], fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch,
                     request: pytest.FixtureRequest) -> Services:
    monkeypatch.setenv("AMPHION_ROOT", str(checkout))
    fake_hub.add_folder(tiny.W2V, repos["w2v"])
    fake_hub.add_folder(tiny.MASKGCT, repos["maskgct"])
    fake_hub.add_folder(tiny.METIS, repos["metis"])
    return request.getfixturevalue("services")  # started now, with the checkout and the hub above


def run_job(services: Services, submit, timeout: float = 180) -> tuple[JobInfo, list[str]]:  # type: ignore[no-untyped-def]
    return watch(services, submit().id, timeout)


def audio_of(services: Services, job: JobInfo) -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(services.generation.audio_path(job)), dtype="float32")
    return data, rate


# -- readiness (runs everywhere) -------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine_id", ["amphion.maskgct", "amphion.metis_tts", "amphion.metis_vc",
                                       "amphion.metis_se", "amphion.metis_tse"])
def test_a_checkout_without_the_g2p_files_is_named_in_readiness(engine_id: str, tmp_path: Path) -> None:
    from engines.registry import Registry

    root = tmp_path / "Amphion"
    for name in ("models/tts/maskgct/g2p/sources/g2p_chinese_model", "utils", ".git"):
        (root / name).mkdir(parents=True)
    readiness = Registry(context=Settings.load(amphion_root=root)).get(engine_id).check()
    assert readiness.state == "missing_dependency"
    assert readiness.message.startswith(f"Your Amphion checkout {root} lacks "
                                        f"models/tts/maskgct/g2p/sources/g2p_chinese_model/poly_bert_model.onnx and "
                                        f"models/tts/maskgct/g2p/sources/chinese_lexicon.txt")
    assert readiness.hints[0].startswith(f"cd {root} && git checkout -- ")


# -- loading ------------------------------------------------------------------------------------------------------


def test_the_stock_config_uses_the_checkouts_w2v_bert_statistics(checkout: Path) -> None:
    import torch

    rt = AmphionRuntime(checkout)
    source = parts.model_source(rt, "", parts.STOCK_CONFIG)
    assert source.config == checkout / parts.STOCK_CONFIG and source.stats == checkout / parts.STOCK_STATS
    stats = torch.load(str(source.stats), map_location="cpu")
    assert stats["mean"].shape == stats["var"].shape == (1024,)  # w2v-BERT 2.0's width
    with pytest.raises(EngineError, match="does not exist. Leave 'Model config' empty"):
        parts.model_source(rt, str(checkout / "no-such.json"), parts.STOCK_CONFIG)


def test_the_tiny_decoder_hits_the_window_buffer_trap_that_the_loader_fixes(checkout: Path,
                                                                            repos: dict[str, Path]) -> None:
    import safetensors.torch

    if not traps._windows_are_views():
        pytest.skip("this torch makes hann windows that own their storage: the trap is absent here")
    rt = AmphionRuntime(checkout)
    cfg = rt.load_config(repos["config:maskgct"])
    checkpoint = repos["maskgct"] / "acoustic_codec/model_1.safetensors"
    with rt.session():
        from models.tts.maskgct.maskgct_utils import build_acoustic_codec

        original = getattr(safetensors.torch.load_model, "__wrapped__", safetensors.torch.load_model)
        with pytest.raises(Exception, match="covering the entire storage"):
            original(build_acoustic_codec(cfg.model.acoustic_codec, "cpu")[1], str(checkpoint))
        _, decoder = build_acoustic_codec(cfg.model.acoustic_codec, "cpu")
        rt.load_safetensors(decoder, checkpoint)
    saved, loaded = safetensors.torch.load_file(str(checkpoint)), decoder.state_dict()
    assert saved.keys() == loaded.keys() and all(np.array_equal(saved[k], loaded[k]) for k in saved)


# -- MaskGCT ---------------------------------------------------------------------------------------------------


def test_maskgct_speaks_for_the_requested_duration_through_the_job_queue(amphion_services: Services,
                                                                         repos: dict[str, Path],
                                                                         clips: dict[str, Path]) -> None:
    engine = amphion_services.registry.get("amphion.maskgct")
    assert engine.check().state == "needs_download"  # the tiny repositories are on the (local) hub only
    inputs = {"text": "Hello from the tiny model.",
              "reference": {"path": str(clips["reference"]), "transcript": "A reference clip for the test."}}
    params = {"config": str(repos["config:maskgct"]), "target_duration": 2.0, "seed": 11}
    job, stages = run_job(amphion_services, lambda: amphion_services.generation.submit("amphion.maskgct", inputs,
                                                                                        params))
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(amphion_services, job)
    assert rate == engine.sample_rate == 24_000
    assert abs(len(audio) - 2.0 * rate) <= HOP and np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert job.result["extras"]["t2s_steps"] == 25 and job.result["extras"]["s2a_steps"] == 25 + 10 + 10
    assert any(s.startswith("Weights") for s in stages) and any("Text to semantic tokens" in s for s in stages)
    assert engine.check().ready  # downloaded by the first job
    assert job.result["prompt_cache"] == {"hits": 0, "misses": 1}  # the reference's codes, computed once

    again, _ = run_job(amphion_services, lambda: amphion_services.generation.submit("amphion.maskgct", inputs,
                                                                                     params))
    assert again.result["prompt_cache"] == {"hits": 1, "misses": 0}  # ... and not again
    assert np.array_equal(audio_of(amphion_services, again)[0], audio)  # the same seed gives the same audio
    other = {**params, "seed": 12, "target_duration": 1.0, "steps": 15, "s2a_steps_first": 3,
             "s2a_steps_second": 2, "s2a_steps_rest": 1, "cfg": 0.0}
    shorter, _ = run_job(amphion_services, lambda: amphion_services.generation.submit("amphion.maskgct", inputs,
                                                                                       other))
    assert shorter.state == JobState.succeeded, shorter.error
    assert abs(len(audio_of(amphion_services, shorter)[0]) - 1.0 * rate) <= HOP
    assert shorter.result["extras"] == {"t2s_steps": 15, "s2a_steps": 3 + 2 + 10}
    assert shorter.result["prompt_cache"] == {"hits": 1, "misses": 0}  # other settings, the same voice prompt
    edited = {**inputs, "reference": {**inputs["reference"], "transcript": "A reference clip, edited."}}
    retold, _ = run_job(amphion_services, lambda: amphion_services.generation.submit("amphion.maskgct", edited,
                                                                                      params))
    assert retold.result["prompt_cache"] == {"hits": 0, "misses": 1}  # an edited transcript is another prompt

    with pytest.raises(InvalidRequest, match="enter its transcript"):
        amphion_services.generation.submit("amphion.maskgct", {**inputs, "reference": {"path": str(clips["reference"])}},
                                           params)
    with pytest.raises(InvalidRequest, match="Target duration: set it only for text of up to 250"):
        amphion_services.generation.submit("amphion.maskgct", {**inputs, "text": "Long text. " * 40}, params)


def test_maskgct_cancels_between_mask_predict_steps(amphion_services: Services, repos: dict[str, Path],
                                                    clips: dict[str, Path]) -> None:
    inputs = {"text": "A long one.",
              "reference": {"path": str(clips["reference"]), "transcript": "A reference clip for the test."}}
    params = {"config": str(repos["config:maskgct"]), "target_duration": 30.0, "steps": 100,
              "s2a_steps_first": 100, "s2a_steps_second": 100, "s2a_steps_rest": 50, "seed": 1}
    job = amphion_services.generation.submit("amphion.maskgct", inputs, params)
    ended, stages = cancel_at(amphion_services, job.id, "Text to semantic tokens (step")
    assert ended.state == JobState.cancelled
    assert not any("Semantic to acoustic" in s for s in stages)  # stopped between text-to-semantic steps


def test_maskgct_takes_the_acoustic_steps_of_every_layer_as_a_list(amphion_services: Services,
                                                                    repos: dict[str, Path],
                                                                    clips: dict[str, Path]) -> None:
    inputs = {"text": "Layer by layer.",
              "reference": {"path": str(clips["reference"]), "transcript": "A reference clip for the test."}}
    params = {"config": str(repos["config:maskgct"]), "target_duration": 1.0, "steps": 15, "seed": 2,
              "s2a_steps_per_layer": "4, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 5"}
    job, _ = run_job(amphion_services, lambda: amphion_services.generation.submit("amphion.maskgct", inputs, params))
    assert job.state == JobState.succeeded, job.error
    assert job.result["extras"]["s2a_steps"] == 4 + 3 + 2 + 8 + 5  # the list wins over the three controls

    engine = amphion_services.registry.get("amphion.maskgct")
    stock = {k: v for k, v in params.items() if k != "config"}
    with pytest.raises(InvalidRequest, match="3 values given, but this model has 12 acoustic layers"):
        engine.validate(inputs, {**stock, "s2a_steps_per_layer": "25,10,1"})
    with pytest.raises(InvalidRequest, match="not a list of whole numbers.*like 25,10,1,1,1,1,1,1,1,1,1,1"):
        engine.validate(inputs, {**stock, "s2a_steps_per_layer": "25;10;1"})
    with pytest.raises(InvalidRequest, match="every layer needs 1 to 100 steps"):
        engine.validate(inputs, {**stock, "s2a_steps_per_layer": "0,10,1,1,1,1,1,1,1,1,1,1"})
    short, _ = run_job(amphion_services, lambda: amphion_services.generation.submit(  # a fine-tune: checked on load
        "amphion.maskgct", inputs, {**params, "s2a_steps_per_layer": "25,10"}))
    assert short.state == JobState.failed and "2 values given, but this model has 12 acoustic layers" in short.error


# -- Metis ------------------------------------------------------------------------------------------------------


def test_metis_tts_and_voice_conversion(amphion_services: Services, repos: dict[str, Path],
                                        clips: dict[str, Path]) -> None:
    reference = {"path": str(clips["reference"]), "transcript": "A reference clip for the test."}
    tts_params = {"config": str(repos["config:tts"]), "target_duration": 1.5, "steps": 8, "seed": 3,
                  "prompt_language": "auto"}

    def speak(clip: dict) -> tuple[JobInfo, list[str]]:
        return run_job(amphion_services, lambda: amphion_services.generation.submit(
            "amphion.metis_tts", {"text": "Hello from Metis.", "reference": clip}, tts_params))

    tts, stages = speak(reference)
    assert tts.state == JobState.succeeded, tts.error
    audio, rate = audio_of(amphion_services, tts)
    assert rate == 24_000 and abs(len(audio) - 1.5 * rate) <= HOP and np.isfinite(audio).all()
    assert tts.result["extras"] == {"steps": 8, "s2a_steps": 40 + 16 + 10}
    assert any(s.startswith("Acoustic tokens (step") for s in stages)
    assert tts.result["prompt_cache"] == {"hits": 0, "misses": 1}
    again, _ = speak(reference)
    assert again.result["prompt_cache"] == {"hits": 1, "misses": 0}
    assert np.array_equal(audio_of(amphion_services, again)[0], audio)  # cached codes, the same audio
    retold, _ = speak({**reference, "transcript": "Another transcript."})
    assert retold.result["prompt_cache"] == {"hits": 0, "misses": 1}

    assert amphion_services.conversion.default_engine("vc").id != "amphion.metis_vc"  # not downloaded yet
    params = {"config": str(repos["config:vc"]), "steps": 6, "seed": 4}
    vc, _ = run_job(amphion_services, lambda: amphion_services.conversion.submit(
        "vc", {"path": str(clips["source"])}, {"path": str(clips["reference"])}, engine_id="amphion.metis_vc",
        params=params))
    assert vc.state == JobState.succeeded, vc.error
    converted, rate = audio_of(amphion_services, vc)
    assert rate == 24_000 and len(converted) == 1.6 * rate  # the source's length
    assert vc.result["extras"] == {"steps": 6, "s2a_steps": 40 + 16 + 10, "blocks": 1}
    assert vc.result["prompt_cache"] == {"hits": 0, "misses": 1}
    assert amphion_services.conversion.default_engine("vc").id == "amphion.metis_vc"  # ready: the neural default
    again, _ = run_job(amphion_services, lambda: amphion_services.conversion.submit(
        "vc", {"path": str(clips["source"])}, {"path": str(clips["reference"])}, engine_id="amphion.metis_vc",
        params=params))
    assert again.result["prompt_cache"] == {"hits": 1, "misses": 0}
    assert np.array_equal(audio_of(amphion_services, again)[0], converted)


def test_metis_enhancement_and_target_speaker_extraction(amphion_services: Services, repos: dict[str, Path],
                                                         clips: dict[str, Path]) -> None:
    se, stages = run_job(amphion_services, lambda: amphion_services.conversion.submit(
        "enhance", {"path": str(clips["source"])}, engine_id="amphion.metis_se",
        params={"config": str(repos["config:se"]), "steps": 4, "seed": 5}))
    assert se.state == JobState.succeeded, se.error
    cleaned, rate = audio_of(amphion_services, se)
    assert rate == 24_000 and len(cleaned) == 1.6 * rate and np.isfinite(cleaned).all()
    assert se.result["extras"]["steps"] == 4 and any("Loading Metis SE" in s for s in stages)
    assert "prompt_cache" not in se.result  # no voice prompt to keep

    with pytest.raises(InvalidRequest, match="Enrolment .the speaker to keep.: Metis target-speaker extraction "
                                             "needs this audio"):
        amphion_services.conversion.submit("enhance", {"path": str(clips["source"])}, engine_id="amphion.metis_tse")
    tse, _ = run_job(amphion_services, lambda: amphion_services.conversion.submit(
        "enhance", {"path": str(clips["source"])}, {"path": str(clips["reference"])}, engine_id="amphion.metis_tse",
        params={"config": str(repos["config:tse"]), "steps": 4, "seed": 5}))
    assert tse.state == JobState.succeeded, tse.error
    extracted, _ = audio_of(amphion_services, tse)
    assert len(extracted) == 1.6 * rate
    assert not np.array_equal(extracted, cleaned)  # another fine-tune, enrolled
    assert tse.result["prompt_cache"] == {"hits": 0, "misses": 1}  # the enrolment's codes


@pytest.mark.parametrize(("engine_id", "stage"), [("amphion.metis_tts", "Semantic tokens (step"),
                                                  ("amphion.metis_vc", "Semantic tokens (step"),
                                                  ("amphion.metis_se", "Acoustic tokens (step")])
def test_metis_cancels_between_mask_predict_steps(amphion_services: Services, repos: dict[str, Path],
                                                  clips: dict[str, Path], engine_id: str, stage: str) -> None:
    reference = {"path": str(clips["reference"]), "transcript": "A reference clip for the test."}
    if engine_id == "amphion.metis_tts":
        job = amphion_services.generation.submit(engine_id, {"text": "A long one.", "reference": reference},
                                                 {"config": str(repos["config:tts"]), "target_duration": 30.0,
                                                  "steps": 100, "seed": 1})
    else:
        task, kind = ("vc", "vc") if engine_id == "amphion.metis_vc" else ("enhance", "se")
        job = amphion_services.conversion.submit(task, {"path": str(clips["source"])},
                                                 reference if task == "vc" else None, engine_id=engine_id,
                                                 params={"config": str(repos[f"config:{kind}"]), "steps": 100,
                                                         "seed": 1})
    ended, stages = cancel_at(amphion_services, job.id, stage)
    assert ended.state == JobState.cancelled
    assert "Done" not in stages and not any("Acoustic tokens (step 66" in s for s in stages)


def test_metis_converts_a_long_source_in_pieces_of_its_length(amphion_services: Services, repos: dict[str, Path],
                                                              clips: dict[str, Path], tmp_path: Path) -> None:
    long = tiny.reference_clip(tmp_path / "long.wav", 34.0, rate=16_000, pitch=200.0)
    job, stages = run_job(amphion_services, lambda: amphion_services.conversion.submit(
        "vc", {"path": str(long)}, {"path": str(clips["reference"])}, engine_id="amphion.metis_vc",
        params={"config": str(repos["config:vc"]), "steps": 2, "seed": 1}))
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(amphion_services, job)
    assert len(audio) == 34 * rate and np.isfinite(audio).all()
    assert np.abs(audio[-rate:]).max() > 0  # the last piece was converted too
    assert job.result["extras"]["blocks"] == 2
    assert any(s.startswith("Part 1 of 2") for s in stages) and any(s.startswith("Part 2 of 2") for s in stages)
    assert job.result["prompt_cache"] == {"hits": 0, "misses": 1}  # one voice prompt for both pieces

    hum = 0.1 * np.sin(2 * np.pi * 150 * np.arange(1_201 * 8_000) / 8_000)
    too_long = amphion_services.uploads.store_file(write(tmp_path / "too-long.wav", hum.astype(np.float32), 8_000))
    with pytest.raises(InvalidRequest, match=r"Source speech: too-long.wav is 20:01 long; Metis VC takes at most "
                                             r"20:00\. Cut it shorter, or convert it in parts\."):
        amphion_services.conversion.submit("vc", too_long.id, {"path": str(clips["reference"])},
                                           engine_id="amphion.metis_vc", params={"config": str(repos["config:vc"])})


def test_metis_reads_silent_stereo_and_narrow_band_audio_through_the_shared_reader(
        amphion_services: Services, repos: dict[str, Path], clips: dict[str, Path], tmp_path: Path) -> None:
    silent = write(tmp_path / "silent.wav", np.zeros(32_000, np.float32), 16_000)
    voice, _ = sf.read(str(clips["source"]), dtype="float32")
    stereo = write(tmp_path / "stereo.wav", np.stack([voice, 0.5 * voice]), 16_000)
    phone = tiny.reference_clip(tmp_path / "phone.wav", 2.0, rate=8_000)

    def convert(engine_id: str, source: Path, reference: Path | None) -> JobInfo:
        task, kind = ("vc", "vc") if engine_id == "amphion.metis_vc" else ("enhance", engine_id.split("_")[-1])
        return run_job(amphion_services, lambda: amphion_services.conversion.submit(
            task, {"path": str(source)}, {"path": str(reference)} if reference else None, engine_id=engine_id,
            params={"config": str(repos[f"config:{kind}"]), "steps": 2, "seed": 1}))[0]

    job = convert("amphion.metis_vc", silent, clips["reference"])
    assert job.state == JobState.failed and job.error.startswith("Source speech is silent (its loudest moment is "
                                                                 "digital silence)")
    job = convert("amphion.metis_vc", clips["source"], silent)
    assert job.state == JobState.failed and job.error.startswith("Target voice is silent")
    job = convert("amphion.metis_vc", stereo, phone)
    assert job.state == JobState.succeeded, job.error
    assert len(audio_of(amphion_services, job)[0]) == 1.6 * 24_000
    assert job.result["extras"]["notes"] == [
        "Source speech has 2 channels; they were mixed to one.",
        "Target voice is 8 kHz; it was converted at 24 kHz, so nothing above 4 kHz of it was there to convert."]
    job = convert("amphion.metis_se", silent, None)
    assert job.state == JobState.failed and job.error.startswith("Noisy speech is silent")
    job = convert("amphion.metis_se", phone, None)
    assert job.state == JobState.succeeded and len(audio_of(amphion_services, job)[0]) == 2 * 24_000
    assert job.result["extras"]["notes"] == ["Noisy speech is 8 kHz; it was converted at 16 kHz, so nothing above "
                                             "4 kHz of it was there to convert."]
    job = convert("amphion.metis_tse", stereo, silent)
    assert job.state == JobState.failed and job.error.startswith("Enrolment is silent")


def test_a_module_that_imports_only_after_the_engines_own_fixes_does_not_stop_the_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LangSegment 0.2.0 fails on a plain import and works once the Amphion runtime's fix is applied; the model
    manager imports an engine's modules before `load` (to measure the model alone) and must leave that to it."""
    import sys

    from engines.contract import Engine, Progress, Result
    from engines.registry import Registry
    from engines.requirements import PythonModule, Requirements
    from studio.model_manager import ModelManager

    (tmp_path / "fixed_on_load.py").write_text("raise ImportError('broken until the engine fixes it')\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    class NeedsAFix(Engine):
        id = "test.needs_a_fix"
        name = "Needs a fix"
        task = "test"
        requirements = Requirements(python=(PythonModule("fixed_on_load", "fixed-on-load"),))

        def load(self, device, progress, options=None):  # type: ignore[no-untyped-def]
            sys.modules["fixed_on_load"] = type(sys)("fixed_on_load")  # what the engine's fix would do
            return "model"

        def run(self, model, request, progress):  # type: ignore[no-untyped-def]
            return Result(None, 0)

    manager = ModelManager(Registry([NeedsAFix]), device_setting="cpu")
    with manager.use(manager.registry.get("test.needs_a_fix"), {}, Progress()) as model:
        assert model == "model"
