"""Tiny random-weight DualCodec-VALLE checkpoints, built with the `dualcodec` package's own classes (through its
hydra configs at toy sizes) and laid out as `amphion/dualcodec`, `amphion/dualcodec-tts` and
`facebook/w2v-bert-2.0` lay them out.

What the package fixes stays: the codec's 1920-sample hop (12.5 Hz), 16384 semantic and 4096 acoustic codes,
the AR vocabulary (Whisper's 51866 text tokens + speech tokens), and w2v-BERT features of width 1024 from
hidden_states[17] (the codec's semantic encoder and its latent take 1024 channels): the tiny w2v-BERT keeps 17 layers of
width 1024 and shrinks everything else (one attention head, feed-forward width 16, no relative positions).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

W2V = "facebook/w2v-bert-2.0"
CODEC = "amphion/dualcodec"
TTS = "amphion/dualcodec-tts"

CODEC_CONFIG = {"SAMPLE_RATE": 24000, "model": {
    "_target_": "dualcodec.model_codec.DualCodec", "sample_rate": "${..SAMPLE_RATE}",
    "encoder_rates": [4, 5, 6, 8, 2], "decoder_rates": [2, 8, 6, 5, 4], "encoder_dim": 4, "latent_dim": 1024,
    "decoder_dim": 64,
    "n_codebooks": 7, "quantizer_dropout": 1.0, "codebook_size": 4096, "semantic_codebook_size": 16384,
    "is_causal": True, "semantic_downsample_factor": 4, "convnext_dim": 16, "convnext_layers": 1}}
AR_CONFIG = {"vocab_size": 68260, "speech_vocab_size": 16384, "initial_offset": 10,
             "llama_cfg": {"_target_": "transformers.models.llama.modeling_llama.LlamaConfig",
                           "vocab_size": "${..vocab_size}", "hidden_size": 32, "intermediate_size": 64,
                           "num_hidden_layers": 1, "num_attention_heads": 2, "pad_token_id": 0, "bos_token_id": 1,
                           "eos_token_id": 2},
             "llm": {"_target_": "transformers.models.llama.modeling_llama.LlamaForCausalLM",
                     "config": "${..llama_cfg}"},
             "model": {"_target_": "dualcodec.model_tts.valle_ar.llama_wrapper.LLM", "llm": "${..llm}",
                       "config": "${..llama_cfg}", "speech_vocab_size": "${..speech_vocab_size}",
                       "initial_offset": "${..initial_offset}", "sep_token": 3}}
NAR_CONFIG = {"model": {"_target_": "dualcodec.model_tts.valle_nar.valle_nar_model.ValleNAR", "phone_vocab_size": 1,
                        "first_layer_vocab_size": 16384, "target_vocab_size": 4096, "pad_token_id": 4097,
                        "bos_target_id": 4099, "eos_target_id": 4100, "bos_prompt_id": 4101, "eos_prompt_id": 4102,
                        "bos_phone_id": 4103, "eos_phone_id": 4104, "hidden_size": 32, "intermediate_size": 64,
                        "num_hidden_layers": 1, "num_attention_heads": 2}}


def speech_only(ar: Any, words: int = 14) -> None:
    """A trained AR model emits speech tokens and ends; a random one samples text ids too (which the codec cannot
    decode) and never ends before the package's limit of 1000 tokens. So the tiny model's output layer is made to
    score `words` speech tokens alike, the end token a little lower (about one chance in 40 a step) and everything
    else far below: speech ends after a few dozen tokens (a few seconds), where the seed says. The token
    embeddings share one constant dimension, which alone feeds the output (the layers' output projections are
    zero), so the scores do not depend on the context.
    """
    import torch

    llm, dim = ar.llm, 0
    first = AR_CONFIG["initial_offset"]
    chosen = torch.randperm(AR_CONFIG["speech_vocab_size"], generator=torch.Generator().manual_seed(0))[:words]
    with torch.no_grad():
        for layer in llm.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        llm.model.embed_tokens.weight[:, dim] = 1.0
        llm.model.norm.weight.zero_()
        llm.model.norm.weight[dim] = 1.0
        llm.lm_head.weight.zero_()
        llm.lm_head.weight[chosen + first, dim] = 20.0
        llm.lm_head.weight[ar.eos_id, dim] = 19.8


def build_all(root: Path) -> dict[str, Path]:
    """{'configs': folder of the three yaml files, 'w2v', 'codec', 'tts': hub repository folders}."""
    import safetensors.torch
    import torch
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    from engines.amphion.dualcodec_valle import instantiate

    torch.manual_seed(0)
    folders = {name: root / name for name in ("configs", "w2v", "codec", "tts")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for name, config in (("dualcodec", CODEC_CONFIG), ("valle_ar", AR_CONFIG), ("valle_nar", NAR_CONFIG)):
        (folders["configs"] / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    w2v = Wav2Vec2BertConfig(hidden_size=1024, num_hidden_layers=17, num_attention_heads=1, intermediate_size=16,
                             conv_depthwise_kernel_size=3, output_hidden_size=1024, position_embeddings_type=None)
    Wav2Vec2BertModel(w2v).half().save_pretrained(str(folders["w2v"]))  # half: a 250 MB file instead of 500 MB
    SeamlessM4TFeatureExtractor().save_pretrained(str(folders["w2v"]))

    torch.save({"mean": torch.randn(1024) * 0.1, "var": torch.rand(1024) + 0.5},
               folders["codec"] / "w2vbert2_mean_var_stats_emilia.pt")
    codec = instantiate(folders["configs"] / "dualcodec.yaml")
    safetensors.torch.save_model(codec, str(folders["codec"] / "dualcodec_12hz_16384_4096.safetensors"))
    for name, file in (("valle_ar", "dualcodec_valle_ar_12hzv1.safetensors"),
                       ("valle_nar", "dualcodec_valle_nar_12hzv1.safetensors")):
        model = instantiate(folders["configs"] / f"{name}.yaml")
        if name == "valle_ar":
            speech_only(model)
        safetensors.torch.save_model(model.half(), str(folders["tts"] / file))  # the release is fp16
    return folders


CODEC_25HZ_CONFIG = {"SAMPLE_RATE": 24000, "model": {
    **CODEC_CONFIG["model"], "encoder_rates": [4, 5, 6, 8], "decoder_rates": [8, 6, 5, 4], "n_codebooks": 11,
    "codebook_size": 1024, "semantic_downsample_factor": 2}}


def add_25hz_codec(folders: dict[str, Path]) -> Path:
    """A toy 25 Hz DualCodec (the package's 25hz_v1 shape: 960-sample hop, 1 + 11 codebooks of 16384 and 1024) saved
    beside the 12.5 Hz one as amphion/dualcodec names it; returns the folder holding its dualcodec.yaml."""
    import safetensors.torch

    from engines.amphion.dualcodec_valle import instantiate

    configs = folders["configs"].parent / "configs-25hz"
    configs.mkdir(exist_ok=True)
    (configs / "dualcodec.yaml").write_text(yaml.safe_dump(CODEC_25HZ_CONFIG, sort_keys=False))
    codec = instantiate(configs / "dualcodec.yaml")
    safetensors.torch.save_model(codec, str(folders["codec"] / "dualcodec_25hz_16384_1024.safetensors"))
    return configs
