"""Tiny Vevo and Vevo1.5 checkpoints, and tiny HuBERT / Whisper encoders where torchaudio and openai-whisper look.

The models are Amphion's own classes, built through the pipelines' own `build_*` functions with small sizes
and saved as the hub repositories amphion/Vevo and amphion/Vevo1.5 lay them out: accelerate checkpoint folders
holding `model.safetensors` and nothing else, and Vevo's content tokenizer as the `.pkl` its pipeline
`torch.load`s (with the `.yaml` and statistics the hub keeps beside it). Hub repositories carry no model
configs: Amphion, and so the engines, read them from its source tree (`models/vc/vevo/config`,
`models/svc/vevosing/config`). The tiny sizes therefore live there, in a mirror of the checkout
(tests/amphion_checkout.py): each stock config is rewritten as itself with the small sizes merged in, and the
statistics files the configs name are replaced by ones of the tiny feature size. The engines load the tiny
repositories exactly as they load the real ones.

The encoders keep the real loading calls: `torchaudio.pipelines.HUBERT_LARGE.get_model()` reads
`<TORCH_HOME>/hub/checkpoints/hubert_fairseq_large_ll60k.pth` (the bundle is replaced by one with tiny
architecture parameters, same file), and `whisper.load_model("medium")` reads `<cache>/whisper/medium.pt` and
checks its SHA-256 against the model URL (whose hash part is replaced by the tiny file's).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
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


# -- the stock configs, small ---------------------------------------------------------------------------------

VEVO_CONFIGS = "models/vc/vevo/config"
VEVO15_CONFIGS = "models/svc/vevosing/config"
VEVO15_VARIANTS = ("singnet7k", "sing0.4k")
MIRROR_MARK = ".tiny-vevo-configs"  # in a mirror whose stock configs were replaced by the tiny ones

SMALL_FM = {"mel_dim": MELS, "hidden_size": 16, "num_layers": 1, "num_heads": 2}
SMALL_VOCODER = {"preprocess": {"num_mels": MELS},
                 "model": {"vocos": {"input_channels": MELS, "dim": 16, "intermediate_dim": 32, "num_layers": 1}}}
SMALL_REPCODEC = {"codebook_size": CONTENT_STYLE_CODES, "hidden_size": FEATURES, **SMALL_VOCOS}
SMALL_COCO = {"codebook_size": CONTENT_STYLE_CODES, "hidden_size": 16, "encoder": SMALL_VOCOS, "whisper_dim": FEATURES}
# Vevo-TTS's AR gets the global style encoder its class offers (the released model has none), so that the
# global-guided mode, which needs one, can run too
SMALL_GLOBAL_STYLE = {"use_global_style_encoder": True, "global_style_encoder": {
    "input_dim": 128, "hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1}}

VEVO_SIZES: dict[str, dict[str, Any]] = {
    "Vq8192ToMels.json": {"preprocess": {"num_mels": MELS}, "model": {
        "flow_matching_transformer": {**SMALL_FM, "cond_dim": FEATURES, "cond_codebook_size": CONTENT_STYLE_CODES},
        "repcodec": SMALL_REPCODEC}},
    "Vocoder.json": SMALL_VOCODER,
    "Vq32ToVq8192.json": {"model": {
        "autoregressive_transformer": {"output_vocab_size": CONTENT_STYLE_CODES, **SMALL_LLAMA},
        "output_repcodec": SMALL_REPCODEC}},
    "PhoneToVq8192.json": {"model": {
        "autoregressive_transformer": {"output_vocab_size": CONTENT_STYLE_CODES, **SMALL_LLAMA, **SMALL_GLOBAL_STYLE},
        "output_repcodec": SMALL_REPCODEC}},
}
VEVO15_SIZES: dict[str, dict[str, Any]] = {
    "vocoder.json": SMALL_VOCODER,
    **{f"fm_emilia101k_{variant}.json": {"preprocess": {"num_mels": MELS}, "model": {
        "flow_matching_transformer": {**SMALL_FM, "cond_codebook_size": CONTENT_STYLE_CODES}, "coco": SMALL_COCO}}
       for variant in VEVO15_VARIANTS},
    **{f"ar_emilia101k_{variant}.json": {"model": {
        "autoregressive_transformer": {"style_vocab_size": PROSODY_CODES,
                                       "content_style_vocab_size": CONTENT_STYLE_CODES, **SMALL_LLAMA},
        "coco_style": {"codebook_size": PROSODY_CODES, "hidden_size": 16, "encoder": SMALL_VOCOS},
        "coco_content_style": SMALL_COCO}}
       for variant in VEVO15_VARIANTS},
}


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in, nested dictionaries key by key."""
    out = dict(base)
    for key, value in changes.items():
        both = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = merged(base[key], value) if both else value
    return out


def mirror_file(rt: Any, relative: str) -> Path:
    """A file of the checkout, unlinked for the caller to write anew. Only in a mirror made by complete_checkout
    (whose files link to the real checkout: writing through them would change it); a real checkout is refused."""
    path, mark = rt.path(relative), rt.root / MIRROR_MARK
    if path.exists() and not path.is_symlink() and not mark.exists():
        raise RuntimeError(f"{rt.root} is not a mirror made by tests.amphion_checkout.complete_checkout; its files "
                           f"are not to be replaced")
    mark.touch()
    path.unlink(missing_ok=True)
    return path


def shrink_config(rt: Any, relative: str, sizes: dict[str, Any]) -> dict[str, Any]:
    """Rewrite the stock config at `relative` as itself with `sizes` merged in; returns what was written."""
    import json5

    config = merged(json5.loads(rt.path(relative).read_text()), sizes)
    mirror_file(rt, relative).write_text(json.dumps(config, indent=1))
    return config


# -- checkpoints ------------------------------------------------------------------------------------------------


def save_accelerate_folder(model: Any, folder: Path) -> None:
    """model.safetensors as accelerate's save_state writes it."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: value.detach().clone().contiguous() for name, value in model.state_dict().items()}
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})


def emit_only_output_tokens(ar: Any, output_vocab: int, eos_token_id: int) -> Any:
    """Make a random AR transformer sample only what a trained one does: output tokens and its end token.

    Its Llama shares one vocabulary between input, output and special tokens, and random weights sample any of
    them, while the pipelines feed what comes out straight into the acoustic model's codebook. Every token
    embedding, and a global style encoder's output (last before the first new token when no prompt tokens
    follow it), gets a large constant first feature, which dominates the normalised final state, and the output
    head scores that feature up for the output tokens (ids 0 to output_vocab - 1) and the end token, down for the
    rest.
    """
    import torch

    with torch.no_grad():
        ar.model.model.embed_tokens.weight[:, 0] = 100.0
        if getattr(ar, "use_global_style_encoder", False):
            last = ar.global_encoder.output_mlp[-1]
            last.weight[0] = 0.0
            last.bias[0] = 100.0
        head = ar.model.lm_head.weight
        head[:, 0] = -5.0
        head[:output_vocab, 0] = 5.0
        head[eos_token_id, 0] = 5.0
    return ar


def build_vevo(rt: Any, root: Path) -> Path:
    """amphion/Vevo, tiny, under `root`, with the tiny configs written into the mirror `rt` runs on; returns the
    repository folder (serve it with FakeHub.add_folder)."""
    import torch
    import yaml

    repo = root / "Vevo"
    torch.manual_seed(SEED)
    stats = {"mean": np.random.default_rng(0).normal(0, 0.1, FEATURES).astype(np.float32),
             "std": np.ones(FEATURES, np.float32)}
    np.savez(mirror_file(rt, f"{VEVO_CONFIGS}/hubert_large_l18_mean_std.npz"), **stats)
    content_conf = yaml.safe_load(rt.path(f"{VEVO_CONFIGS}/hubert_large_l18_c32.yaml").read_text())
    content_conf.update(input_channels=FEATURES, output_channels=FEATURES, encode_channels=FEATURES,
                        decode_channels=FEATURES, code_dim=FEATURES)
    mirror_file(rt, f"{VEVO_CONFIGS}/hubert_large_l18_c32.yaml").write_text(yaml.safe_dump(content_conf))
    for name, sizes in VEVO_SIZES.items():
        shrink_config(rt, f"{VEVO_CONFIGS}/{name}", sizes)
    with rt.session():
        from models.codec.vevo.vevo_repcodec import VevoRepCodec
        from models.vc.vevo import vevo_utils as vevo

        def config(name: str) -> Any:
            return rt.load_config(rt.path(f"{VEVO_CONFIGS}/{name}.json"))

        # the content tokenizer (32 codes) as the pickle of the Vevo paper, its yaml and statistics beside it
        content = VevoRepCodec(**content_conf)
        content.quantizer.initial()
        vq32 = repo / "tokenizer/vq32"
        vq32.mkdir(parents=True, exist_ok=True)
        torch.save({"model": {"repcodec": content.state_dict()}}, vq32 / "hubert_large_l18_c32.pkl")
        (vq32 / "hubert_large_l18_c32.yaml").write_text(yaml.safe_dump(content_conf))
        np.savez(vq32 / "hubert_large_l18_mean_std.npz", **stats)

        acoustic = config("Vq8192ToMels")
        save_accelerate_folder(vevo.build_vqvae_model(acoustic.model.repcodec, "cpu"), repo / "tokenizer/vq8192")
        save_accelerate_folder(vevo.build_fmt_model(acoustic, "cpu"), repo / "acoustic_modeling/Vq8192ToMels")
        save_accelerate_folder(vevo.build_vocoder_model(config("Vocoder"), "cpu"), repo / "acoustic_modeling/Vocoder")
        for name in ("Vq32ToVq8192", "PhoneToVq8192"):
            ar = vevo.build_ar_model(config(name), "cpu")
            emit_only_output_tokens(ar, CONTENT_STYLE_CODES, ar.output_eos_token_id)
            save_accelerate_folder(ar, repo / f"contentstyle_modeling/{name}")
    return repo


def build_vevo15(rt: Any, root: Path) -> Path:
    """amphion/Vevo1.5, tiny (both variants of the AR and FM models), under `root`, with the tiny configs written
    into the mirror `rt` runs on; returns the repository folder."""
    import torch

    repo, work = root / "Vevo1.5", root / "Vevo1.5-build"
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    torch.save({"mean": torch.randn(FEATURES) * 0.1, "std": torch.ones(FEATURES)},
               mirror_file(rt, f"{VEVO15_CONFIGS}/whisper_stats.pt"))
    configs = {name: shrink_config(rt, f"{VEVO15_CONFIGS}/{name}", sizes) for name, sizes in VEVO15_SIZES.items()}
    with rt.session():
        from models.codec.coco.rep_coco_model import CocoContentStyle, CocoStyle
        from models.svc.vevosing import vevosing_utils as vevosing

        def config(name: str) -> Any:
            return rt.load_config(rt.path(f"{VEVO15_CONFIGS}/{name}.json"))

        # the tokenizers as trained, with the decoders the pipeline does not build
        model = configs[f"ar_emilia101k_{VEVO15_VARIANTS[0]}.json"]["model"]
        tokenizers = work / "tokenizers.json"
        tokenizers.write_text(json.dumps({"cs": {**model["coco_content_style"], "decoder": SMALL_VOCOS},
                                          "prosody": {**model["coco_style"], "decoder": SMALL_VOCOS}}))
        both = rt.load_config(tokenizers)
        save_accelerate_folder(CocoContentStyle(cfg=both.cs), repo / "tokenizer/contentstyle_fvq16384_12.5hz")
        save_accelerate_folder(CocoStyle(cfg=both.prosody), repo / "tokenizer/prosody_fvq512_6.25hz")
        save_accelerate_folder(vevosing.build_vocoder_model(config("vocoder"), "cpu"),
                               repo / "acoustic_modeling/Vocoder")
        for variant in VEVO15_VARIANTS:
            save_accelerate_folder(vevosing.build_fmt_model(config(f"fm_emilia101k_{variant}"), "cpu"),
                                   repo / f"acoustic_modeling/fm_emilia101k_{variant}")
            ar = vevosing.build_ar_model(config(f"ar_emilia101k_{variant}"), "cpu")
            emit_only_output_tokens(ar, CONTENT_STYLE_CODES, ar.content_style_eos_token_id)
            save_accelerate_folder(ar, repo / f"contentstyle_modeling/ar_emilia101k_{variant}")
    return repo


# -- what the tests need besides checkpoints ------------------------------------------------------------------


def tone(path: Path, seconds: float, hz: float, rate: int = 24_000, level: float = 0.3) -> Path:
    """A voiced-sounding test clip: a tone at `hz` with vibrato and a slow swell."""
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    wave = level * np.sin(2 * np.pi * hz * t + 2 * np.sin(2 * np.pi * 5 * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    sf.write(str(path), wave.astype(np.float32), rate)
    return path
