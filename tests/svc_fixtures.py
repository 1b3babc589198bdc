"""Tiny random-weight checkpoints of Amphion's singing conversion recipes and Noro, built with Amphion's own
classes and laid out exactly as the released ones are (hub repositories, experiment folders), plus the extra
models they read: Whisper (openai-whisper's checkpoint format) and ContentVec / mHuBERT (fairseq HuBERT training
checkpoints); and the pytest fixtures that serve them to started services.

The builders that import Amphion run inside the studio's Amphion runtime (AMPHION_ROOT); the fixtures skip
without it.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from studio.jobs import JobInfo
from studio.services import Services, build_services
from studio.settings import Settings
from tests.conftest import amphion_checkout
from tests.hub_server import FakeHub
from tests.job_watch import stages_reported

SINGERS = {"vocalist_l1_Adele": 0, "vocalist_l1_李健": 1, "opencpop_female1": 2}
MEDIANS = {"vocalist_l1_Adele": 330.0, "vocalist_l1_李健": 150.0, "opencpop_female1": 440.0}

RECIPES = {
    "DiffWaveNetSVC": "egs/svc/MultipleContentsSVC/exp_config.json",
    "DiffComoSVC": "egs/svc/DiffComoSVC/exp_config.json",
    "TransformerSVC": "egs/svc/TransformerSVC/exp_config.json",
    "VitsSVC": "egs/svc/VitsSVC/exp_config.json",
}
WHISPER_DIM, CONTENTVEC_DIM, HIDDEN = 8, 16, 16
CONV = "[(16,10,5)] + [(16,3,2)] * 4 + [(16,2,2)] * 2"  # HuBERT's strides: 20 ms frames at 16 kHz


# -- extra pretrained models --------------------------------------------------------------------------------------


def tiny_whisper(path: Path) -> Path:
    """An openai-whisper checkpoint ({"dims", "model_state_dict"}) with a WHISPER_DIM-wide one-layer encoder."""
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=WHISPER_DIM, n_audio_head=2, n_audio_layer=1,
                           n_vocab=64, n_text_ctx=8, n_text_state=WHISPER_DIM, n_text_head=2, n_text_layer=1)
    torch.manual_seed(11)
    model = Whisper(dims)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


def fairseq_hubert_checkpoint(path: Path, *, conv: str = CONV, layer_norm_first: bool = False, layers: int = 2,
                              embed: int = 32, heads: int = 4, final_dim: int = CONTENTVEC_DIM, seed: int = 3) -> Path:
    """A fairseq HuBERT training checkpoint as ContentVec and fairseq release them: fairseq's weight names, the
    model config under cfg["model"], training state beside it; random weights."""
    from torchaudio.models import wav2vec2_model
    from torchaudio.models.wav2vec2.utils.import_fairseq import _map_key

    from engines.amphion.hubert import parse_conv_layers

    layout = parse_conv_layers(conv)
    reference = wav2vec2_model(  # only for the shapes, under torchaudio's names
        extractor_mode="layer_norm" if layer_norm_first else "group_norm", extractor_conv_layer_config=layout,
        extractor_conv_bias=False, encoder_embed_dim=embed, encoder_projection_dropout=0.0, encoder_pos_conv_kernel=16,
        encoder_pos_conv_groups=4, encoder_num_layers=layers, encoder_num_heads=heads, encoder_attention_dropout=0.0,
        encoder_ff_interm_features=embed * 2, encoder_ff_interm_dropout=0.0, encoder_dropout=0.0,
        encoder_layer_norm_first=layer_norm_first, encoder_layer_drop=0.0, aux_num_out=None)
    shapes = {k.replace("parametrizations.weight.original0", "weight_g")
               .replace("parametrizations.weight.original1", "weight_v"): v.shape
              for k, v in reference.state_dict().items()}
    names = [f"feature_extractor.conv_layers.{i}.0.weight" for i in range(len(layout))]
    names += ([f"feature_extractor.conv_layers.{i}.2.1.{p}" for i in range(len(layout)) for p in ("weight", "bias")]
              if layer_norm_first else ["feature_extractor.conv_layers.0.2.weight", "feature_extractor.conv_layers.0.2.bias"])
    names += [f"{m}.{p}" for m in ("layer_norm", "post_extract_proj", "encoder.layer_norm") for p in ("weight", "bias")]
    names += ["encoder.pos_conv.0.bias", "encoder.pos_conv.0.weight_g", "encoder.pos_conv.0.weight_v"]
    for i in range(layers):
        for module in ("self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj", "self_attn.out_proj",
                       "self_attn_layer_norm", "fc1", "fc2", "final_layer_norm"):
            names += [f"encoder.layers.{i}.{module}.weight", f"encoder.layers.{i}.{module}.bias"]
    generator = torch.Generator().manual_seed(seed)
    model = {name: torch.randn(shapes[_map_key(name)], generator=generator) * 0.3 for name in names}
    model["mask_emb"] = torch.rand(embed, generator=generator)
    model["final_proj.weight"] = torch.randn(final_dim, embed, generator=generator) * 0.3
    model["final_proj.bias"] = torch.randn(final_dim, generator=generator)
    model["label_embs_concat"] = torch.randn(50, final_dim, generator=generator)
    cfg = {"model": {"_name": "hubert", "extractor_mode": "layer_norm" if layer_norm_first else "default",
                     "encoder_layers": layers, "encoder_embed_dim": embed, "encoder_ffn_embed_dim": embed * 2,
                     "encoder_attention_heads": heads, "activation_fn": "gelu", "layer_norm_first": layer_norm_first,
                     "conv_feature_layers": conv, "conv_bias": False, "conv_pos": 16, "conv_pos_groups": 4,
                     "final_dim": final_dim, "dropout": 0.1}}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"args": None, "cfg": cfg, "model": model, "optimizer_history": [{"num_updates": 5}],
                "extra_state": {"previous_best": np.float64(1.5)}}, path)
    return path


# -- vocoders -----------------------------------------------------------------------------------------------------


def tiny_vocoder(runtime: Any, folder: Path, generator: str = "bigvgan", step: int = 400000,
                 mel: dict[str, Any] | None = None, upsample: tuple[list[int], list[int]] | None = None) -> Path:
    """An Amphion GAN vocoder folder as amphion/BigVGAN_singing_bigdata ships one: args.json and <step>.pt
    ({"generator_state_dict": ...}); by default 24 kHz, 100 mels, hop 256 (`mel` and `upsample` change that),
    a few channels wide."""
    with runtime.session():
        from models.vocoders.vocoder_inference import _vocoders
        from utils.util import JsonHParams, _load_config

        raw = _load_config(str(runtime.path(f"egs/vocoder/gan/{generator}/exp_config.json")), lowercase=True)
        raw["preprocess"].update(mel or {})
        settings = raw["model"][generator]
        settings.update(upsample_initial_channel=16, resblock="2", resblock_kernel_sizes=[3],
                        resblock_dilation_sizes=[[1, 3]])
        if upsample:
            settings.update(upsample_rates=upsample[0], upsample_kernel_sizes=upsample[1])
        torch.manual_seed(5)
        model = _vocoders[generator](JsonHParams(**raw))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "args.json").write_text(json.dumps(raw, indent=4))
    torch.save({"generator_state_dict": model.state_dict(), "steps": step}, folder / f"{step}.pt")
    return folder


# -- Noro ---------------------------------------------------------------------------------------------------------

NORO_MEL = {"sample_rate": 16000, "n_mel": 80, "n_fft": 1024, "hop_size": 200, "win_size": 800, "fmin": 0,
            "fmax": 8000}


def tiny_noro(runtime: Any, folder: Path, *, vocoder: bool = True) -> Path:
    """A Noro checkpoint folder as the studio expects one: the experiment config (egs/vc/Noro/exp_config_clean.json,
    base config and all, shrunk), model.safetensors as training saves it, a fairseq HuBERT checkpoint and a
    scikit-learn k-means model (joblib), and a vocoder/ trained on Noro's mel settings."""
    import joblib
    from safetensors.torch import save_model
    from sklearn.cluster import KMeans

    embed, hidden = 32, 64  # the reference encoder's attention has hidden // 64 heads
    with runtime.session():
        from models.vc.Noro.noro_model import Noro_VCmodel
        from utils.util import JsonHParams, _load_config

        raw = _load_config(str(runtime.path("egs/vc/Noro/exp_config_clean.json")))
        model_cfg = raw["model"]
        model_cfg["reference_encoder"].update(encoder_layer=1, encoder_hidden=hidden, encoder_head=2,
                                              conv_filter_size=32, conv_kernel_size=3, ref_out_dim=hidden,
                                              num_query_emb=4)
        model_cfg["diffusion"]["diff_wavenet"].update(hidden_size=hidden, num_layers=2, attn_head=2)
        model_cfg["vc_feature"].update(content_feature_dim=embed, hidden_dim=hidden)
        raw["preprocess"].update(hubert_model_path="mhubert_base.pt", kmeans_model_path="mhubert_base_L9_km8.bin")
        torch.manual_seed(13)
        model = Noro_VCmodel(cfg=JsonHParams(**json.loads(json.dumps(model_cfg))))
        with torch.no_grad():
            for parameter in model.parameters():
                if not parameter.any():
                    parameter.normal_(0.0, 0.05)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(raw, indent=4))
    save_model(model, str(folder / "model.safetensors"))
    fairseq_hubert_checkpoint(folder / "mhubert_base.pt", embed=embed)
    units = np.random.default_rng(2).standard_normal((200, embed)).astype(np.float32)
    joblib.dump(KMeans(n_clusters=8, n_init=1, random_state=0).fit(units), folder / "mhubert_base_L9_km8.bin")
    if vocoder:
        tiny_vocoder(runtime, folder / "vocoder", step=200000, mel=NORO_MEL,
                     upsample=([5, 5, 4, 2], [10, 10, 8, 4]))
    return folder


# -- SVC experiment folders ----------------------------------------------------------------------------------------


def tiny_svc_experiment(runtime: Any, folder: Path, model_type: str, singers: dict[str, int], *,
                        safetensors: bool = True, distill: bool = False, medians: dict[str, float] | None = None,
                        whisper: bool = True, contentvec: bool = True) -> Path:
    """An experiment folder as Amphion's SVC trainer writes it (and amphion/singing_voice_conversion ships it):
    args.json, singers.json, checkpoint/epoch-…_step-…_loss-…/ (accelerate state), and data/<dataset>/ with
    the target singers' mel extrema and pitch statistics."""
    with runtime.session():
        from utils.util import JsonHParams, _load_config

        raw = _load_config(str(runtime.path(RECIPES[model_type])))
        _shrink(raw, model_type, distill, whisper, contentvec)
        cfg = JsonHParams(**json.loads(json.dumps(raw)))
        torch.manual_seed(7)
        model = _build(model_type, cfg)
        _save_state(model, folder / "checkpoint" / "epoch-0012_step-0000345_loss-0.678901", safetensors)
    (folder / "args.json").write_text(json.dumps(raw, indent=4, ensure_ascii=False))
    (folder / "singers.json").write_text(json.dumps(singers, indent=4, ensure_ascii=False))
    medians = medians or {}
    by_dataset: dict[str, list[str]] = {}
    for singer in singers:
        by_dataset.setdefault(singer.replace("_" + singer.split("_")[-1], ""), []).append(singer)
    for dataset, names in by_dataset.items():
        stats = folder / "data" / dataset
        (stats / "mel_min_max_stats").mkdir(parents=True, exist_ok=True)
        n_mel = raw["preprocess"]["n_mel"]
        np.save(stats / "mel_min_max_stats" / "mel_min.npy", np.full(n_mel, -11.5, dtype=np.float32))
        np.save(stats / "mel_min_max_stats" / "mel_max.npy", np.full(n_mel, 2.0, dtype=np.float32))
        (stats / "pitches").mkdir(exist_ok=True)
        table = {}
        for name in names:
            median = medians.get(name, 220.0)
            voiced = {"mean": median, "std": 40.0, "median": median, "min": median / 2, "max": median * 2}
            table[name] = {"voiced_positions": voiced, "total_positions": {**voiced, "min": 0.0, "median": 0.0}}
        (stats / "pitches" / "statistics.json").write_text(json.dumps(table, indent=4, ensure_ascii=False))
        (stats / "meta_info.json").write_text(json.dumps({"dataset": dataset, "train": {"size": 1}}))
    return folder


def _shrink(raw: dict[str, Any], model_type: str, distill: bool, whisper: bool, contentvec: bool) -> None:
    encoder = raw["model"]["condition_encoder"]
    encoder.update(whisper_dim=WHISPER_DIM, contentvec_dim=CONTENTVEC_DIM, content_encoder_dim=HIDDEN,
                   output_melody_dim=HIDDEN, output_loudness_dim=HIDDEN, output_singer_dim=HIDDEN,
                   output_content_dim=HIDDEN, singer_table_size=8, use_whisper=whisper, use_contentvec=contentvec)
    raw["preprocess"].update(use_whisper=whisper, use_contentvec=contentvec)
    n_mel = raw["preprocess"]["n_mel"]
    steps = {"dim_raw_embedding": 16, "dim_hidden_layer": 32, "activation": "SiLU", "num_layer": 2,
             "max_period": 10000}
    if model_type == "DiffWaveNetSVC":
        raw["model"]["diffusion"]["step_encoder"] = steps
        raw["model"]["diffusion"]["bidilconv"].update(base_channel=HIDDEN, n_res_block=2, conditioner_size=HIDDEN)
    elif model_type == "DiffComoSVC":
        raw["model"]["comosvc"].update(distill=distill, input_dim=HIDDEN, output_dim=n_mel, n_layers=1,
                                       filter_channels=32)
        raw["model"]["diffusion"]["step_encoder"] = steps
        raw["model"]["diffusion"]["bidilconv"].update(base_channel=HIDDEN, n_res_block=2, conditioner_size=n_mel)
    elif model_type == "TransformerSVC":
        raw["model"]["transformer"].update(input_dim=HIDDEN, output_dim=n_mel, n_layers=1, filter_channels=32)
    elif model_type == "VitsSVC":
        raw["model"]["vits"].update(inter_channels=HIDDEN, hidden_channels=HIDDEN, filter_channels=32, n_layers=1,
                                    n_flow_layer=1, n_layers_q=1, gin_channels=HIDDEN, n_speakers=8)
        raw["model"]["generator_config"][raw["model"]["generator"]].update(
            upsample_initial_channel=16, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3, 5]])


def _build(model_type: str, cfg: Any) -> Any:
    """The module Amphion's inference class builds (its `_build_model`), constructed the same way."""
    from modules.encoder.condition_encoder import ConditionEncoder

    if model_type == "VitsSVC":
        from models.svc.vits.vits import SynthesizerTrn

        return SynthesizerTrn(cfg.preprocess.n_fft // 2 + 1, cfg.preprocess.segment_size // cfg.preprocess.hop_size,
                              cfg)
    cfg.model.condition_encoder.f0_min = cfg.preprocess.f0_min
    cfg.model.condition_encoder.f0_max = cfg.preprocess.f0_max
    condition = ConditionEncoder(cfg.model.condition_encoder)
    if model_type == "DiffWaveNetSVC":
        from models.svc.diffusion.diffusion_wrapper import DiffusionWrapper

        mapper = DiffusionWrapper(cfg)
    elif model_type == "DiffComoSVC":
        from models.svc.comosvc.comosvc import ComoSVC

        mapper = ComoSVC(cfg)
        if cfg.model.comosvc.distill:
            mapper.decoder.init_consistency_training()
    else:
        from models.svc.transformer.conformer import Conformer
        from models.svc.transformer.transformer import Transformer

        mapper = (Conformer if cfg.model.transformer.type == "conformer" else Transformer)(cfg.model.transformer)
    return torch.nn.ModuleList([condition, mapper])


def _save_state(model: Any, folder: Path, safetensors: bool) -> None:
    """accelerate's save_state with the model and its optimizer registered, as the trainer saves."""
    import accelerate

    with torch.no_grad():  # a trained model has no zero layers (Amphion zero-initialises its diffusion output)
        for parameter in model.parameters():
            if not parameter.any():
                parameter.normal_(0.0, 0.05)
    accelerator = accelerate.Accelerator()
    prepared, _ = accelerator.prepare(model, torch.optim.AdamW(model.parameters(), lr=1e-4))
    folder.parent.mkdir(parents=True, exist_ok=True)
    accelerator.save_state(str(folder), safe_serialization=safetensors)


# -- pytest fixtures: the assets once per session, started services per test -----------------------------------------


@dataclass(frozen=True)
class SvcAssets:
    released: Path  # the repository folders as the hub has them
    bigvgan: Path
    contentvec: Path
    whisper: Path  # openai-whisper's medium.pt, in its format
    user: Path  # <engine id>/<experiment>/ folders


def amphion_runtime() -> Any:
    from engines.amphion.runtime import AmphionRuntime

    return AmphionRuntime.of(SimpleNamespace(amphion_root=str(amphion_checkout())))


@pytest.fixture(scope="session")
def svc_assets(tmp_path_factory: pytest.TempPathFactory) -> SvcAssets:
    from engines.amphion.svc_recipes import RELEASE_FOLDER

    runtime = amphion_runtime()
    root = tmp_path_factory.mktemp("svc-assets")
    tiny_svc_experiment(runtime, root / "released" / RELEASE_FOLDER, "DiffWaveNetSVC", SINGERS, medians=MEDIANS)
    tiny_vocoder(runtime, root / "bigvgan" / "bigvgan_singing")
    fairseq_hubert_checkpoint(root / "contentvec" / "checkpoint_best_legacy_500.pt")
    user = root / "user"
    tiny_svc_experiment(runtime, user / "amphion.diffcomo_svc" / "como-teacher", "DiffComoSVC", SINGERS,
                        medians=MEDIANS)
    tiny_svc_experiment(runtime, user / "amphion.diffcomo_svc" / "como-student", "DiffComoSVC", SINGERS,
                        medians=MEDIANS, distill=True)
    tiny_svc_experiment(runtime, user / "amphion.transformer_svc" / "transformer-bin", "TransformerSVC", SINGERS,
                        medians=MEDIANS, safetensors=False)  # accelerate's pytorch_model.bin form
    tiny_svc_experiment(runtime, user / "amphion.vits_svc" / "vits", "VitsSVC", SINGERS, medians=MEDIANS)
    return SvcAssets(root / "released", root / "bigvgan", root / "contentvec",
                     tiny_whisper(root / "whisper" / "medium.pt"), user)


@pytest.fixture
def svc(svc_assets: SvcAssets, fake_hub: FakeHub, studio_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """Started services with the Amphion checkout, the hub holding the released checkpoints, Whisper in its cache."""
    monkeypatch.setenv("AMPHION_ROOT", str(amphion_checkout()))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg" / "whisper").mkdir(parents=True)
    shutil.copy(svc_assets.whisper, tmp_path / "xdg" / "whisper" / "medium.pt")
    fake_hub.add_folder("amphion/singing_voice_conversion", svc_assets.released)
    fake_hub.add_folder("amphion/BigVGAN_singing_bigdata", svc_assets.bigvgan)
    fake_hub.add_folder("LukeJacob2023/ContentVec", svc_assets.contentvec)
    services = build_services(Settings.load())
    services.start()
    yield services
    services.stop()


def user_checkpoint(assets: SvcAssets, home: Path, engine_id: str, name: str) -> Path:
    target = home / "checkpoints" / engine_id / name
    shutil.copytree(assets.user / engine_id / name, target)
    return target


def run_job(services: Services, task: str, engine_id: str, clips: dict[str, Path], params: dict[str, Any],
            timeout: float = 300) -> tuple[JobInfo, list[str]]:
    """Upload the clips (slot -> file), convert with `engine_id`; the finished job and every stage its engine
    reported (recorded at the engine, so fast stages are not missed between two looks at the job)."""
    with stages_reported(services.registry.get(engine_id)) as stages:
        uploads = {slot: services.uploads.store_file(path).id for slot, path in clips.items()}
        source = uploads.pop("source")
        job = services.conversion.submit(task, source, engine_id=engine_id, inputs=uploads, params=params)
        return services.jobs.wait(job.id, timeout), stages


def audio_of(services: Services, job: JobInfo) -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(services.generation.audio_path(job)), dtype="float32")
    return data, rate
