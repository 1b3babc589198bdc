"""RawNet3 speaker similarity (metric.rawnet3): Amphion's own RawNet3 class from the checkout on jungjee/RawNet3's
model.pt. Readiness runs anywhere; the end-to-end tests build a random-weight checkpoint with Amphion's class (the
real architecture: Amphion's constructor call fixes every size), lay it out as the hub cache does, and need
AMPHION_ROOT (they skip without it)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.builtin.speaker_encoders import RawNet3Encoder, rawnet_segments
from studio.evaluation import EvaluationRequest
from studio.metrics import EngineScorers, Item, Options, score_item
from studio.services import Services
from studio.settings import Settings
from tests.conftest import put_in_hub_cache
from tests.evaluation_fixtures import clip, speech, write  # noqa: F401
from tests.unit.test_amphion_runtime import amphion, fake_checkout  # noqa: F401  (skips without AMPHION_ROOT)

REPO = "jungjee/RawNet3"


def test_windows_are_ten_3_second_slices_spread_over_the_clip_and_a_short_clip_wraps_round() -> None:
    audio = np.arange(100_000, dtype=np.float32)
    windows = rawnet_segments(audio)
    assert windows.shape == (10, 48_000)
    assert windows[0, 0] == 0 and windows[-1, -1] == audio[-1]  # first at the start, last at the end
    assert all(np.array_equal(w, np.arange(w[0], w[0] + 48_000)) for w in windows)  # contiguous slices
    short = np.arange(20_000, dtype=np.float32)
    windows = rawnet_segments(short)
    assert windows.shape == (10, 48_000)
    assert np.array_equal(windows[0], np.resize(short, 48_000))  # wrapped, as np.pad(..., "wrap")


def test_without_a_checkout_readiness_says_the_checkout_is_needed() -> None:
    readiness = RawNet3Encoder(Settings.load()).check()
    assert readiness.state == "missing_dependency" and readiness.message == "No Amphion checkout is configured."
    assert readiness.hints[0] == "git clone https://github.com/open-mmlab/Amphion.git"


def test_with_a_checkout_but_no_weights_readiness_names_the_download(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.test_vevo_engines import fake_checkout as checkout_with_everything_installed

    root = checkout_with_everything_installed(fake_checkout(tmp_path / "Amphion"), monkeypatch)
    readiness = RawNet3Encoder(Settings.load(amphion_root=root)).check()
    assert readiness.state == "needs_download" and REPO in readiness.message
    assert readiness.hints[0] == "amphion-studio download metric.rawnet3" and readiness.download_bytes > 60_000_000


def test_similarity_with_rawnet3_absent_is_a_message_per_item(tmp_path: Path, speech, services: Services) -> None:
    scorers = EngineScorers(services.registry, services.models.use, services.transcription.transcribe)
    item = Item("x", clip(tmp_path / "a.wav", *speech["a"]), clip(tmp_path / "b.wav", *speech["b"]))
    scores = score_item(item, ["speaker_similarity", "mcd"], Options(speaker_model="rawnet3"), scorers)
    assert "RawNet3 is not ready: No Amphion checkout is configured." in scores.errors["speaker_similarity"]
    assert scores.values["mcd"] > 0


@pytest.fixture
def tiny_rawnet3(amphion: Path, offline_hub: Path, tmp_path: Path) -> None:
    """A random-weight RawNet3 built with Amphion's class and arguments, saved as {"model": state_dict} (what
    Amphion's loader indexes) where the hub cache keeps jungjee/RawNet3/model.pt."""
    import contextlib
    import io

    import torch

    from engines.amphion.runtime import AmphionRuntime

    with AmphionRuntime(amphion).session():
        from evaluation.metrics.similarity.models.RawNetBasicBlock import Bottle2neck
        from evaluation.metrics.similarity.models.RawNetModel import RawNet3

        torch.manual_seed(0)
        with contextlib.redirect_stdout(io.StringIO()):
            model = RawNet3(Bottle2neck, model_scale=8, context=True, summed=True, encoder_type="ECA", nOut=256,
                            out_bn=False, sinc_stride=10, log_sinc=True, norm_sinc="mean", grad_mult=1)
    saved = tmp_path / "model.pt"
    torch.save({"model": model.state_dict()}, saved)
    put_in_hub_cache(offline_hub, REPO, "model.pt", saved)


def test_rawnet3_embeds_like_amphion_and_scores_a_pair_through_the_evaluation_service(
        tiny_rawnet3: None, tmp_path: Path, speech, services: Services) -> None:
    from engines.contract import Progress
    from studio.audio.io import resample

    engine = services.registry.get("metric.rawnet3")
    assert engine.check().ready
    audio, rate = speech["a"]
    a16 = clip(tmp_path / "a16.wav", resample(audio, rate, 16_000), 16_000)  # both readers see the same samples
    scorers = EngineScorers(services.registry, services.models.use, services.transcription.transcribe)
    embedding = scorers.score("metric.rawnet3", a16)["embedding"]
    assert embedding.shape == (256,) and np.isfinite(embedding).all()

    with services.models.use(engine, {}, Progress()) as (network, _device), engine.runtime.session():
        from evaluation.metrics.similarity.speaker_similarity import extract_rawnet_speaker_embd

        amphions = extract_rawnet_speaker_embd(network, str(a16.path), n_samples=48_000, n_segments=10,
                                               gpu=str(next(network.parameters()).device).startswith("cuda")).mean(0)
    assert np.allclose(embedding, amphions.float().cpu().numpy(), rtol=1e-3, atol=1e-4)  # the same windows, averaged

    itself = score_item(Item("self", a16, a16), ["speaker_similarity"], Options(speaker_model="metric.rawnet3"), scorers)
    assert itself.values["speaker_similarity"] == pytest.approx(1.0, abs=1e-5)

    other = write(tmp_path / "other.wav", *speech["other_voice"])
    job = services.evaluation.submit(EvaluationRequest("pair", str(other), str(a16.path), metrics=("speaker_similarity",),
                                                       options={"speaker_model": "rawnet3"}))
    job = services.jobs.wait(job.id, timeout=120)
    assert job.error is None
    (item,) = services.evaluation.report(job.id).items
    assert not item.errors
    assert -1.0 <= item.values["speaker_similarity"] < 1.0 - 1e-4  # random weights: only the plumbing is proven
    assert any(m.engine_id == "metric.rawnet3" for m in services.models.models())
