"""Chatterbox (chatterbox-tts 0.1.7), run inside the chatterbox-tts runtime by engines/isolated/worker.py.

Loading mirrors `ChatterboxTTS.from_local` / `ChatterboxMultilingualTTS.from_local` with the package's own
classes, with one difference: T3's Llama size is read from the checkpoint's tensor shapes instead of being
fixed to Llama_520M (for the real checkpoints it is exactly that), so fine-tunes of another size and tiny test
checkpoints load through the same calls. Synthesis follows `generate()` step by step, so the studio gets
progress between the stages (T3 sampling, S3Gen decoding, watermark) and can cancel there, and so the maximum
length is a parameter rather than the hard-coded 1000 tokens. Conditioning on a reference clip
(`prepare_conditionals`) is the `prompt` op: its Conditionals are saved to a file the studio caches, and `run`
loads them.
"""
from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path
from typing import Any

from engines.isolated.worker import InvalidRequest, Progress, on_each_call

DEFAULT_LLAMA = "Llama_520M"
SPEECH_TOKENS_PER_SECOND = 25
DECODABLE_TOKENS = 6561  # S3Gen embeds speech token ids below this (ChatterboxTTS drops the others; the multilingual
# model's generate() does not, and an id above would fail in S3Gen's embedding)


def versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in ("chatterbox-tts", "transformers", "torch")}


def llama_config_for(state: dict[str, Any]) -> str:
    """The name of a Llama config matching the checkpoint's shapes, registering one when it is not the stock size."""
    from chatterbox.models.t3.llama_configs import LLAMA_CONFIGS

    stock = LLAMA_CONFIGS[DEFAULT_LLAMA]
    hidden = state["text_emb.weight"].shape[1]
    layers = len({key.split(".")[2] for key in state if key.startswith("tfmr.layers.")})
    head_dim = stock["head_dim"]
    shape = {"hidden_size": hidden, "num_hidden_layers": layers,
             "intermediate_size": state["tfmr.layers.0.mlp.gate_proj.weight"].shape[0],
             "num_attention_heads": state["tfmr.layers.0.self_attn.q_proj.weight"].shape[0] // head_dim,
             "num_key_value_heads": state["tfmr.layers.0.self_attn.k_proj.weight"].shape[0] // head_dim}
    if all(stock[key] == value for key, value in shape.items()):
        return DEFAULT_LLAMA
    name = "studio_llama_" + "_".join(str(v) for v in shape.values())
    LLAMA_CONFIGS[name] = {**stock, **shape}
    return name


def load(device: str, options: dict[str, Any], weights: dict[str, str], progress: Progress) -> Any:
    import torch
    from safetensors.torch import load_file

    from chatterbox.models.s3gen import S3Gen
    from chatterbox.models.t3 import T3
    from chatterbox.models.t3.modules.t3_config import T3Config
    from chatterbox.models.voice_encoder import VoiceEncoder

    folder = Path(weights["model"])
    multilingual = options.get("model") == "multilingual"
    map_location = torch.device("cpu") if device in ("cpu", "mps") else None

    def state(name: str) -> dict[str, Any]:
        path = folder / name
        return load_file(path) if path.suffix == ".safetensors" else \
            torch.load(path, map_location=map_location, weights_only=True)

    progress(0.05, "Loading the voice encoder")
    voice_encoder = VoiceEncoder()
    voice_encoder.load_state_dict(state("ve.pt" if multilingual else "ve.safetensors"))
    voice_encoder.to(device).eval()

    progress(0.2, "Loading T3 (text to speech tokens)")
    t3_state = state("t3_mtl23ls_v2.safetensors" if multilingual else "t3_cfg.safetensors")
    if "model" in t3_state:
        t3_state = t3_state["model"][0]
    hp = T3Config.multilingual() if multilingual else T3Config.english_only()
    hp.llama_config_name = llama_config_for(t3_state)
    t3 = T3(hp)
    t3.load_state_dict(t3_state)
    t3.to(device).eval()

    progress(0.55, "Loading S3Gen (speech tokens to audio)")
    s3gen = S3Gen()
    s3gen.load_state_dict(state("s3gen.pt" if multilingual else "s3gen.safetensors"), strict=multilingual)
    s3gen.to(device).eval()

    progress(0.9, "Loading the tokenizer and the built-in voice")
    if multilingual:
        from chatterbox.mtl_tts import ChatterboxMultilingualTTS as Model, Conditionals

        tokenizer = multilingual_tokenizer(folder)
    else:
        from chatterbox.models.tokenizers import EnTokenizer
        from chatterbox.tts import ChatterboxTTS as Model, Conditionals

        tokenizer = EnTokenizer(str(folder / "tokenizer.json"))
    conds = None
    if (folder / "conds.pt").exists():
        conds = Conditionals.load(folder / "conds.pt", map_location=map_location or device).to(device)
    model = Model(t3, s3gen, voice_encoder, tokenizer, device, conds=conds)
    model.built_in_conds = conds  # model.conds changes with each reference
    return model


def multilingual_tokenizer(folder: Path) -> Any:
    """MTLTokenizer as `from_local` makes it, without the two downloads its Chinese converter attempts when it is
    made. It fetches Cangjie5_TC.json through the hub into a cache of its own, which the offline worker never
    has, and then leaves Chinese unconverted (every glyph an unknown token): the snapshot's copy is read instead,
    as its loader reads it. And pkuseg fetches its word segmentation model from GitHub, failing with an error
    the package does not catch: then Chinese is read without word segmentation, the package's own behaviour
    when pkuseg is not installed."""
    import json

    from chatterbox.models.tokenizers import MTLTokenizer
    from chatterbox.models.tokenizers import tokenizer as module

    converter = module.ChineseCangjieConverter
    original = converter._init_segmenter

    def init_segmenter(self: Any) -> None:
        try:
            original(self)
        except Exception as exc:  # a download failing, in whatever way requests reports it
            print(f"Chinese word segmentation is off: pkuseg could not load its model ({exc})", file=sys.stderr)
            self.segmenter = None

    converter._init_segmenter = init_segmenter
    try:
        tokenizer = MTLTokenizer(str(folder / "grapheme_mtl_merged_expanded_v1.json"))
    finally:
        converter._init_segmenter = original
    cangjie = tokenizer.cangjie_converter
    if not cangjie.word2cj and (folder / "Cangjie5_TC.json").is_file():
        for entry in json.loads((folder / "Cangjie5_TC.json").read_text(encoding="utf-8")):
            word, code = entry.split("\t")[:2]
            cangjie.word2cj[word] = code
            cangjie.cj2word.setdefault(code, []).append(word)
    return tokenizer


def conditionals(model: Any) -> Any:
    """The Conditionals class of the model's package module (English and multilingual each have theirs)."""
    if model.t3.hp.is_multilingual:
        from chatterbox.mtl_tts import Conditionals
    else:
        from chatterbox.tts import Conditionals
    return Conditionals


def prompt(model: Any, inputs: dict[str, Any], params: dict[str, Any], output: str, progress: Progress) -> None:
    """Condition on the reference clip (`prepare_conditionals`) and save the Conditionals to `output`."""
    progress(0.02, "Conditioning on the reference voice")
    model.prepare_conditionals(inputs["reference"]["path"], exaggeration=float(params["exaggeration"]))
    model.conds.save(output)


def run(model: Any, inputs: dict[str, Any], params: dict[str, Any], output: str, progress: Progress) -> dict[str, Any]:
    import random

    import numpy as np
    import soundfile
    import torch
    import torch.nn.functional as F

    from chatterbox.models.s3tokenizer import drop_invalid_tokens
    from chatterbox.models.t3.modules.cond_enc import T3Cond
    from chatterbox.tts import punc_norm

    multilingual = model.t3.hp.is_multilingual
    seed = int(params.get("seed", -1))
    if seed >= 0:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
    exaggeration = float(params["exaggeration"])
    reference = inputs.get("reference")
    progress(0.03, "Using the reference voice" if reference else "Using the built-in voice")
    if reference:
        model.conds = conditionals(model).load(reference["prompt"], map_location=model.device).to(model.device)
    elif model.built_in_conds is None:
        raise InvalidRequest("This checkpoint has no built-in voice: give a reference clip.")
    else:
        model.conds = model.built_in_conds
    if float(model.conds.t3.emotion_adv[0, 0, 0]) != exaggeration:
        cond = model.conds.t3
        model.conds.t3 = T3Cond(speaker_emb=cond.speaker_emb, cond_prompt_speech_tokens=cond.cond_prompt_speech_tokens,
                                emotion_adv=exaggeration * torch.ones(1, 1, 1)).to(device=model.device)

    text = punc_norm(inputs["text"])
    if multilingual:
        language = params.get("language", "en")
        tokens = model.tokenizer.text_to_tokens(text, language_id=language)
    else:
        tokens = model.tokenizer.text_to_tokens(text)
    unk = model.tokenizer.tokenizer.token_to_id("[UNK]")
    unknown = 0 if unk is None else int((tokens == unk).sum())  # characters the model cannot read
    tokens = tokens.to(model.device)
    tokens = torch.cat([tokens, tokens], dim=0)  # T3 samples a conditional and an unconditional row (CFG)
    tokens = F.pad(tokens, (1, 0), value=model.t3.hp.start_text_token)
    tokens = F.pad(tokens, (0, 1), value=model.t3.hp.stop_text_token)

    limit = int(params["max_new_tokens"])
    steps = int(params.get("flow_steps", 10))

    def sampling(step: int) -> None:
        progress(0.1 + 0.6 * min(step / limit, 1.0), f"Sampling speech: {step / SPEECH_TOKENS_PER_SECOND:.1f} s")

    def decoding(step: int) -> None:
        progress(0.7 + 0.25 * min(step / steps, 1.0), f"Decoding speech tokens to audio: step {step} of {steps}")

    progress(0.1, f"Sampling up to {limit} speech tokens ({limit / SPEECH_TOKENS_PER_SECOND:.0f} s)")
    with torch.inference_mode(), on_each_call(model.t3.tfmr, sampling), \
            on_each_call(model.s3gen.flow.decoder.estimator.time_mlp, decoding):  # once per flow step
        speech = model.t3.inference(t3_cond=model.conds.t3, text_tokens=tokens, max_new_tokens=limit,
                                    temperature=float(params["temperature"]), cfg_weight=float(params["cfg_weight"]),
                                    repetition_penalty=float(params["repetition_penalty"]),
                                    min_p=float(params["min_p"]), top_p=float(params["top_p"]))
        sampled = int(speech.shape[-1])
        speech = drop_invalid_tokens(speech[0])
        speech = speech[speech < DECODABLE_TOKENS]
        if speech.numel() == 0:
            raise InvalidRequest("The model produced no speech for this text; try another seed or temperature.")
        progress(0.7, f"Decoding {speech.numel()} speech tokens to audio")
        wav, _ = model.s3gen.inference(speech_tokens=speech.to(model.device), ref_dict=model.conds.gen,
                                       n_cfm_timesteps=steps)
        audio = wav.squeeze(0).detach().cpu().numpy()
    progress(0.95, "Adding the Perth watermark")  # as every Chatterbox output carries it
    audio = model.watermarker.apply_watermark(audio, sample_rate=model.sr)
    soundfile.write(output, np.asarray(audio, dtype=np.float32), model.sr, subtype="FLOAT")
    return {"sample_rate": model.sr, "extras": {"speech_tokens": int(speech.numel()), "sampled_tokens": sampled,
                                                "unknown_text_tokens": unknown, "seed": seed,
                                                "voice": "reference" if reference else "built-in"}}
