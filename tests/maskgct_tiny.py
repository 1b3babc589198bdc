"""Tiny random-weight MaskGCT and Metis checkpoints, built with Amphion's own classes from the checkout in
AMPHION_ROOT and laid out as the hub repositories `amphion/MaskGCT`, `amphion/metis` and
`facebook/w2v-bert-2.0` lay them out (safetensors files in the same folders, under the same names).

The architecture is the stock one at toy sizes (hidden 32, one transformer layer), except what Amphion's code
fixes: 17 w2v-BERT layers (features come from hidden_states[17]), 12 acoustic codebooks (`n_quantizers=12`)
and the codec's 480-sample hop. (The stock config spells the decoder's input width `in_channel`, which the decoder ignores for its
default 256, the encoder's output; the tiny one sets `in_channels` to its encoder's 16.) The acoustic decoder keeps its Vocos head and so its hann-window buffers,
which `safetensors.torch.load_model` refuses on torch >= 2.13 without the studio's fix.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

HIDDEN = 32
W2V = "facebook/w2v-bert-2.0"
MASKGCT = "amphion/MaskGCT"
METIS = "amphion/metis"
LORA = {"lora_r": 4, "lora_alpha": 8}

T2S = {"hidden_size": HIDDEN, "num_layers": 1, "num_heads": 2, "cfg_scale": 0.15, "cond_codebook_size": 64,
       "cond_dim": HIDDEN}
S2A = {"hidden_size": HIDDEN, "num_layers": 1, "num_heads": 2, "codebook_size": 16, "cfg_scale": 0.15,
       "mask_layer_schedule": "linear", "cond_codebook_size": 64, "cond_dim": HIDDEN}
CONFIG: dict[str, Any] = {
    "model": {
        "t2s_model": T2S,
        "s2a_model": {"s2a_1layer": {**S2A, "num_quantizer": 1, "predict_layer_1": True},
                      "s2a_full": {**S2A, "num_quantizer": 12, "predict_layer_1": False}},
        "semantic_codec": {"codebook_size": 64, "hidden_size": HIDDEN, "codebook_dim": 8, "vocos_dim": 16,
                           "vocos_intermediate_dim": 32, "vocos_num_layers": 1},
        "acoustic_codec": {
            "encoder": {"d_model": 4, "up_ratios": [3, 4, 5, 8], "out_channels": 16, "use_tanh": False},
            "decoder": {"in_channel": 16, "in_channels": 16, "upsample_initial_channel": 16, "up_ratios": [8, 5, 4, 3],
                        "num_quantizers": 12, "codebook_size": 16, "codebook_dim": 8, "quantizer_type": "fvq",
                        "quantizer_dropout": 0.5, "commitment": 0.25, "codebook_loss_weight": 1.0,
                        "use_l2_normlize": True, "codebook_type": "euclidean", "kmeans_init": False,
                        "kmeans_iters": 10, "decay": 0.8, "eps": 0.5, "threshold_ema_dead_code": 2,
                        "weight_init": False, "use_vocos": True, "vocos_dim": 16, "vocos_intermediate_dim": 32,
                        "vocos_num_layers": 1, "n_fft": 1920, "hop_size": 480, "padding": "same"},
        },
    },
    "studio": {"semantic_stats": "wav2vec2bert_stats.pt"},
}
# Metis configs: the stock ones' differences from base.json (tts.json, ft.json, se.json, tse.json)
METIS_T2S = {"tts": {"use_phone_cond": True}, "vc": {"use_phone_cond": False},
             "se": {"use_phone_cond": False, "use_lora": True, **LORA},
             "tse": {"use_phone_cond": False, "use_lora": True, **LORA}}


def reference_clip(path: Path, seconds: float = 2.0, rate: int = 24_000, pitch: float = 150.0) -> Path:
    """A voiced, speech-like clip (a harmonic tone with a syllable-rate envelope)."""
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 6))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    sf.write(str(path), (0.2 * voice * envelope).astype(np.float32), rate)
    return path


def write_configs(folder: Path) -> dict[str, Path]:
    """The tiny MaskGCT config and one per Metis task, all naming the tiny w2v-BERT statistics."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"mean": torch.randn(HIDDEN) * 0.1, "var": torch.rand(HIDDEN) + 0.5}, folder / "wav2vec2bert_stats.pt")
    paths = {"maskgct": folder / "maskgct.json"}
    paths["maskgct"].write_text(json.dumps(CONFIG, indent=1))
    for task, extra in METIS_T2S.items():
        config = json.loads(json.dumps(CONFIG))
        config["model"]["t2s_model"].update(extra)
        paths[task] = folder / f"metis_{task}.json"
        paths[task].write_text(json.dumps(config, indent=1))
    return paths


def _save(module: Any, path: Path) -> None:
    import safetensors.torch

    from engines.amphion.traps import own_storage

    path.parent.mkdir(parents=True, exist_ok=True)
    own_storage(module)  # saving refuses window views too
    safetensors.torch.save_model(module, str(path))


def _randomise(module: Any, seed: int) -> None:
    """Random values everywhere (zero-initialised LoRA B and adapter gates included), so every part matters."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if "lora_B" in name or "gate_scale" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)


def build_w2v_bert(folder: Path) -> Path:
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    config = Wav2Vec2BertConfig(hidden_size=HIDDEN, num_hidden_layers=17, num_attention_heads=2,
                                intermediate_size=32, conv_depthwise_kernel_size=3, output_hidden_size=HIDDEN,
                                position_embeddings_type=None)
    Wav2Vec2BertModel(config).save_pretrained(str(folder))
    SeamlessM4TFeatureExtractor().save_pretrained(str(folder))
    return folder


def build_maskgct(rt: Any, config: Path, folder: Path) -> Path:
    """amphion/MaskGCT: both codecs, T2S and both S2A models."""
    import torch

    torch.manual_seed(0)
    cfg = rt.load_config(config)
    with rt.session():
        from models.tts.maskgct.maskgct_utils import (build_acoustic_codec, build_s2a_model, build_semantic_codec,
                                                      build_t2s_model)

        _save(build_semantic_codec(cfg.model.semantic_codec, "cpu"), folder / "semantic_codec/model.safetensors")
        encoder, decoder = build_acoustic_codec(cfg.model.acoustic_codec, "cpu")
        _save(encoder, folder / "acoustic_codec/model.safetensors")
        _save(decoder, folder / "acoustic_codec/model_1.safetensors")
        _save(build_t2s_model(cfg.model.t2s_model, "cpu"), folder / "t2s_model/model.safetensors")
        _save(build_s2a_model(cfg.model.s2a_model.s2a_1layer, "cpu"),
              folder / "s2a_model/s2a_model_1layer/model.safetensors")
        _save(build_s2a_model(cfg.model.s2a_model.s2a_full, "cpu"),
              folder / "s2a_model/s2a_model_full/model.safetensors")
    return folder


def build_metis(rt: Any, configs: dict[str, Path], folder: Path) -> Path:
    """amphion/metis: the full VC model, the pre-trained base, and LoRA + adapter files for SE and TSE,
    extracted with Metis's own helpers as its release was."""
    import safetensors.torch
    import torch

    torch.manual_seed(1)
    with rt.session():
        from models.tts.metis.metis import (build_metis_stage1, build_metis_stage1_base, extract_adapter_weights,
                                            extract_lora_weights)

        vc = build_metis_stage1(rt.load_config(configs["vc"]).model.t2s_model, "cpu", "vc")
        _randomise(vc, 2)
        _save(vc, folder / "metis_vc/metis_vc.safetensors")
        base = build_metis_stage1_base(rt.load_config(configs["se"]).model.t2s_model, "cpu")
        _save(base, folder / "metis_base/model.safetensors")
        for seed, task in enumerate(("se", "tse"), 3):
            lora = build_metis_stage1(rt.load_config(configs[task]).model.t2s_model, "cpu", task)
            _randomise(lora, seed)
            files = {f"metis_{task}_lora_32.safetensors": extract_lora_weights(lora),
                     f"metis_{task}_lora_32_adapter.safetensors": extract_adapter_weights(lora)}
            for name, tensors in files.items():
                (folder / f"metis_{task}").mkdir(parents=True, exist_ok=True)
                safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()},
                                            str(folder / f"metis_{task}" / name))
    return folder


def build_all(rt: Any, root: Path) -> dict[str, Path]:
    """Every tiny repository and config under `root`: {'w2v', 'maskgct', 'metis', 'configs'/<task>...}."""
    configs = write_configs(root / "configs")
    return {"w2v": build_w2v_bert(root / "w2v-bert-2.0"), "maskgct": build_maskgct(rt, configs["maskgct"],
                                                                                    root / "MaskGCT"),
            "metis": build_metis(rt, configs, root / "metis"), **{f"config:{k}": v for k, v in configs.items()}}
