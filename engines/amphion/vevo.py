"""Vevo (amphion/Vevo): zero-shot voice imitation that treats timbre and speaking style as separate things.

Four modes, each its own engine, sharing one loader (`models/vc/vevo/vevo_utils.py::VevoInferencePipeline`):
- Vevo-Timbre: the reference's timbre on the source; the source's words, timing, accent and emotion kept
  (flow matching only).
- Vevo-Style: the reference's accent and emotion on the source; the source's words and timbre kept.
- Vevo-Voice: the reference's timbre and style; only the source's words kept.
- Vevo-TTS: text spoken in the style of a reference clip (with its transcript), optionally in another clip's timbre.

Style and Voice load the same models (an AR transformer turning 32-code content tokens into 8192-code
content-style tokens), so they share one loaded model. HuBERT-Large comes from torchaudio's bundle, fetched
by the weight manager into TORCH_HOME.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from ..contract import Aspect, AudioInput, InputSlot, Param, Progress, Request, Result, Weights
from ..requirements import Readiness, Requirements
from . import deps
from . import vevo_common as vc
from .base import AmphionEngine
from .runtime import checkout_root

REPO = "amphion/Vevo"
LICENCE = "CC-BY-NC-4.0"
TOKEN_RATE = 50.0  # content-style tokens a second (HuBERT frames at 16 kHz / 320)
STOCK_CONFIGS = "models/vc/vevo/config"
CONTENT_TOKENIZER = "tokenizer/vq32"
CONTENT_STYLE_TOKENIZER = "tokenizer/vq8192"
ACOUSTIC_MODEL = "acoustic_modeling/Vq8192ToMels"
VOCODER = "acoustic_modeling/Vocoder"
CONVERSION_AR = "contentstyle_modeling/Vq32ToVq8192"
TTS_AR = "contentstyle_modeling/PhoneToVq8192"

# sizes are estimates from each model's parameter count in float32 (the repository's acoustic_modeling folder
# totals 2.62 GB; the content tokenizer's pickle is 235 MB)
FOLDERS: dict[str, tuple[int, str]] = {
    CONTENT_TOKENIZER: (240_000_000, "Vevo content tokenizer (HuBERT, 32 codes)"),
    CONTENT_STYLE_TOKENIZER: (180_000_000, "Vevo content-style tokenizer (HuBERT, 8192 codes)"),
    ACOUSTIC_MODEL: (1_350_000_000, "Vevo flow-matching acoustic model"),
    VOCODER: (1_270_000_000, "Vevo vocoder (Vocos)"),
    CONVERSION_AR: (1_930_000_000, "Vevo AR transformer for conversion (content to content-style)"),
    TTS_AR: (2_970_000_000, "Vevo AR transformer for speech (phones to content-style)"),
}


def _weights(*folders: str) -> tuple[Weights, ...]:
    return tuple(vc.hub_folder(REPO, f, FOLDERS[f][0], FOLDERS[f][1], LICENCE) for f in folders) + (deps.HUBERT_LARGE,)


def _source(help_text: str, max_seconds: float = 60.0, carries: tuple[Aspect, ...] = ("content",)) -> InputSlot:
    return InputSlot("source", "audio", "Source speech", min_seconds=0.5, max_seconds=max_seconds,
                     sweet_spot=(2.0, 20.0), help=help_text, carries=carries)


def _reference(name: str, label: str, help_text: str, carries: tuple[Aspect, ...], *, required: bool = True,
               needs_transcript: bool = False) -> InputSlot:
    return InputSlot(name, "audio", label, required=required, min_seconds=1.0, max_seconds=30.0,
                     sweet_spot=(3.0, 12.0), needs_transcript=needs_transcript, help=help_text, carries=carries)


class _Vevo(AmphionEngine):
    """Shared loader and stages; subclasses choose the AR model (or none) and the run."""

    family = "Vevo"
    languages = vc.LANGUAGE_CODES  # trained on Emilia: English, Chinese, Japanese, Korean, French, German
    sample_rate = vc.SAMPLE_RATE
    license = LICENCE
    needs_transformers_4 = True
    requirements = Requirements(amphion=True, python=deps.VEVO_CONVERSION)
    ar_folder: ClassVar[str | None] = None
    stock_ar_config: ClassVar[str] = ""

    def validate(self, inputs: dict[str, Any], params: dict[str, Any]) -> Request:
        request = super().validate(inputs, params)
        vc.require_transcripts(self.inputs, request.inputs)
        return request

    def load_key(self, params: dict[str, Any]) -> str:
        return f"amphion.vevo[{Path(self.ar_folder).name if self.ar_folder else 'timbre'}]"

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        folders = vc.fetch_folders(self.weights_for({}), progress.span(0, 0.7))
        rt = self.runtime
        progress(0.7, "Building Vevo's models")
        with rt.session():
            from models.vc.vevo.vevo_utils import VevoInferencePipeline

            ar = {}
            if self.ar_folder:
                ar = {"ar_cfg_path": vc.config_for(rt, folders[self.ar_folder], self.stock_ar_config),
                      "ar_ckpt_path": str(folders[self.ar_folder])}
            content = folders.get(CONTENT_TOKENIZER)
            return VevoInferencePipeline(
                content_tokenizer_ckpt_path=str(content / "hubert_large_l18_c32.pkl") if content else None,
                content_style_tokenizer_ckpt_path=str(folders[CONTENT_STYLE_TOKENIZER]),
                fmt_cfg_path=vc.config_for(rt, folders[ACOUSTIC_MODEL], f"{STOCK_CONFIGS}/Vq8192ToMels.json"),
                fmt_ckpt_path=str(folders[ACOUSTIC_MODEL]),
                vocoder_cfg_path=vc.config_for(rt, folders[VOCODER], f"{STOCK_CONFIGS}/Vocoder.json"),
                vocoder_ckpt_path=str(folders[VOCODER]), device=device, **ar)

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        vc.seed_everything(request.params["seed"])
        with self.runtime.session(), torch.no_grad():
            from models.vc.vevo.vevo_utils import load_wav

            tokens, timbre = self.content_style_tokens(model, request, load_wav, progress.span(0, 0.6))
            timbre_tokens = self.reference_tokens(model, request, timbre, load_wav)
            progress(0.6, "Preparing the voice prompt")
            timbre_24k = load_wav(timbre.path, model.device)[1]
            mel = vc.flow_matching(model.fmt_model, model.fmt_model.cond_emb(torch.cat([timbre_tokens, tokens], 1)),
                                   model.extract_mel_feature(timbre_24k), request.params, progress.span(0.6, 0.95))
            audio = vc.amphion_level(vc.vocode(model.vocoder_model, mel, progress.span(0.95, 1.0)))
        return Result(audio, self.sample_rate, {"content_style_tokens": int(tokens.shape[1])})

    def content_style_tokens(self, model: Any, request: Request, load_wav: Any,
                             progress: Progress) -> tuple[Any, AudioInput]:
        """The 50 Hz content-style tokens to render, and the clip whose timbre renders them."""
        raise NotImplementedError

    @staticmethod
    def reference_tokens(model: Any, request: Request, clip: AudioInput, load_wav: Any) -> Any:
        """A clip's content-style tokens [1, T] (through the voice prompt cache)."""
        return vc.cached(request, clip, "content-style tokens", lambda: model.extract_hubert_codec(
            model.content_style_tokenizer, load_wav(clip.path, model.device)[2], duration_reduction=False)[0],
            model.device)


class VevoTimbre(_Vevo):
    id = "amphion.vevo_timbre"
    name = "Vevo-Timbre"
    task = "vc"
    summary = ("Changes the timbre to the reference's; keeps the source's words, timing, accent and emotion "
               "(style-preserving conversion, flow matching only).")
    memory_mb = 4_000
    inputs = (_source("The speech to convert: everything but its timbre is kept."),
              _reference("timbre_reference", "Timbre reference", "A clip of the voice whose timbre to take.",
                         ("voice",)))
    params = (*vc.flow_matching_params(), vc.SEED)
    weights = _weights(CONTENT_STYLE_TOKENIZER, ACOUSTIC_MODEL, VOCODER)

    def content_style_tokens(self, model: Any, request: Request, load_wav: Any,
                             progress: Progress) -> tuple[Any, AudioInput]:
        progress(0.0, "Reading the source's content and style")
        source = load_wav(request.inputs["source"].path, model.device)[2]
        tokens = model.extract_hubert_codec(model.content_style_tokenizer, source, duration_reduction=False)[0]
        return tokens, request.inputs["timbre_reference"]


class _VevoConversionAR(_Vevo):
    """Style and Voice: the AR transformer re-generates content-style tokens from the source's content tokens."""

    task = "vc"
    memory_mb = 6_000
    ar_folder = CONVERSION_AR
    stock_ar_config = f"{STOCK_CONFIGS}/Vq32ToVq8192.json"
    weights = _weights(CONTENT_TOKENIZER, CONTENT_STYLE_TOKENIZER, CONVERSION_AR, ACOUSTIC_MODEL, VOCODER)
    params = (
        *vc.ar_sampling_params(TOKEN_RATE),
        Param("content_mask_ratio", "float", 0.0, min=0.0, max=0.5, step=0.05, advanced=True,
              label="Content masking", help="Hides this share of the source's content tokens (at random) from the "
                                            "AR model, loosening how closely it follows the source's "
                                            "pronunciation; 0 keeps them all."),
        *vc.flow_matching_params(), vc.SEED)
    style_slot: ClassVar[str] = "style_reference"

    def timbre_clip(self, request: Request) -> AudioInput:
        raise NotImplementedError

    def content_style_tokens(self, model: Any, request: Request, load_wav: Any,
                             progress: Progress) -> tuple[Any, AudioInput]:
        import torch

        p, cfg = request.params, model.ar_cfg.model
        style: AudioInput = request.inputs[self.style_slot]
        progress(0.0, "Reading the source's content")
        source_16k = load_wav(request.inputs["source"].path, model.device)[2]
        style_16k = load_wav(style.path, model.device)[2]
        both = torch.cat([style_16k, source_16k], dim=1)  # the reference's content leads, as in Amphion's pipeline
        content = model.extract_hubert_codec(model.content_tokenizer, both, token_type=cfg.vc_input_token_type,
                                             duration_reduction=True,
                                             duration_reduction_n_gram=getattr(cfg, "vc_input_reduced_n_gram", 1))[0]
        if p["content_mask_ratio"] > 0:
            keep = torch.ones_like(content, dtype=torch.int, device=model.device)
            keep[:, :int(content.shape[1] * style_16k.shape[1] / both.shape[1])] = 0  # never mask the reference
            content = model.random_mask_codec(codecs=content, codec_masks=keep, ratio=p["content_mask_ratio"],
                                              mask_value=cfg.vc_input_vocab_size)
        if cfg.train_both_vc_and_tts:
            content = content + cfg.tts_input_vocab_size  # one vocabulary for phones and content tokens
        prompt = self.reference_tokens(model, request, style, load_wav)
        ar = model.ar_model
        tokens = vc.generate_tokens(
            ar, progress.span(0.1, 1.0), token_rate=TOKEN_RATE, expected=round(source_16k.shape[1] / 320),
            prompt_tokens=content.shape[1] + prompt.shape[1] + 3, params=p, input_ids=content,
            prompt_mels=model.extract_prompt_mel_feature(style_16k) if ar.use_global_style_encoder else None,
            prompt_output_ids=prompt)
        return tokens, self.timbre_clip(request)


class VevoStyle(_VevoConversionAR):
    id = "amphion.vevo_style"
    name = "Vevo-Style (accent and emotion)"
    summary = ("Takes the accent and emotion (the speaking style) from the reference; keeps the source's words and "
               "its speaker's timbre.")
    inputs = (_source("The speech to convert: its words and timbre are kept.", max_seconds=30.0,
                      carries=("content", "voice")),
              _reference("style_reference", "Style reference",
                         "A clip with the accent or emotion to take (e.g. an angry or a British speaker).", ("style",)))

    def timbre_clip(self, request: Request) -> AudioInput:
        return request.inputs["source"]


class VevoVoice(_VevoConversionAR):
    id = "amphion.vevo_voice"
    name = "Vevo-Voice"
    summary = ("Changes both the timbre and the speaking style (accent, emotion) to the reference's voice; keeps "
               "only the source's words.")
    inputs = (_source("The speech to convert: only its words are kept.", max_seconds=30.0),
              _reference("reference", "Target voice", "A clip of the voice to imitate, timbre and style.",
                         ("voice", "style")))
    style_slot = "reference"

    def timbre_clip(self, request: Request) -> AudioInput:
        return request.inputs["reference"]


class VevoTTS(_Vevo):
    id = "amphion.vevo_tts"
    name = "Vevo-TTS"
    task = "tts"
    summary = ("Zero-shot speech in the style (accent, emotion, pace) of a reference clip, and in its timbre or in "
               "that of a second clip.")
    memory_mb = 7_000
    requirements = Requirements(amphion=True, python=deps.VEVO, binaries=(deps.ESPEAK_NG,))
    ar_folder = TTS_AR
    stock_ar_config = f"{STOCK_CONFIGS}/PhoneToVq8192.json"
    inputs = (
        InputSlot("text", "text", "Text", max_chars=5_000, chunk_chars=200,
                  help="What to say. Long text is spoken in parts of about two sentences, joined smoothly."),
        _reference("style_reference", "Style reference", "A clip whose accent, emotion and pace the speech "
                                                          "takes (and its timbre, unless a timbre reference is "
                                                          "given). Its transcript is needed.", ("voice", "style"),
                   needs_transcript=True),
        _reference("timbre_reference", "Timbre reference", "Optional: a clip of another voice whose timbre to "
                                                           "use instead.", ("voice",), required=False),
    )
    params = (*vc.language_params(), *vc.ar_sampling_params(TOKEN_RATE), *vc.flow_matching_params(), vc.SEED)
    weights = _weights(CONTENT_STYLE_TOKENIZER, TTS_AR, ACOUSTIC_MODEL, VOCODER)

    def check(self) -> Readiness:
        return vc.checkout_lacks(checkout_root(self.context), vc.G2P_FILES) or super().check()

    def content_style_tokens(self, model: Any, request: Request, load_wav: Any,
                             progress: Progress) -> tuple[Any, AudioInput]:
        import torch
        from models.vc.vevo.vevo_utils import g2p_

        p = request.params
        style: AudioInput = request.inputs["style_reference"]
        transcript = vc.need_transcript(style, "Style reference")
        progress(0.0, "Reading the text")
        text_ids = vc.phone_ids(g2p_, request.inputs["text"], p["language"], "The text")
        style_ids = vc.phone_ids(g2p_, transcript, p["reference_language"], "The style reference's transcript")
        phones = torch.tensor([style_ids + text_ids], dtype=torch.long, device=model.device)
        prompt = self.reference_tokens(model, request, style, load_wav)
        ar = model.ar_model
        pace = prompt.shape[1] / len(style_ids)  # the reference's tokens per phone: how long the text will take
        tokens = vc.generate_tokens(
            ar, progress.span(0.1, 1.0), token_rate=TOKEN_RATE, expected=round(pace * len(text_ids)),
            prompt_tokens=phones.shape[1] + prompt.shape[1] + 3, params=p, input_ids=phones,
            prompt_mels=(model.extract_prompt_mel_feature(load_wav(style.path, model.device)[2])
                         if ar.use_global_style_encoder else None),
            prompt_output_ids=prompt)
        timbre = request.inputs.get("timbre_reference")
        return tokens, timbre if timbre is not None else style

