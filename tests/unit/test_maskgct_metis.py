"""MaskGCT and Metis end to end on tiny random-weight checkpoints built with Amphion's own classes, served as the
hub repositories lay them out and run through the job queue.

These tests need an Amphion checkout (AMPHION_ROOT) and skip without one; the readiness test runs everywhere.
The checkout is mirrored with stand-ins for the G2P's large files when it lacks them (tests/amphion_checkout.py).
Tiny random weights make noise, not speech: the tests check rate, length, determinism, progress, cancellation
and that the params reach the model (steps counted at the model's own layers).
"""
from __future__ import annotations

import os
import time
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
from tests.amphion_checkout import activated, complete_checkout
from tests.hub_server import FakeHub
from tests.job_watch import watch

AMPHION_ROOT = os.environ.get("AMPHION_ROOT")  # read before the autouse fixture clears it
HOP = 480  # samples per token at 24 kHz


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not AMPHION_ROOT:
        pytest.skip("AMPHION_ROOT is not set: MaskGCT and Metis need an Amphion checkout "
                    "(git clone https://github.com/open-mmlab/Amphion; export AMPHION_ROOT=...)")
    root = complete_checkout(Path(AMPHION_ROOT), tmp_path_factory.mktemp("amphion") / "Amphion")
    with activated(root):
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

    again, _ = run_job(amphion_services, lambda: amphion_services.generation.submit("amphion.maskgct", inputs,
                                                                                     params))
    assert np.array_equal(audio_of(amphion_services, again)[0], audio)  # the same seed gives the same audio
    other = {**params, "seed": 12, "target_duration": 1.0, "steps": 15, "s2a_steps_first": 3,
             "s2a_steps_second": 2, "s2a_steps_rest": 1, "cfg": 0.0}
    shorter, _ = run_job(amphion_services, lambda: amphion_services.generation.submit("amphion.maskgct", inputs,
                                                                                       other))
    assert shorter.state == JobState.succeeded, shorter.error
    assert abs(len(audio_of(amphion_services, shorter)[0]) - 1.0 * rate) <= HOP
    assert shorter.result["extras"] == {"t2s_steps": 15, "s2a_steps": 3 + 2 + 10}

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
    deadline = time.monotonic() + 120
    while "Text to semantic tokens (step" not in amphion_services.jobs.get(job.id).stage:
        assert amphion_services.jobs.get(job.id).active and time.monotonic() < deadline
        time.sleep(0.01)
    amphion_services.jobs.cancel(job.id)
    stages = []
    while (current := amphion_services.jobs.get(job.id)).active:
        stages.append(current.stage)
        time.sleep(0.005)
    assert current.state == JobState.cancelled
    assert not any("Semantic to acoustic" in s for s in stages)  # stopped between text-to-semantic steps


# -- Metis ------------------------------------------------------------------------------------------------------


def test_metis_tts_and_voice_conversion(amphion_services: Services, repos: dict[str, Path],
                                        clips: dict[str, Path]) -> None:
    reference = {"path": str(clips["reference"]), "transcript": "A reference clip for the test."}
    tts, _ = run_job(amphion_services, lambda: amphion_services.generation.submit(
        "amphion.metis_tts", {"text": "Hello from Metis.", "reference": reference},
        {"config": str(repos["config:tts"]), "target_duration": 1.5, "steps": 8, "seed": 3,
         "prompt_language": "auto"}))
    assert tts.state == JobState.succeeded, tts.error
    audio, rate = audio_of(amphion_services, tts)
    assert rate == 24_000 and abs(len(audio) - 1.5 * rate) <= HOP and np.isfinite(audio).all()
    assert tts.result["extras"] == {"steps": 8, "s2a_steps": 40 + 16 + 10}

    assert amphion_services.conversion.default_engine("vc").id != "amphion.metis_vc"  # not downloaded yet
    params = {"config": str(repos["config:vc"]), "steps": 6, "seed": 4}
    vc, _ = run_job(amphion_services, lambda: amphion_services.conversion.submit(
        "vc", {"path": str(clips["source"])}, {"path": str(clips["reference"])}, engine_id="amphion.metis_vc",
        params=params))
    assert vc.state == JobState.succeeded, vc.error
    converted, rate = audio_of(amphion_services, vc)
    assert rate == 24_000 and abs(len(converted) - 1.6 * rate) <= HOP  # the source's length
    assert vc.result["extras"]["steps"] == 6
    assert amphion_services.conversion.default_engine("vc").id == "amphion.metis_vc"  # ready: the neural default
    again, _ = run_job(amphion_services, lambda: amphion_services.conversion.submit(
        "vc", {"path": str(clips["source"])}, {"path": str(clips["reference"])}, engine_id="amphion.metis_vc",
        params=params))
    assert np.array_equal(audio_of(amphion_services, again)[0], converted)


def test_metis_enhancement_and_target_speaker_extraction(amphion_services: Services, repos: dict[str, Path],
                                                         clips: dict[str, Path]) -> None:
    se, stages = run_job(amphion_services, lambda: amphion_services.conversion.submit(
        "enhance", {"path": str(clips["source"])}, engine_id="amphion.metis_se",
        params={"config": str(repos["config:se"]), "steps": 4, "seed": 5}))
    assert se.state == JobState.succeeded, se.error
    cleaned, rate = audio_of(amphion_services, se)
    assert rate == 24_000 and abs(len(cleaned) - 1.6 * rate) <= HOP and np.isfinite(cleaned).all()
    assert se.result["extras"]["steps"] == 4 and any("Loading Metis SE" in s for s in stages)

    with pytest.raises(InvalidRequest, match="Enrolment .the speaker to keep.: Metis target-speaker extraction "
                                             "needs this audio"):
        amphion_services.conversion.submit("enhance", {"path": str(clips["source"])}, engine_id="amphion.metis_tse")
    tse, _ = run_job(amphion_services, lambda: amphion_services.conversion.submit(
        "enhance", {"path": str(clips["source"])}, {"path": str(clips["reference"])}, engine_id="amphion.metis_tse",
        params={"config": str(repos["config:tse"]), "steps": 4, "seed": 5}))
    assert tse.state == JobState.succeeded, tse.error
    extracted, _ = audio_of(amphion_services, tse)
    assert abs(len(extracted) - 1.6 * rate) <= HOP
    assert not np.array_equal(extracted[:len(cleaned)], cleaned[:len(extracted)])  # another fine-tune, enrolled


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
