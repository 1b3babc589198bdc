"""The metric model engines: what is ready offline, the exact download hint for what is not, and the WavLM-SV path
run end to end on a tiny random-weight checkpoint laid out exactly as the hub cache lays it out."""
from __future__ import annotations

from pathlib import Path

import pytest

from engines.registry import Registry
from studio.metrics import Item, Options, score_item
from studio.services import Services
from tests.conftest import put_in_hub_cache
from tests.evaluation_fixtures import clip, speech  # noqa: F401

OFFLINE = ("metric.resemblyzer", "metric.distillmos", "metric.dnsmos", "metric.crepe")


def test_offline_metric_models_are_ready_and_hub_ones_say_what_to_download() -> None:
    registry = Registry()
    for engine_id in OFFLINE:
        assert registry.get(engine_id).check().ready, engine_id
    for engine_id, repo in (("metric.wavlm_sv", "microsoft/wavlm-base-plus-sv"), ("metric.clap", "laion/clap-htsat-unfused")):
        readiness = registry.get(engine_id).check()
        assert readiness.state == "needs_download" and repo in readiness.message
        assert readiness.hints[0] == f"amphion-studio download {engine_id}" and readiness.download_bytes > 100_000_000


def test_similarity_with_an_absent_model_is_a_message_not_a_failure(tmp_path: Path, speech, services: Services) -> None:
    from studio.metrics import EngineScorers

    scorers = EngineScorers(services.registry, services.models.use, services.transcription.transcribe)
    item = Item("x", clip(tmp_path / "a.wav", *speech["a"]), clip(tmp_path / "b.wav", *speech["b"]))
    scores = score_item(item, ["speaker_similarity", "mcd"], Options(speaker_model="metric.wavlm_sv"), scorers)
    assert "microsoft/wavlm-base-plus-sv" in scores.errors["speaker_similarity"]
    assert "not on this machine" in scores.errors["speaker_similarity"] or \
        "amphion-studio download metric.wavlm_sv" in scores.errors["speaker_similarity"]
    assert scores.values["mcd"] > 0


@pytest.fixture
def tiny_wavlm(offline_hub: Path, tmp_path: Path) -> None:
    """A random WavLMForXVector with the real architecture, saved where the hub cache keeps microsoft/wavlm-base-plus-sv."""
    import torch
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMForXVector

    torch.manual_seed(0)
    config = WavLMConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                         conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                         num_conv_pos_embedding_groups=2, tdnn_dim=(16, 16), tdnn_kernel=(3, 1), tdnn_dilation=(1, 1),
                         xvector_output_dim=8, num_buckets=32, max_bucket_distance=64)
    saved = tmp_path / "wavlm"
    WavLMForXVector(config).save_pretrained(saved, safe_serialization=False)  # the hub repo has pytorch_model.bin
    Wav2Vec2FeatureExtractor(sampling_rate=16_000).save_pretrained(saved)
    for file in saved.iterdir():
        put_in_hub_cache(offline_hub, "microsoft/wavlm-base-plus-sv", file.name, file)


def test_wavlm_sv_runs_from_the_hub_cache_when_its_weights_are_there(tiny_wavlm: None, tmp_path: Path, speech,
                                                                    services: Services) -> None:
    from studio.metrics import EngineScorers

    assert services.registry.get("metric.wavlm_sv").check().ready
    scorers = EngineScorers(services.registry, services.models.use, services.transcription.transcribe)
    a = clip(tmp_path / "a.wav", *speech["a"])
    options = Options(speaker_model="metric.wavlm_sv")
    itself = score_item(Item("self", a, a), ["speaker_similarity"], options, scorers)
    assert itself.values["speaker_similarity"] == pytest.approx(1.0, abs=1e-5)
    other = score_item(Item("other", a, clip(tmp_path / "o.wav", *speech["other_voice"])), ["speaker_similarity"],
                       options, scorers)
    assert -1.0 <= other.values["speaker_similarity"] < 1.0 - 1e-4  # random weights: only the plumbing is proven
    assert any(m.engine_id == "metric.wavlm_sv" for m in services.models.models())


@pytest.fixture
def tiny_clap(offline_hub: Path, tmp_path: Path) -> None:
    """A random ClapModel (HTSAT audio tower, unfused) laid out as laion/clap-htsat-unfused is in the hub cache."""
    import torch
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    torch.manual_seed(0)
    audio = {"window_size": 4, "spec_size": 64, "num_mel_bins": 16, "patch_size": 4, "patch_stride": (4, 4),
             "hidden_size": 32, "patch_embeds_hidden_size": 16, "depths": [1, 1], "num_attention_heads": [2, 2],
             "projection_dim": 16, "enable_fusion": False}
    text = {"vocab_size": 100, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 20, "projection_dim": 16, "max_position_embeddings": 64}
    saved = tmp_path / "clap"
    ClapModel(ClapConfig(text_config=text, audio_config=audio, projection_dim=8)).save_pretrained(saved)
    ClapFeatureExtractor(feature_size=16, hop_length=480, max_length_s=2).save_pretrained(saved)
    for file in saved.iterdir():
        put_in_hub_cache(offline_hub, "laion/clap-htsat-unfused", file.name, file)


def test_fad_of_two_sets_uses_clap_embeddings_when_the_model_is_there(tiny_clap: None, tmp_path: Path, speech,
                                                                     services: Services) -> None:
    import numpy as np

    from studio.evaluation import EvaluationRequest
    from tests.evaluation_fixtures import fad_sets

    fad_sets(tmp_path, speech["a"])
    reports = {}
    for name in ("same", "noise"):
        job = services.evaluation.submit(EvaluationRequest("set", str(tmp_path / name), str(tmp_path / "ref"),
                                                           metrics=("fad", "loudness_lufs"),
                                                           options={"fad_model": "clap"}))
        job = services.jobs.wait(job.id, timeout=120)
        assert job.error is None
        reports[name] = services.evaluation.report(job.id)
    assert reports["same"].set_values["fad"] == pytest.approx(0.0, abs=1e-6)
    assert reports["noise"].set_values["fad"] > 1e-3
    assert np.isfinite(reports["noise"].summary["loudness_lufs"]["mean"])


@pytest.mark.parametrize("choice, device, size", [("auto", "cpu", "tiny"), ("auto", "cuda", "full"),
                                                  ("auto", "cuda:1", "full"), ("full", "cpu", "full"),
                                                  ("tiny", "cuda", "tiny")])
def test_crepe_size_follows_the_device_unless_the_user_chose_one(choice: str, device: str, size: str) -> None:
    from engines.builtin.pitch_trackers import crepe_capacity

    assert crepe_capacity(choice, device) == size


def test_the_periodicity_model_is_auto_by_default_and_checked() -> None:
    from studio.metrics import InvalidOptions

    assert Options().periodicity_model == "auto" and Registry().get("metric.crepe").param("model").default == "auto"
    assert Options.from_dict({"periodicity_model": "full"}).periodicity_model == "full"
    with pytest.raises(InvalidOptions, match="'medium' is not one of auto, full, tiny"):
        Options.from_dict({"periodicity_model": "medium"})


def test_auto_loads_and_runs_crepe_tiny_on_a_cpu(tmp_path: Path) -> None:
    import numpy as np

    from engines.contract import AudioInput, Progress
    from tests.evaluation_fixtures import write

    engine = Registry().get("metric.crepe")
    network, size, device = model = engine.load("cpu", Progress(), {"model": "auto"})
    try:
        assert (size, device) == ("tiny", "cpu")
        assert sum(p.numel() for p in network.parameters()) < 1_000_000  # tiny: ~0.5 M weights; full: ~22 M
        signals = {"tone": 0.5 * np.sin(2 * np.pi * 220.0 * np.arange(16_000) / 16_000),
                   "noise": 0.3 * np.random.default_rng(0).standard_normal(16_000)}
        medians = {}
        for name, audio in signals.items():
            clip = write(tmp_path / f"{name}.wav", audio.astype(np.float32), 16_000)
            result = engine.run(model, engine.validate({"audio": AudioInput(str(clip))}, {}), Progress()).extras
            medians[name] = float(np.median(result["periodicity"]))
        assert medians["tone"] > 0.7 and medians["noise"] < 0.3  # a pure tone is periodic, noise is not
    finally:
        engine.unload(model)


def test_an_evaluation_on_a_cpu_records_that_it_used_crepe_tiny(monkeypatch: pytest.MonkeyPatch, studio_home: Path,
                                                                tmp_path: Path, speech) -> None:
    from studio.evaluation import EvaluationRequest
    from studio.services import build_services
    from studio.settings import Settings
    from tests.evaluation_fixtures import write

    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    services = build_services(Settings.load())
    services.start()
    try:
        a, b = (write(tmp_path / f"{name}.wav", *speech[name]) for name in ("a", "other_voice"))
        job = services.jobs.wait(services.evaluation.submit(EvaluationRequest(
            "pair", str(b), str(a), metrics=("f0_periodicity_rmse",))).id, 120)
        report = services.evaluation.report(job.id)
        assert report.options["periodicity_model"] == "tiny"
        assert 0 < report.items[0].values["f0_periodicity_rmse"] < 1
        loaded = [m.key for m in services.models.models() if m.engine_id == "metric.crepe"]
        assert loaded == ["metric.crepe[model=tiny]"]
    finally:
        services.stop()


@pytest.mark.parametrize("size", ["tiny", "full"])
def test_crepe_finds_the_voiced_frames_of_real_speech(size: str, tmp_path: Path, speech) -> None:  # noqa: F811
    """Amphion's 0 Hz search floor makes torchcrepe's Viterbi path stick to the lowest bin (periodicity ~0 on
    every speech frame); the studio's tracker must see speech as largely periodic, and its pitch in the voice."""
    from engines.contract import AudioInput, Progress
    from tests.evaluation_fixtures import write

    engine = Registry().get("metric.crepe")
    model = engine.load("cpu", Progress(), {"model": size})
    try:
        path = write(tmp_path / "speech.wav", *speech["a"])
        periodicity = engine.run(model, engine.validate({"audio": AudioInput(str(path))}, {}), Progress()
                                 ).extras["periodicity"]
        assert (periodicity > 0.5).mean() > 0.25  # Hibari speaks voiced sounds a good part of the time
    finally:
        engine.unload(model)
