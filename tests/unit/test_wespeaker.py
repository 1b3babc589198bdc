"""WeSpeaker speaker similarity (metric.wespeaker): WeSpeaker's features into an ONNX graph laid out as
Wespeaker/wespeaker-voxceleb-resnet34-LM is in the hub cache. The graph here has random weights and the published
graph's interface (`feats` [batch, frames, 80] in, `embs` [batch, dim] out), so only the plumbing is proven."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.builtin.speaker_encoders import WeSpeakerEncoder, wespeaker_features
from engines.contract import AudioInput, EngineError, Progress
from studio.metrics import EngineScorers, Item, Options, score_item
from studio.services import Services
from tests.conftest import put_in_hub_cache
from tests.evaluation_fixtures import clip, speech  # noqa: F401


def export_graph(path: Path, input_name: str = "feats", output_name: str = "embs") -> Path:
    """A small random network over filterbank frames (conv, mean+std pooling, projection) exported to ONNX with
    dynamic batch and frame axes, as WeSpeaker's export_onnx.py exports its ResNets."""
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(80, 24, 5, padding=2)
            self.project = torch.nn.Linear(48, 16)

        def forward(self, feats: torch.Tensor) -> torch.Tensor:
            hidden = torch.relu(self.conv(feats.transpose(1, 2)))
            return self.project(torch.cat([hidden.mean(-1), hidden.std(-1)], dim=-1))

    torch.manual_seed(0)
    torch.onnx.export(Tiny().eval(), (torch.randn(1, 200, 80),), str(path), input_names=[input_name],
                      output_names=[output_name], dynamic_axes={input_name: {0: "batch", 1: "frames"},
                                                                output_name: {0: "batch"}}, dynamo=False)
    return path


@pytest.fixture
def tiny_wespeaker(offline_hub: Path, tmp_path: Path) -> Path:
    graph = export_graph(tmp_path / WeSpeakerEncoder.ONNX_FILE)
    return put_in_hub_cache(offline_hub, WeSpeakerEncoder.HUB_REPO, WeSpeakerEncoder.ONNX_FILE, graph)


def test_without_its_graph_wespeaker_says_what_to_download(offline_hub: Path) -> None:
    readiness = WeSpeakerEncoder().check()
    assert readiness.state == "needs_download" and WeSpeakerEncoder.HUB_REPO in readiness.message
    assert readiness.hints[0] == "amphion-studio download metric.wespeaker"
    assert 20_000_000 < readiness.download_bytes < 40_000_000


def kaldi_mel_bin(hz: float, bins: int = 80, low: float = 20.0, high: float = 8000.0) -> int:
    """The filterbank bin whose centre is nearest `hz` on Kaldi's mel scale (centres evenly spaced in mel)."""
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    centres = mel(low) + (np.arange(bins) + 1) * (mel(high) - mel(low)) / (bins + 1)
    return int(np.argmin(np.abs(centres - mel(hz))))


def test_features_are_wespeakers_filterbanks_with_the_mean_removed() -> None:
    rate = 16_000
    t = np.arange(rate) / rate
    audio = 0.3 * np.concatenate([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 3000 * t)])  # 1 s of each
    feats = wespeaker_features(audio)
    assert feats.shape == (1 + (len(audio) - 400) // 160, 80)  # 25 ms windows every 10 ms, edges snipped, 80 bins
    assert np.abs(feats.mean(axis=0)).max() < 1e-3  # cepstral mean normalisation: each bin's mean removed
    first, second = feats[10:90].mean(axis=0), feats[-90:-10].mean(axis=0)
    assert abs(int(np.argmax(first)) - kaldi_mel_bin(440)) <= 1
    assert abs(int(np.argmax(second)) - kaldi_mel_bin(3000)) <= 1


def test_wespeaker_scores_speaker_similarity_through_the_evaluation_service(tiny_wespeaker: Path, tmp_path: Path,
                                                                            speech, services: Services) -> None:
    assert services.registry.get("metric.wespeaker").check().ready
    scorers = EngineScorers(services.registry, services.models.use, services.transcription.transcribe)
    a = clip(tmp_path / "a.wav", *speech["a"])
    options = Options(speaker_model="wespeaker")  # the plain name works, as Amphion's names do
    itself = score_item(Item("self", a, a), ["speaker_similarity"], options, scorers)
    assert itself.values["speaker_similarity"] == pytest.approx(1.0, abs=1e-5)
    other = score_item(Item("other", a, clip(tmp_path / "o.wav", *speech["other_voice"])), ["speaker_similarity"],
                       options, scorers)
    assert -1.0 <= other.values["speaker_similarity"] < 1.0 - 1e-4
    assert any(m.engine_id == "metric.wespeaker" for m in services.models.models())


def test_a_graph_that_is_not_a_wespeaker_export_and_a_too_short_clip_get_messages(offline_hub: Path, tmp_path: Path,
                                                                                   services: Services) -> None:
    graph = export_graph(tmp_path / "other.onnx", input_name="input_values", output_name="logits")
    put_in_hub_cache(offline_hub, WeSpeakerEncoder.HUB_REPO, WeSpeakerEncoder.ONNX_FILE, graph)
    scorers = EngineScorers(services.registry, services.models.use, services.transcription.transcribe)
    rate = 16_000
    voice = np.sin(2 * np.pi * 150 * np.arange(2 * rate) / rate) * 0.3
    item = Item("x", clip(tmp_path / "a.wav", voice, rate), clip(tmp_path / "b.wav", voice, rate))
    scores = score_item(item, ["speaker_similarity"], Options(speaker_model="metric.wespeaker"), scorers)
    message = scores.errors["speaker_similarity"]
    assert "['feats']" in message and f"Download {WeSpeakerEncoder.HUB_REPO} again" in message

    put_in_hub_cache(offline_hub, WeSpeakerEncoder.HUB_REPO, WeSpeakerEncoder.ONNX_FILE,
                     export_graph(tmp_path / "good.onnx"))
    engine = WeSpeakerEncoder()
    session = engine.load("cpu", Progress())
    short = clip(tmp_path / "short.wav", voice[: rate // 20], rate)
    with pytest.raises(EngineError, match="at least 0.1 s"):
        engine.run(session, engine.validate({"audio": AudioInput(str(short.path))}, {}), Progress())
