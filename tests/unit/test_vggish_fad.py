"""Fréchet audio distance with VGGish, as Amphion's `fad` computes it: torchvggish's VGG with the output ReLU dropped,
every 0.96 s frame of every clip one row, one Gaussian per set. The checkpoint is a random-weight state dict of
torchvggish's own class, saved where torch.hub keeps vggish-10086976.pth, so only the plumbing is proven."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.builtin.audio_embedders import VGGishEmbedder
from engines.contract import AudioInput, EngineError, Progress
from studio.evaluation import EvaluationRequest
from studio.services import Services
from tests.evaluation_fixtures import fad_sets, speech, white_noise, write  # noqa: F401

pytest.importorskip("torchvggish")


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def random_vggish(torch_home: Path, offline_hub: Path) -> Path:
    import torch
    from torchvggish.torchvggish import VGG, make_layers

    torch.manual_seed(0)
    target = torch_home / "hub" / "checkpoints" / "vggish-10086976.pth"
    target.parent.mkdir(parents=True)
    torch.save(VGG(make_layers(), postprocess=False).state_dict(), target)
    return target


def test_without_its_checkpoint_vggish_says_what_to_download(torch_home: Path) -> None:
    readiness = VGGishEmbedder().check()
    assert readiness.state == "needs_download" and readiness.hints[0] == "amphion-studio download metric.vggish"
    assert 280_000_000 < readiness.download_bytes < 300_000_000


def test_vggish_gives_one_embedding_per_096_s_before_the_output_relu(random_vggish: Path, tmp_path: Path) -> None:
    engine = VGGishEmbedder()
    model = engine.load("cpu", Progress())
    rate = 22_050  # not VGGish's 16 kHz: it resamples
    audio = white_noise(int(rate * 3.5), seed=1, amplitude=0.3)
    frames = engine.run(model, engine.validate({"audio": AudioInput(str(write(tmp_path / "n.wav", audio, rate)))},
                                               {}), Progress()).extras["frames"]
    assert frames.shape == (3, 128)  # 3.5 s holds three whole 0.96 s examples
    assert (frames < 0).any()  # the last layer's ReLU is dropped, as Amphion's use_activation=False
    short = write(tmp_path / "short.wav", audio[: rate // 2], rate)
    with pytest.raises(EngineError, match="at least 0.96 s"):
        engine.run(model, engine.validate({"audio": AudioInput(str(short))}, {}), Progress())


def test_set_fad_uses_vggish_frames_when_downloaded(random_vggish: Path, tmp_path: Path, speech,
                                                    services: Services) -> None:
    from studio.metrics.spectral import frechet_distance

    fad_sets(tmp_path, speech["a"])
    reports = {}
    for name, metrics in (("same", ("fad",)), ("noise", None)):
        job = services.evaluation.submit(EvaluationRequest("set", str(tmp_path / name), str(tmp_path / "ref"),
                                                           metrics=metrics))
        job = services.jobs.wait(job.id, timeout=300)
        assert job.error is None
        reports[name] = services.evaluation.report(job.id)
    assert "fad" in reports["noise"].metrics  # chosen by default for sets, since its model is ready
    assert reports["noise"].options["fad_model"] == "vggish"  # "auto" settled to what was used
    assert reports["same"].set_values["fad"] == pytest.approx(0.0, abs=1e-6)

    # the same number from the frames computed directly: every frame of every clip is a row
    engine = VGGishEmbedder()
    model = engine.load("cpu", Progress())

    def rows(folder: str) -> np.ndarray:
        return np.concatenate([engine.run(model, engine.validate({"audio": AudioInput(str(tmp_path / folder /
                                                                                           f"{n}.wav"))}, {}),
                                          Progress()).extras["frames"] for n in range(3)])

    expected = frechet_distance(rows("ref"), rows("noise"))
    assert expected > 0 and reports["noise"].set_values["fad"] == pytest.approx(expected, rel=1e-4)


def test_fad_model_is_checked_and_an_absent_choice_is_a_message(torch_home: Path, offline_hub: Path,
                                                                 tmp_path: Path, speech, services: Services) -> None:
    from engines.contract import InvalidRequest

    audio, rate = speech["a"]
    for n in range(2):
        write(tmp_path / "ref" / f"{n}.wav", audio, rate)
        write(tmp_path / "gen" / f"{n}.wav", audio, rate)
    with pytest.raises(InvalidRequest, match="fad_model: 'pann' is not one of auto, vggish, clap"):
        services.evaluation.submit(EvaluationRequest("set", str(tmp_path / "gen"), str(tmp_path / "ref"),
                                                     metrics=("fad",), options={"fad_model": "pann"}))
    job = services.evaluation.submit(EvaluationRequest("set", str(tmp_path / "gen"), str(tmp_path / "ref"),
                                                       metrics=("fad",), options={"fad_model": "vggish"}))
    job = services.jobs.wait(job.id, timeout=120)
    report = services.evaluation.report(job.id)
    assert "fad" not in report.set_values and "amphion-studio download metric.vggish" in report.set_errors["fad"]
