"""DualCodec-VALLE end to end: tiny random-weight checkpoints built with the `dualcodec` package's own classes,
served as the hub repositories lay them out, run through the job queue. The package is one of the studio's
dependencies, so these tests run everywhere; they skip when it is missing, unless STUDIO_REQUIRE_RUNTIMES=1 (CI)
makes that a failure.

The tiny AR model speaks a handful of speech tokens and then ends where the seed says (tests/dualcodec_tiny.py),
so a result's length is checked against the tokens the model sampled.
"""
from __future__ import annotations

import importlib.util
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from huggingface_hub import constants

from engines.amphion.dualcodec_valle import without_long_silences
from engines.contract import InvalidRequest
from studio.jobs import JobInfo, JobState
from studio.services import Services
from tests import dualcodec_tiny, maskgct_tiny
from tests.hub_server import FakeHub
from tests.job_watch import watch

TOKEN = 1920  # samples per 12.5 Hz token at 24 kHz
ENGINE = "amphion.dualcodec_valle"
TRANSCRIPT = "A short reference."

if importlib.util.find_spec("dualcodec") is None and os.environ.get("STUDIO_REQUIRE_RUNTIMES") != "1":
    pytest.skip("the dualcodec package is not installed (scripts/bootstrap installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return dualcodec_tiny.build_all(tmp_path_factory.mktemp("tiny-dualcodec"))


@pytest.fixture(scope="module")
def module_hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hub cache for the module: the first job downloads (through the weight manager), the rest find it."""
    return tmp_path_factory.mktemp("dualcodec-hub-cache")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return maskgct_tiny.reference_clip(tmp_path_factory.mktemp("clips") / "reference.wav", 1.2)


@pytest.fixture
def dc_services(repos: dict[str, Path], fake_hub: FakeHub, module_hub: Path, monkeypatch: pytest.MonkeyPatch,
                request: pytest.FixtureRequest) -> Services:
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(module_hub))
    monkeypatch.setenv("HF_HUB_CACHE", str(module_hub))
    fake_hub.add_folder(dualcodec_tiny.W2V, repos["w2v"])
    fake_hub.add_folder(dualcodec_tiny.CODEC, repos["codec"])
    fake_hub.add_folder(dualcodec_tiny.TTS, repos["tts"])
    return request.getfixturevalue("services")  # started now, with the hub above


def run_job(services: Services, inputs: dict, params: dict) -> tuple[JobInfo, list[str]]:
    job, stages = watch(services, services.generation.submit(ENGINE, inputs, params).id)
    assert job.state == JobState.succeeded, job.error
    return job, stages


def audio_of(services: Services, job: JobInfo) -> np.ndarray:
    data, rate = sf.read(str(services.generation.audio_path(job)), dtype="float32")
    assert rate == 24_000
    return data


def test_dualcodec_valle_speaks_through_the_job_queue(dc_services: Services, repos: dict[str, Path],
                                                      reference: Path) -> None:
    engine = dc_services.registry.get(ENGINE)
    assert engine.sample_rate == 24_000 and engine.check().state == "needs_download"
    inputs = {"text": "Hello from the tiny model.", "reference": {"path": str(reference), "transcript": TRANSCRIPT}}
    params = {"config": str(repos["configs"]), "seed": 3, "temperature": 0.8, "top_k": 20, "top_p": 0.9,
              "repetition_penalty": 1.2}
    job, stages = run_job(dc_services, inputs, params)
    audio = audio_of(dc_services, job)
    tokens = job.result["extras"]["ar_steps"] - 1  # the last step samples the end token
    assert tokens > 0 and abs(len(audio) - tokens * TOKEN) <= TOKEN // 2 and np.isfinite(audio).all()
    assert any(s.startswith("Weights") for s in stages) and any("Sampling speech tokens" in s for s in stages)
    assert engine.check().ready

    again, _ = run_job(dc_services, inputs, params)
    assert np.array_equal(audio_of(dc_services, again), audio)  # the same seed, the same audio
    assert dc_services.prompt_cache.usage()["entries"] >= 1  # the reference was encoded once

    others = [run_job(dc_services, inputs, {**params, "seed": seed})[0] for seed in (4, 5)]
    assert any(not np.array_equal(audio_of(dc_services, other), audio) for other in others)

    with pytest.raises(InvalidRequest, match="enter its transcript"):
        dc_services.generation.submit(ENGINE, {**inputs, "reference": {"path": str(reference)}}, params)


def test_long_text_is_spoken_in_parts_joined_by_the_cross_fade(dc_services: Services, repos: dict[str, Path],
                                                               reference: Path) -> None:
    # the package splits text at about 22 s of speech at the reference's rate: 15 bytes/s over 20.8 s here
    text = " ".join(f"Sentence number {i} is here." for i in range(14))
    assert len(text) > 15 * 20.8
    inputs = {"text": text, "reference": {"path": str(reference), "transcript": TRANSCRIPT}}
    params = {"config": str(repos["configs"]), "seed": 9}
    joined, stages = run_job(dc_services, inputs, {**params, "cross_fade": 0.0})
    faded, _ = run_job(dc_services, inputs, {**params, "cross_fade": 0.3})
    assert len(audio_of(dc_services, joined)) - len(audio_of(dc_services, faded)) == int(0.3 * 24_000)
    # each part reports its own sampling progress (polling may miss a short one)
    reported = [match for s in stages if (match := re.match(r"Part (\d+) of (\d+) · Sampling", s))]
    parts, totals = {int(m[1]) for m in reported}, {int(m[2]) for m in reported}
    assert len(parts) >= 2 and len(totals) == 1 and max(parts) <= min(totals), stages


def test_cancel_lands_between_encoding_the_reference_and_sampling(dc_services: Services, repos: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    fresh = maskgct_tiny.reference_clip(tmp_path / "fresh.wav", 1.5, pitch=190.0)  # not in the prompt cache
    job = dc_services.generation.submit(ENGINE, {"text": "Cancel me.", "reference": {"path": str(fresh),
                                                                                      "transcript": TRANSCRIPT}},
                                        {"config": str(repos["configs"]), "seed": 1})
    deadline, stages = time.monotonic() + 120, []
    while "Encoding the reference" not in dc_services.jobs.get(job.id).stage:
        current = dc_services.jobs.get(job.id)
        assert current.active and time.monotonic() < deadline, (current.state, current.stage, current.error)
        time.sleep(0.005)
    dc_services.jobs.cancel(job.id)
    while (current := dc_services.jobs.get(job.id)).active:
        stages.append(current.stage)
        time.sleep(0.005)
    assert current.state == JobState.cancelled
    assert not any("Sampling speech tokens" in s for s in stages)  # it stopped before the first token


def test_silence_removal_shortens_pauses_over_a_second() -> None:
    rate = 24_000
    tone = 0.3 * np.sin(2 * np.pi * 200 * np.arange(rate) / rate).astype(np.float32)
    clip = np.concatenate([tone, np.zeros(3 * rate, np.float32), tone])
    shortened = without_long_silences(clip, rate)
    # pydub's split_on_silence keeps half a second of the pause on each side of the speech around it
    assert abs(len(shortened) / rate - 3.0) < 0.05
    assert np.abs(shortened[: rate // 2]).max() > 0.2 and np.abs(shortened[-rate // 2:]).max() > 0.2
