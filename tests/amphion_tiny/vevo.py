"""Tiny Vevo and Vevo1.5 checkpoints, and tiny HuBERT / Whisper encoders where torchaudio and openai-whisper look.

The models are Amphion's own classes (built through the pipelines' own `build_*` functions from a config) with
small sizes, saved as the hub repositories amphion/Vevo and amphion/Vevo1.5 lay them out: accelerate checkpoint
folders holding `model.safetensors`, and Vevo's content tokenizer as the `.pkl` its pipeline `torch.load`s.
Hub repositories carry no configs (Amphion reads them from its source tree), so each tiny model folder carries
its own as `config.json`, which the engines prefer over the stock one; the statistics files the configs name
live beside the repository, as Amphion's do beside its configs.

The encoders keep the real loading calls: `torchaudio.pipelines.HUBERT_LARGE.get_model()` reads
`<TORCH_HOME>/hub/checkpoints/hubert_fairseq_large_ll60k.pth` (the bundle is replaced by one with tiny
architecture parameters, same file), and `whisper.load_model("medium")` reads `<cache>/whisper/medium.pt` and
checks its SHA-256 against the model URL (whose hash part is replaced by the tiny file's).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import types
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = 16  # the tiny HuBERT's and Whisper encoder's feature size (1024 in the real ones)
MELS = 16  # mel bins of the tiny acoustic models (128 in the real ones)
CONTENT_STYLE_CODES = 64  # content-style codebook (8192 in Vevo, 16384 in Vevo1.5)
PROSODY_CODES = 32  # Vevo1.5 prosody codebook (512)
SMALL_LLAMA = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
SMALL_VOCOS = {"vocos_dim": 16, "vocos_intermediate_dim": 32, "vocos_num_layers": 1}
SEED = 1234

TINY_HUBERT: dict[str, Any] = {
    "extractor_mode": "layer_norm",
    "extractor_conv_layer_config": [(8, 10, 5), (8, 3, 2), (8, 3, 2), (8, 3, 2), (8, 3, 2), (8, 2, 2), (8, 2, 2)],
    "extractor_conv_bias": False, "encoder_embed_dim": FEATURES, "encoder_projection_dropout": 0.0,
    "encoder_pos_conv_kernel": 16, "encoder_pos_conv_groups": 4,
    "encoder_num_layers": 18,  # Vevo reads layer 18
    "encoder_num_heads": 2, "encoder_attention_dropout": 0.0, "encoder_ff_interm_features": 32,
    "encoder_ff_interm_dropout": 0.0, "encoder_dropout": 0.0, "encoder_layer_norm_first": True,
    "encoder_layer_drop": 0.0, "aux_num_out": None,
}
WHISPER_URL = "https://openaipublic.azureedge.net/main/whisper/models/{sha}/medium.pt"

PREPROCESS_24K = {"hop_size": 480, "sample_rate": 24000, "n_fft": 1920, "num_mels": MELS, "win_size": 1920,
                  "fmin": 0, "fmax": 12000, "mel_var": 8.14, "mel_mean": -4.92}
VOCODER = {"preprocess": PREPROCESS_24K,
           "model": {"vocos": {"input_channels": MELS, "dim": 16, "intermediate_dim": 32, "num_layers": 1,
                               "n_fft": 1920, "hop_size": 480, "padding": "same"}}}


# -- the extra pretrained encoders ---------------------------------------------------------------------------------


def install_tiny_hubert(torch_home: Path) -> Any:
    """Write a tiny HuBERT where torchaudio's HUBERT_LARGE bundle loads from; returns the bundle to patch in."""
    import torch
    import torchaudio

    torch.manual_seed(SEED)
    model = torchaudio.models.wav2vec2_model(**TINY_HUBERT)
    target = torch_home / "hub" / "checkpoints" / torchaudio.pipelines.HUBERT_LARGE._path
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), target)
    return dataclasses.replace(torchaudio.pipelines.HUBERT_LARGE, _params=TINY_HUBERT)


def install_tiny_whisper(whisper_cache: Path) -> str:
    """Write a tiny Whisper as `medium.pt`; returns the model URL whose checksum part matches it."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(SEED)
    # openai-whisper reshapes medium's alignment heads to (24, 16): the text decoder keeps that shape
    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=FEATURES, n_audio_head=2, n_audio_layer=1,
                           n_vocab=64, n_text_ctx=8, n_text_state=16, n_text_head=16, n_text_layer=24)
    target = whisper_cache / "medium.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": dataclasses.asdict(dims), "model_state_dict": Whisper(dims).state_dict()}, target)
    return WHISPER_URL.format(sha=hashlib.sha256(target.read_bytes()).hexdigest())


# -- checkpoints ------------------------------------------------------------------------------------------------


def save_accelerate_folder(model: Any, folder: Path, config: dict[str, Any] | None = None) -> None:
    """model.safetensors as accelerate's save_state writes it, plus the tiny config when given."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: value.detach().clone().contiguous() for name, value in model.state_dict().items()}
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config, indent=1))


def emit_only_output_tokens(ar: Any, output_vocab: int, eos_token_id: int) -> Any:
    """Make a random AR transformer sample only what a trained one does: output tokens and its end token.

    Its Llama shares one vocabulary between input, output and special tokens, and random weights sample any of
    them, while the pipelines feed what comes out straight into the acoustic model's codebook. Every token
    embedding gets a large constant first feature, which dominates the normalised final state, and the output
    head scores that feature up for the output tokens (ids 0 to output_vocab - 1) and the end token, down for
    the rest.
    """
    import torch

    with torch.no_grad():
        ar.model.model.embed_tokens.weight[:, 0] = 100.0
        head = ar.model.lm_head.weight
        head[:, 0] = -5.0
        head[:output_vocab, 0] = 5.0
        head[eos_token_id, 0] = 5.0
    return ar


def _built(rt: Any, config: dict[str, Any], path: Path, build: Any, section: str | None = None) -> Any:
    """Write `config` to `path`, load it with Amphion's load_config and build the model from it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=1))
    cfg = rt.load_config(path)
    return build(getattr(cfg.model, section) if section else cfg, "cpu")


def build_vevo(root: Path, rt: Any) -> Path:
    """amphion/Vevo, tiny: returns the repository folder (serve it with FakeHub.add_folder)."""
    import torch
    import yaml

    repo, side = root / "Vevo", root / "Vevo-configs"
    side.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    stats = side / "hubert_large_l18_mean_std.npz"
    np.savez(stats, mean=np.random.default_rng(0).normal(0, 0.1, FEATURES).astype(np.float32),
             std=np.ones(FEATURES, np.float32))
    content_style = {"codebook_size": CONTENT_STYLE_CODES, "hidden_size": FEATURES, "codebook_dim": 8,
                     **SMALL_VOCOS}
    fm_config = {"model_type": "FlowMatchingTransformer", "preprocess": PREPROCESS_24K,
                 "model": {"flow_matching_transformer": {
                     "mel_dim": MELS, "hidden_size": 16, "num_layers": 1, "num_heads": 2, "cfg_scale": 0.2,
                     "use_cond_code": True, "cond_dim": FEATURES, "cond_codebook_size": CONTENT_STYLE_CODES,
                     "cond_scale_factor": 1, "sigma": 1e-5, "time_scheduler": "cos"},
                     "cond_type": "hubert_codec", "cond_sample_rate": 16000,
                     "representation_stat_mean_var_path": str(stats), "repcodec": content_style}}
    with rt.session():
        from models.codec.vevo.vevo_repcodec import VevoRepCodec
        from models.vc.vevo import vevo_utils as vevo

        # content tokenizer (32 codes): the yaml its AR config names, and the pickle of the Vevo paper
        conf = yaml.safe_load((rt.path("models/vc/vevo/config/hubert_large_l18_c32.yaml")).read_text())
        conf.update(input_channels=FEATURES, output_channels=FEATURES, encode_channels=FEATURES,
                    decode_channels=FEATURES, code_dim=FEATURES)
        content_yaml = side / "hubert_large_l18_c32.yaml"
        content_yaml.write_text(yaml.safe_dump(conf))
        content = VevoRepCodec(**conf)
        content.quantizer.initial()
        (repo / "tokenizer/vq32").mkdir(parents=True, exist_ok=True)
        torch.save({"model": {"repcodec": content.state_dict()}}, repo / "tokenizer/vq32/hubert_large_l18_c32.pkl")
        (repo / "tokenizer/vq32/hubert_large_l18_c32.yaml").write_text(content_yaml.read_text())

        fm_path = side / "Vq8192ToMels.json"
        save_accelerate_folder(_built(rt, fm_config, fm_path, vevo.build_vqvae_model, "repcodec"),
                               repo / "tokenizer/vq8192")
        save_accelerate_folder(_built(rt, fm_config, fm_path, vevo.build_fmt_model),
                               repo / "acoustic_modeling/Vq8192ToMels", fm_config)
        save_accelerate_folder(_built(rt, VOCODER, side / "Vocoder.json", vevo.build_vocoder_model),
                               repo / "acoustic_modeling/Vocoder", VOCODER)
        for name, input_vocab, conversion in (("Vq32ToVq8192", 1056, True), ("PhoneToVq8192", 1024, False)):
            model: dict[str, Any] = {
                "autoregressive_transformer": {"input_vocab_size": input_vocab,
                                               "output_vocab_size": CONTENT_STYLE_CODES,
                                               **SMALL_LLAMA, "use_global_style_encoder": False},
                "train_both_vc_and_tts": conversion, "vc_input_token_type": "hubert_vevo_codec",
                "vc_input_vocab_size": 32, "tts_input_token_type": "g2p", "tts_input_vocab_size": 1024,
                "output_token_type": "hubert_codec", "representation_stat_mean_var_path": str(stats),
                "output_repcodec": content_style}
            if conversion:
                model["input_repcodec"] = {"config_path": str(content_yaml)}
            ar_config = {"model_type": "AutoregressiveTransformer",
                         "preprocess": {**PREPROCESS_24K, "hop_size": 320, "sample_rate": 16000},
                         "model": model}
            ar = _built(rt, ar_config, side / f"{name}.json", vevo.build_ar_model)
            emit_only_output_tokens(ar, CONTENT_STYLE_CODES, ar.output_eos_token_id)
            save_accelerate_folder(ar, repo / f"contentstyle_modeling/{name}", ar_config)
    return repo


VEVO15_VARIANTS = ("singnet7k", "sing0.4k")


def build_vevo15(root: Path, rt: Any) -> Path:
    """amphion/Vevo1.5, tiny (both AR and FM variants): returns the repository folder."""
    import torch

    repo, side = root / "Vevo1.5", root / "Vevo1.5-configs"
    side.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    whisper_stats = side / "whisper_stats.pt"
    torch.save({"mean": torch.randn(FEATURES) * 0.1, "std": torch.ones(FEATURES)}, whisper_stats)
    vocos = {"vocos_dim": 16, "vocos_intermediate_dim": 32, "vocos_num_layers": 1}
    content_style = {"coco_type": "content_style", "downsample_rate": 4, "codebook_size": CONTENT_STYLE_CODES,
                     "hidden_size": 16, "codebook_dim": 8, "encoder": vocos, "decoder": vocos,
                     "use_normed_whisper": True, "whisper_stats_path": str(whisper_stats),
                     "whisper_dim": FEATURES, "chromagram_dim": 24}
    prosody = {"coco_type": "style", "downsample_rate": 8, "codebook_size": PROSODY_CODES, "hidden_size": 16,
               "codebook_dim": 8, "encoder": vocos, "decoder": vocos, "chromagram_dim": 24}
    preprocess = {**PREPROCESS_24K, "f0_fmin": 50.0, "f0_fmax": 1100.0}
    with rt.session():
        from models.codec.coco.rep_coco_model import CocoContentStyle, CocoStyle
        from models.svc.vevosing import vevosing_utils as vevosing

        # tokenizers as trained (with their decoders); the pipeline builds only their quantizer halves
        cfg = rt.load_config(_written(side / "tokenizers.json", {"cs": content_style, "prosody": prosody}))
        save_accelerate_folder(CocoContentStyle(cfg=cfg.cs), repo / "tokenizer/contentstyle_fvq16384_12.5hz")
        save_accelerate_folder(CocoStyle(cfg=cfg.prosody), repo / "tokenizer/prosody_fvq512_6.25hz")
        save_accelerate_folder(_built(rt, VOCODER, side / "vocoder.json", vevosing.build_vocoder_model),
                               repo / "acoustic_modeling/Vocoder", VOCODER)
        for variant in VEVO15_VARIANTS:
            fm_config = {"preprocess": preprocess, "model": {
                "flow_matching_transformer": {"mel_dim": MELS, "hidden_size": 16, "num_layers": 1, "num_heads": 2,
                                              "cfg_scale": 0.2, "use_cond_code": True,
                                              "cond_codebook_size": CONTENT_STYLE_CODES, "cond_scale_factor": 4,
                                              "sigma": 1e-5, "time_scheduler": "cos"},
                "cond_sample_rate": 16000, "coco": content_style}}
            name = f"fm_emilia101k_{variant}"
            save_accelerate_folder(_built(rt, fm_config, side / f"{name}.json", vevosing.build_fmt_model),
                                   repo / f"acoustic_modeling/{name}", fm_config)
            ar_config = {"preprocess": preprocess, "model": {
                "autoregressive_transformer": {"content_vocab_size": 1024, "style_vocab_size": PROSODY_CODES,
                                               "content_style_vocab_size": CONTENT_STYLE_CODES, **SMALL_LLAMA},
                "cond_sample_rate": 16000, "train_both_conversion_and_synthesis": False,
                "train_only_conversion": False, "train_only_synthesis": True,
                "use_content_tokens_as_input": False, "use_style_tokens_as_input": True,
                "coco_style": prosody, "coco_content_style": content_style}}
            name = f"ar_emilia101k_{variant}"
            ar = _built(rt, ar_config, side / f"{name}.json", vevosing.build_ar_model)
            emit_only_output_tokens(ar, CONTENT_STYLE_CODES, ar.content_style_eos_token_id)
            save_accelerate_folder(ar, repo / f"contentstyle_modeling/{name}", ar_config)
    return repo


def _written(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=1))
    return path


# -- what the tests need besides checkpoints ------------------------------------------------------------------


def tone(path: Path, seconds: float, hz: float, rate: int = 24_000, level: float = 0.3) -> Path:
    """A voiced-sounding test clip: a tone at `hz` with vibrato and a slow swell."""
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    wave = level * np.sin(2 * np.pi * hz * t + 2 * np.sin(2 * np.pi * 5 * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    sf.write(str(path), wave.astype(np.float32), rate)
    return path


def stand_in_phonemizer() -> types.ModuleType:
    """A module to put in sys.modules as Amphion's G2P where the checkout lacks its model files: letters to
    deterministic phone ids below 1024 (the AR models' phone vocabulary)."""
    def g2p(text: str, language: str) -> tuple[str, list[int]]:
        letters = [c for c in text.lower() if c.isalpha()]
        return "".join(letters), [1 + (ord(c) * 7 + len(language)) % 1000 for c in letters]

    module = types.ModuleType("models.tts.maskgct.g2p.g2p_generation")
    module.g2p = lambda text, sentence=None, language="en": g2p(text, language)  # type: ignore[attr-defined]
    module.chn_eng_g2p = lambda text: g2p(text, "en")  # type: ignore[attr-defined]
    return module
