"""The parts MaskGCT and Metis share: w2v-BERT 2.0 features, the semantic and acoustic codecs, the
semantic-to-acoustic models, and per-step progress through Amphion's mask-predict loops.

Everything is built with Amphion's own builders (`models/tts/maskgct/maskgct_utils.py`) and loaded with
`safetensors.torch.load_model`, as Amphion does, from the studio's hub cache (`ensure`), never from the
`./models/tts/metis/ckpt` folder Amphion's scripts download into. The model source is a config: the stock one
in the checkout, or a fine-tune's (`config` param). A config may name its own w2v-BERT statistics under the
studio's key `"studio": {"semantic_stats": "file.pt"}` (relative to the config); the stock config uses the
checkout's `models/tts/maskgct/ckpt/wav2vec2bert_stats.pt`.
"""
from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..contract import AudioInput, EngineError, InvalidRequest, Param, Progress, Weights
from ..requirements import Readiness
from . import deps
from .base import AmphionEngine, g2p_files_missing
from .runtime import AmphionRuntime

REPO = "amphion/MaskGCT"
LICENSE = "CC-BY-NC-4.0"
STOCK_CONFIG = "models/tts/maskgct/config/maskgct.json"
STOCK_STATS = "models/tts/maskgct/ckpt/wav2vec2bert_stats.pt"
SAMPLE_RATE = 24_000
CHUNK_CHARS = 250  # text per generation, about 15-20 s of speech: trained on clips of up to 30 s, prompt included

SEMANTIC_CODEC = Weights("hub", REPO, ("semantic_codec/model.safetensors",), size_bytes=177_000_000, license=LICENSE,
                         label="MaskGCT semantic codec")
ACOUSTIC_CODEC = Weights("hub", REPO, ("acoustic_codec/model.safetensors", "acoustic_codec/model_1.safetensors"),
                         size_bytes=683_000_000, license=LICENSE, label="MaskGCT acoustic codec")
S2A = Weights("hub", REPO, ("s2a_model/s2a_model_1layer/model.safetensors",
                            "s2a_model/s2a_model_full/model.safetensors"),
              size_bytes=2_730_000_000, license=LICENSE, label="MaskGCT semantic-to-acoustic")
T2S = Weights("hub", REPO, ("t2s_model/model.safetensors",), size_bytes=2_800_000_000, license=LICENSE,
              label="MaskGCT text-to-semantic", note="size estimated from the architecture (about 700M parameters)")
CODEC_SETS = (deps.W2V_BERT_2, SEMANTIC_CODEC, ACOUSTIC_CODEC, S2A)  # what every MaskGCT-family engine needs
LANGUAGES = (("en", "English"), ("zh", "Chinese"), ("ja", "Japanese"), ("ko", "Korean"), ("fr", "French"),
             ("de", "German"))
LANGUAGE_CODES = tuple(code for code, _ in LANGUAGES)

CONFIG_PARAM_HELP = ("A fine-tune's own config (json, Amphion's format). Empty uses the stock config of your "
                     "Amphion checkout.")


def config_param(stock: str) -> Param:
    return Param("config", "text", "", label="Model config", advanced=True, affects_load=True,
                 help=f"{CONFIG_PARAM_HELP} Stock: {stock}.")


def seed_param() -> Param:
    return Param("seed", "seed", -1, help="The same seed and settings give the same audio; -1 draws a new one.")


class MaskGCTFamily(AmphionEngine):
    """MaskGCT and Metis: Amphion engines whose code imports the MaskGCT G2P, which needs the checkout's large
    G2P files; readiness names them when a checkout lacks them (a shallow export, an interrupted clone)."""

    def check(self) -> Readiness:
        return g2p_files_missing(self) or super().check()


# -- the model source ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSource:
    config: Path  # absolute
    stats: Path  # w2v-BERT feature statistics (mean, var) the semantic codec was trained with


def model_source(rt: AmphionRuntime, config: str, stock: str) -> ModelSource:
    """The config to build from (the user's or the checkout's stock one) and the statistics it names."""
    path = Path(config).expanduser() if config.strip() else rt.path(stock)
    if not path.is_file():
        raise EngineError(f"The model config {path} does not exist. Leave 'Model config' empty to use the stock "
                          f"one, or give the path of your fine-tune's config.")
    stats = rt.path(STOCK_STATS)
    try:
        own = json.loads(path.read_text()).get("studio", {}).get("semantic_stats")
    except (ValueError, AttributeError):
        own = None  # json5 with comments: Amphion's loader reads it; it names no statistics of its own
    if own:
        stats = path.parent / own
    if not stats.is_file():
        raise EngineError(f"The w2v-BERT statistics {stats} are missing. They come with Amphion's checkout "
                          f"({STOCK_STATS}); restore them with git checkout in {rt.root}.")
    return ModelSource(path.absolute(), stats)


# -- loading ------------------------------------------------------------------------------------------------------


@dataclass
class Codecs:
    """What turns audio into MaskGCT's tokens and back, with the w2v-BERT features they start from."""

    processor: Any  # SeamlessM4TFeatureExtractor
    semantic_model: Any  # Wav2Vec2BertModel
    semantic_mean: Any
    semantic_std: Any
    semantic_codec: Any  # RepCodec
    codec_encoder: Any
    codec_decoder: Any


def load_codecs(rt: AmphionRuntime, cfg: Any, source: ModelSource, folders: dict[Weights, Path], device: str,
                progress: Progress) -> Codecs:
    """w2v-BERT 2.0 with its statistics, and the semantic and acoustic codecs, as Amphion builds them."""
    import torch
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

    with rt.session():
        from models.tts.maskgct.maskgct_utils import build_acoustic_codec, build_semantic_codec

        progress(0.0, "Loading w2v-BERT 2.0")
        w2v = folders[deps.W2V_BERT_2]
        processor = SeamlessM4TFeatureExtractor.from_pretrained(str(w2v))
        semantic_model = Wav2Vec2BertModel.from_pretrained(str(w2v)).eval().to(device)
        stats = torch.load(str(source.stats), map_location="cpu")
        progress(0.4, "Loading the semantic codec")
        semantic_codec = build_semantic_codec(cfg.model.semantic_codec, device)
        rt.load_safetensors(semantic_codec, folders[SEMANTIC_CODEC] / "semantic_codec/model.safetensors")
        progress(0.6, "Loading the acoustic codec")
        encoder, decoder = build_acoustic_codec(cfg.model.acoustic_codec, device)
        rt.load_safetensors(encoder, folders[ACOUSTIC_CODEC] / "acoustic_codec/model.safetensors")
        rt.load_safetensors(decoder, folders[ACOUSTIC_CODEC] / "acoustic_codec/model_1.safetensors")
    return Codecs(processor, semantic_model, stats["mean"].to(device), torch.sqrt(stats["var"]).to(device),
                  semantic_codec, encoder, decoder)


def load_s2a(rt: AmphionRuntime, cfg: Any, folder: Path, device: str) -> tuple[Any, Any]:
    """The one-layer and the full semantic-to-acoustic models."""
    with rt.session():
        from models.tts.maskgct.maskgct_utils import build_s2a_model

        one_layer = build_s2a_model(cfg.model.s2a_model.s2a_1layer, device)
        full = build_s2a_model(cfg.model.s2a_model.s2a_full, device)
        rt.load_safetensors(one_layer, folder / "s2a_model/s2a_model_1layer/model.safetensors")
        rt.load_safetensors(full, folder / "s2a_model/s2a_model_full/model.safetensors")
    return one_layer, full


@dataclass
class Shared:
    """What a MaskGCT-family engine loads before its own model: the config, the local folders of its weight
    sets, the codecs (and Metis's AudioTokenizer over them) and the two semantic-to-acoustic models."""

    cfg: Any
    folders: dict[Weights, Path]
    codecs: Codecs
    audio_tokenizer: Any
    s2a_model_1layer: Any
    s2a_model_full: Any


def load_shared(engine: AmphionEngine, options: dict[str, Any] | None, stock: str, device: str,
                progress: Progress) -> Shared:
    """Downloads (0-50 %), then w2v-BERT and the codecs, then the semantic-to-acoustic models (to 80 %)."""
    rt = engine.runtime
    source = model_source(rt, (options or {}).get("config", ""), stock)
    cfg = rt.load_config(source.config)
    folders = fetch(engine.weights, progress.span(0.0, 0.5, "Weights"))
    codecs = load_codecs(rt, cfg, source, folders, device, progress.span(0.5, 0.7))
    with rt.session():
        from models.tts.metis.audio_tokenizer import AudioTokenizer
    tokenizer = assemble(AudioTokenizer, cfg=cfg, device=device, **vars(codecs))
    progress(0.7, "Loading the semantic-to-acoustic models")
    return Shared(cfg, folders, codecs, tokenizer, *load_s2a(rt, cfg, folders[S2A], device))


def fetch(sets: Sequence[Weights], progress: Progress) -> dict[Weights, Path]:
    """Every set's local folder, downloading what is missing (each with its share of `progress`)."""
    from engines.weights import ensure

    return {w: ensure(w, progress.span(i / len(sets), (i + 1) / len(sets))) for i, w in enumerate(sets)}


def assemble(cls: type, **attributes: Any) -> Any:
    """An instance of one of Amphion's pipeline classes with its parts set directly: their constructors
    download into the checkout and fetch w2v-BERT by hub id, which the studio does itself (catalog §8 #14)."""
    instance = cls.__new__(cls)
    instance.__dict__.update(attributes)
    return instance


# -- running ---------------------------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class StepCounter:
    """Reports each mask-predict step of Amphion's loops (a forward hook on the layer that makes the step's
    logits), so progress moves per step and a cancel lands between steps."""

    def __init__(self, progress: Progress, total: int, stage: str) -> None:
        self.progress, self.total, self.stage, self.done = progress, max(total, 1), stage, 0

    def __call__(self, *_: Any) -> None:
        self.done += 1
        self.progress(min(self.done / self.total, 1.0), f"{self.stage} (step {min(self.done, self.total)} of "
                                                        f"{self.total})")

    @contextmanager
    def counting(self, modules: Sequence[Any]) -> Iterator[StepCounter]:
        handles = [m.register_forward_hook(self) for m in modules]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()


def s2a_schedule(first: int, second: int, rest: int, layers: int) -> list[int]:
    """MaskGCT's per-layer steps: the first layer (the one-layer model), the second, and every later one."""
    return ([first, second] + [rest] * (layers - 2))[:layers]


@dataclass
class Reference:
    """A reference clip as the MaskGCT family reads it: 16 kHz audio, and its semantic codes [1, T] and acoustic
    codes [1, T, layers] on the model's device."""

    speech_16k: Any
    semantic: Any
    acoustic: Any
    notes: list[str]


def encode_reference(request: Any, slot: str, label: str, tokenizer: Any, device: Any) -> Reference:
    """The clip in `slot` read through the shared reader (mono, 24 kHz, silence refused) and encoded by
    `tokenizer` (Metis's AudioTokenizer, or one of its shape) through the voice prompt cache."""
    from studio.audio.io import resample

    from ..conversion_input import NO_VOICE_IN_IT, read_source
    from .prompt_codes import cached_tensors

    clip = read_source(audio_path(request.inputs[slot], label), SAMPLE_RATE, label, NO_VOICE_IN_IT)
    speech_16k = resample(clip.audio, SAMPLE_RATE, 16_000)
    semantic, acoustic = cached_tensors(
        request, [request.inputs[slot], "semantic and acoustic codes"],
        lambda: (tokenizer.wav2semantic(speech_16k)[0], tokenizer.wav2acoustic(clip.audio)), device)
    return Reference(speech_16k, semantic, acoustic, clip.notes)


def audio_path(value: Any, label: str) -> str:
    path = value.path if isinstance(value, AudioInput) else None
    if not path or not Path(path).is_file():
        raise InvalidRequest(f"{label}: the audio file is missing; add the clip again.")
    return path


def transcript_of(value: Any, label: str) -> str:
    """The clip's transcript (an AudioInput in a job, a dict when a request is validated), or InvalidRequest."""
    text = value.transcript if isinstance(value, AudioInput) else value.get("transcript") if isinstance(value, dict) \
        else None
    text = (text or "").strip()
    if not text:
        raise InvalidRequest(f"{label}: enter its transcript (exactly what the clip says), or press Transcribe.")
    return text


class DurationOfOnePart:
    """A target duration is the length of one generation: refused for text long enough to be spoken in parts."""

    def validate(self, inputs: dict[str, Any], params: dict[str, Any]) -> Any:
        request = super().validate(inputs, params)  # type: ignore[misc]
        limit = next(s.chunk_chars for s in self.inputs if s.name == "text")  # type: ignore[attr-defined]
        if request.params["target_duration"] > 0 and len(request.inputs["text"]) > limit:
            raise InvalidRequest(f"Target duration: set it only for text of up to {limit} characters (one part); "
                                 f"longer text is spoken in parts whose length is estimated. Set it to 0.")
        return request
