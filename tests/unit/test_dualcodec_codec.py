"""DualCodec as a codec (amphion.dualcodec) on tiny random-weight checkpoints built with the `dualcodec` package's
own classes and laid out as amphion/dualcodec and facebook/w2v-bert-2.0 (tests/dualcodec_tiny.py), downloaded
through the weight manager from a local hub and run through the job queue as the Codecs page runs it."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from huggingface_hub import constants

from engines.contract import InvalidRequest
from studio.jobs import JobInfo, JobState
from studio.services import Services
from tests import dualcodec_tiny
from tests.audio_measures import speech, write
from tests.hub_server import FakeHub
from tests.job_watch import watch

ENGINE = "amphion.dualcodec"

if importlib.util.find_spec("dualcodec") is None and not os.environ.get("CI"):
    pytest.skip("the dualcodec package is not installed (pip install -e . installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folders = dualcodec_tiny.build_all(tmp_path_factory.mktemp("tiny-dualcodec"))
    folders["configs_25hz"] = dualcodec_tiny.add_25hz_codec(folders)
    return folders


@pytest.fixture
def codec_services(repos: dict[str, Path], fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   request: pytest.FixtureRequest) -> Services:
    cache = tmp_path / "hub-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    fake_hub.add_folder(dualcodec_tiny.W2V, repos["w2v"])
    fake_hub.add_folder(dualcodec_tiny.CODEC, repos["codec"])
    return request.getfixturevalue("services")


def run(services: Services, source: Path, params: dict) -> tuple[JobInfo, np.ndarray, list[str]]:
    job, stages = watch(services, services.conversion.submit("codec", {"path": str(source)}, engine_id=ENGINE,
                                                             params=params).id)
    assert job.state == JobState.succeeded, job.error
    audio, rate = sf.read(str(services.generation.audio_path(job)), dtype="float32")
    assert rate == 24_000
    return job, audio, stages


def test_dualcodec_encodes_and_decodes_through_the_job_queue(codec_services: Services, repos: dict[str, Path],
                                                             tmp_path: Path) -> None:
    engine = codec_services.registry.get(ENGINE)
    assert engine.check().state == "needs_download"
    audio, rate = speech()  # 24 kHz, 5.4 s
    source = write(tmp_path / "speech.wav", audio, rate)
    config = {"config": str(repos["configs"])}
    job, full, stages = run(codec_services, source, {**config, "codebooks": 8})
    assert len(full) == len(audio) and np.isfinite(full).all() and np.abs(full).max() > 0
    extras = job.result["extras"]
    assert extras["frame_rate"] == 12.5 and abs(extras["frames"] - len(audio) / 1920) <= 1
    assert extras["bitrate_kbps"] == pytest.approx(12.5 * (14 + 7 * 12) / 1000)  # 1.225 kbit/s
    assert any(s.startswith("Weights") for s in stages) and "Decoding" in stages
    assert engine.check().ready
    assert codec_services.conversion.default_engine("codec").id == ENGINE  # a ready neural codec comes first

    job, semantic_only, _ = run(codec_services, source, {**config, "codebooks": 1})
    assert job.result["extras"]["bitrate_kbps"] == pytest.approx(12.5 * 14 / 1000)
    assert len(semantic_only) == len(audio) and not np.allclose(semantic_only, full)  # fewer codebooks, other sound

    with pytest.raises(InvalidRequest, match="has 8; choose 1 to 8"):
        codec_services.conversion.submit("codec", {"path": str(source)}, engine_id=ENGINE,
                                         params={**config, "codebooks": 12})


def test_the_25_hz_model_downloads_its_own_file_and_uses_twelve_codebooks(codec_services: Services,
                                                                          repos: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    audio, rate = speech()
    source = write(tmp_path / "speech.wav", audio, rate)
    job, decoded, _ = run(codec_services, source, {"model": "25hz_v1", "codebooks": 12,
                                                    "config": str(repos["configs_25hz"])})
    extras = job.result["extras"]
    assert len(decoded) == len(audio) and extras["frame_rate"] == 25 and abs(extras["frames"] - len(audio) / 960) <= 1
    assert extras["bitrate_kbps"] == pytest.approx(25 * (14 + 11 * 10) / 1000)  # 3.1 kbit/s
