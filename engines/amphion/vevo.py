"""Vevo (amphion/Vevo): zero-shot voice imitation that treats timbre and speaking style as separate things.

Four modes, each its own engine, sharing one loader (`models/vc/vevo/vevo_utils.py::VevoInferencePipeline`):
- Vevo-Timbre: the reference's timbre on the source; the source's words, timing, accent and emotion kept
  (flow matching only).
- Vevo-Style: the reference's accent and emotion on the source; the source's words and timbre kept.
- Vevo-Voice: the reference's timbre and style; only the source's words kept.
- Vevo-TTS: text spoken in the style of a reference clip (with its transcript), optionally in another clip's timbre.

Style and Voice load the same models (an AR transformer turning 32-code content tokens into 8192-code
content-style tokens), so they share one loaded model. HuBERT-Large comes from torchaudio's bundle, fetched
by the weight manager into TORCH_HOME. A long source is converted in pieces (conversion_input.py): Vevo-Timbre's
of up to 30 s, Style's and Voice's as long as the AR model's Max length leaves room for beside the reference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..contract import Aspect, AudioInput, InputSlot, InvalidRequest, Param, Progress, Request, Result, Weights
from ..conversion_input import JOIN_SECONDS, LONGEST_SOURCE_SECONDS, convert_in_pieces, with_notes
from ..requirements import Readiness, Requirements
from . import deps
from . import vevo_common as vc
from . import vevo_sources as sources
from .base import AmphionEngine, g2p_files_missing
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
PIECE_SECONDS = (20.0, 30.0)  # a longer source is converted in pieces of this length (Emilia clips are <= 30 s)
SHORTEST_AR_PIECE = 3.0  # seconds: a Max length that leaves less room beside the reference is refused
AR_SPECIAL_TOKENS = 3  # begin and end of the input, begin of the output
TOKENS_PER_PHONE = 4.0  # about 12 phones a second: how long a text will take when no transcript gives the pace

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


def _source(help_text: str, carries: tuple[Aspect, ...] = ("content",)) -> InputSlot:
    return InputSlot("source", "audio", "Source speech", min_seconds=0.5, max_seconds=LONGEST_SOURCE_SECONDS,
                     sweet_spot=(2.0, 20.0), help=help_text + " A long source is converted in parts.",
                     carries=carries)


def _reference(name: str, label: str, help_text: str, carries: tuple[Aspect, ...], *, required: bool = True,
               needs_transcript: bool = False, transcript_optional_with: str = "") -> InputSlot:
    return InputSlot(name, "audio", label, required=required, min_seconds=1.0, max_seconds=30.0,
                     sweet_spot=(3.0, 12.0), needs_transcript=needs_transcript,
                     transcript_optional_with=transcript_optional_with, help=help_text, carries=carries)


@dataclass(frozen=True)
class TimbrePrompt:
    """What the acoustic model continues in a voice: a clip's content-style tokens [1, T] and its mels."""

    tokens: Any
    mels: Any


def clip_tokens(model: Any, clip: sources.Clip) -> Any:
    """A clip's 50 Hz content-style tokens [1, T]."""
    return model.extract_hubert_codec(model.content_style_tokenizer, clip.at_16k, duration_reduction=False)[0]


def reference_tokens(model: Any, request: Request, audio: AudioInput, clip: sources.Clip) -> Any:
    """A reference clip's content-style tokens through the voice prompt cache."""
    return vc.cached(request, audio, "content-style tokens", lambda: clip_tokens(model, clip), model.device)


def render(model: Any, tokens: Any, timbre: TimbrePrompt, params: dict[str, Any], progress: Progress,
           frames: int | None = None) -> np.ndarray:
    """Content-style tokens as 24 kHz audio in the prompt's voice: flow matching to a mel (of `frames` frames when
    given, else one a token), then the vocoder."""
    import torch

    cond = model.fmt_model.cond_emb(torch.cat([timbre.tokens, tokens], 1))
    if frames is not None:
        cond = sources.fit_frames(cond, timbre.mels.shape[1] + frames)
    mel = vc.flow_matching(model.fmt_model, cond, timbre.mels, params, progress.span(0.0, 0.95))
    return vc.vocode(model.vocoder_model, mel, progress.span(0.95, 1.0))


class _Vevo(AmphionEngine):
    """The shared loader; subclasses choose the AR model (or none) and the run."""

    family = "Vevo"
    languages = vc.LANGUAGE_CODES  # trained on Emilia: English, Chinese, Japanese, Korean, French, German
    sample_rate = vc.SAMPLE_RATE
    license = LICENCE
    prompt_version = "2"  # cached tokens are a tuple of arrays (prompt_codes.cached_tensors)
    needs_transformers_4 = True
    requirements = Requirements(amphion=True, python=deps.VEVO_CONVERSION)
    ar_folder: ClassVar[str | None] = None
    stock_ar_config: ClassVar[str] = ""

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
                ar = {"ar_cfg_path": str(rt.path(self.stock_ar_config)), "ar_ckpt_path": str(folders[self.ar_folder])}
            content = folders.get(CONTENT_TOKENIZER)
            return VevoInferencePipeline(
                content_tokenizer_ckpt_path=str(content / "hubert_large_l18_c32.pkl") if content else None,
                content_style_tokenizer_ckpt_path=str(folders[CONTENT_STYLE_TOKENIZER]),
                fmt_cfg_path=str(rt.path(f"{STOCK_CONFIGS}/Vq8192ToMels.json")),
                fmt_ckpt_path=str(folders[ACOUSTIC_MODEL]),
                vocoder_cfg_path=str(rt.path(f"{STOCK_CONFIGS}/Vocoder.json")),
                vocoder_ckpt_path=str(folders[VOCODER]), device=device, **ar)

    def timbre_prompt(self, model: Any, request: Request, audio: AudioInput, clip: sources.Clip) -> TimbrePrompt:
        return TimbrePrompt(reference_tokens(model, request, audio, clip), model.extract_mel_feature(clip.at_24k))


class _VevoConversion(_Vevo):
    """Timbre, Style and Voice: the source converted piece by piece against one reference clip."""

    task = "vc"
    reference_slot: ClassVar[str] = ""
    reference_what: ClassVar[str] = ""  # the reference as messages name it
    keeps_timing: ClassVar[bool] = False  # each piece's tokens are the source's frames: the result has its length
    keeps_timbre: ClassVar[bool] = False  # each piece is rendered in its own voice, not in the reference's

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        p, notes, tokens = request.params, [], 0
        vc.seed_everything(p["seed"])
        with self.runtime.session(), torch.no_grad():
            progress(0.0, "Reading the clips")
            source = sources.read_24k(request.inputs["source"], "The source audio", notes)
            audio_in = request.inputs[self.reference_slot]
            reference = sources.read_clip(audio_in, model.device, self.reference_what, notes)
            ref_tokens = reference_tokens(model, request, audio_in, reference)
            voice = None if self.keeps_timbre else TimbrePrompt(ref_tokens, model.extract_mel_feature(reference.at_24k))

            def convert(speech: np.ndarray, span: Progress) -> np.ndarray:
                nonlocal tokens
                piece = sources.clip_of(speech, model.device)
                made = self.piece_tokens(model, piece, reference, ref_tokens, p, span.span(0.0, 0.6))
                tokens += int(made.shape[1])
                span(0.6, "Preparing the voice prompt")
                timbre = voice or TimbrePrompt(clip_tokens(model, piece), model.extract_mel_feature(piece.at_24k))
                # a piece's HuBERT frames can fall a frame or two short of its length: render exactly its frames
                frames = sources.mel_frames(piece) if self.keeps_timing else None
                return render(model, made, timbre, p, span.span(0.6, 1.0), frames)

            audio, blocks = convert_in_pieces(source, self.sample_rate, convert, progress.span(0.05, 1.0),
                                              self.piece_seconds(p, reference), keep_timing=self.keeps_timing)
        extras = with_notes({"content_style_tokens": tokens, "blocks": blocks}, notes)
        return Result(vc.amphion_level(audio), self.sample_rate, extras)

    def piece_seconds(self, params: dict[str, Any], reference: sources.Clip) -> tuple[float, float]:
        """The shortest and longest piece a long source is cut into."""
        return PIECE_SECONDS

    def piece_tokens(self, model: Any, piece: sources.Clip, reference: sources.Clip, ref_tokens: Any,
                     params: dict[str, Any], progress: Progress) -> Any:
        """The content-style tokens [1, T] to render for one piece of the source (`ref_tokens`: the reference's)."""
        raise NotImplementedError


class VevoTimbre(_VevoConversion):
    id = "amphion.vevo_timbre"
    name = "Vevo-Timbre"
    summary = ("Changes the timbre to the reference's; keeps the source's words, timing, accent and emotion "
               "(style-preserving conversion, flow matching only).")
    memory_mb = 4_000
    inputs = (_source("The speech to convert: everything but its timbre is kept."),
              _reference("timbre_reference", "Timbre reference", "A clip of the voice whose timbre to take.",
                         ("voice",)))
    params = (*vc.flow_matching_params(), vc.SEED)
    weights = _weights(CONTENT_STYLE_TOKENIZER, ACOUSTIC_MODEL, VOCODER)
    reference_slot = "timbre_reference"
    reference_what = "The timbre reference"
    keeps_timing = True

    def piece_tokens(self, model: Any, piece: sources.Clip, reference: sources.Clip, ref_tokens: Any,
                     params: dict[str, Any], progress: Progress) -> Any:
        progress(0.0, "Reading the source's content and style")
        return clip_tokens(model, piece)


class _VevoConversionAR(_VevoConversion):
    """Style and Voice: the AR transformer re-generates content-style tokens from the source's content tokens."""

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

    def piece_seconds(self, params: dict[str, Any], reference: sources.Clip) -> tuple[float, float]:
        """Pieces whose tokens fit Max length beside the reference's: a second of reference or source takes at most
        50 content tokens in and 50 content-style tokens out."""
        room = params["max_length"] - AR_SPECIAL_TOKENS - 2 * TOKEN_RATE * reference.seconds
        longest = min(room / (2 * TOKEN_RATE) - JOIN_SECONDS, PIECE_SECONDS[1])  # a piece runs on by the join
        if longest < SHORTEST_AR_PIECE:
            need = math.ceil(AR_SPECIAL_TOKENS + 2 * TOKEN_RATE * (reference.seconds + SHORTEST_AR_PIECE))
            raise InvalidRequest(f"The {reference.seconds:.1f} s reference leaves too little of Max length "
                                 f"{params['max_length']} for the source. Raise Max length to at least {need}, or "
                                 f"use a shorter reference.")
        return 0.7 * longest, longest

    def piece_tokens(self, model: Any, piece: sources.Clip, reference: sources.Clip, ref_tokens: Any,
                     params: dict[str, Any], progress: Progress) -> Any:
        import torch

        cfg = model.ar_cfg.model
        progress(0.0, "Reading the source's content")
        both = torch.cat([reference.at_16k, piece.at_16k], dim=1)  # the reference's content leads, as in Amphion
        content = model.extract_hubert_codec(model.content_tokenizer, both, token_type=cfg.vc_input_token_type,
                                             duration_reduction=True,
                                             duration_reduction_n_gram=getattr(cfg, "vc_input_reduced_n_gram", 1))[0]
        if params["content_mask_ratio"] > 0:
            keep = torch.ones_like(content, dtype=torch.int, device=model.device)
            keep[:, :int(content.shape[1] * reference.at_16k.shape[1] / both.shape[1])] = 0  # never the reference
            content = model.random_mask_codec(codecs=content, codec_masks=keep, ratio=params["content_mask_ratio"],
                                              mask_value=cfg.vc_input_vocab_size)
        if cfg.train_both_vc_and_tts:
            content = content + cfg.tts_input_vocab_size  # one vocabulary for phones and content tokens
        ar = model.ar_model
        return vc.generate_tokens(
            ar, progress.span(0.1, 1.0), token_rate=TOKEN_RATE, expected=round(piece.at_16k.shape[1] / 320),
            prompt_tokens=content.shape[1] + ref_tokens.shape[1] + AR_SPECIAL_TOKENS, params=params,
            input_ids=content, prompt_output_ids=ref_tokens,
            prompt_mels=model.extract_prompt_mel_feature(reference.at_16k) if ar.use_global_style_encoder else None)


class VevoStyle(_VevoConversionAR):
    id = "amphion.vevo_style"
    name = "Vevo-Style (accent and emotion)"
    summary = ("Takes the accent and emotion (the speaking style) from the reference; keeps the source's words and "
               "its speaker's timbre.")
    inputs = (_source("The speech to convert: its words and timbre are kept.", carries=("content", "voice")),
              _reference("style_reference", "Style reference",
                         "A clip with the accent or emotion to take (e.g. an angry or a British speaker).", ("style",)))
    reference_slot = "style_reference"
    reference_what = "The style reference"
    keeps_timbre = True


class VevoVoice(_VevoConversionAR):
    id = "amphion.vevo_voice"
    name = "Vevo-Voice"
    summary = ("Changes both the timbre and the speaking style (accent, emotion) to the reference's voice; keeps "
               "only the source's words.")
    inputs = (_source("The speech to convert: only its words are kept."),
              _reference("reference", "Target voice", "A clip of the voice to imitate, timbre and style.",
                         ("voice", "style")))
    reference_slot = "reference"
    reference_what = "The target voice clip"


GLOBAL_STYLE = Param(
    "global_style", "bool", False, advanced=True, label="Style without a transcript",
    help="Amphion's global-guided inference: the style comes from the reference's overall sound through the AR "
         "model's global style encoder, so the reference's transcript is not needed. Only for an AR model trained "
         "with that encoder; the released Vevo-TTS model has none, and is refused with this on.")


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
        _reference("style_reference", "Style reference", "A clip whose accent, emotion and pace the speech takes "
                                                          "(and its timbre, unless a timbre reference is given). "
                                                          "Its transcript is needed unless 'Style without a "
                                                          "transcript' is on.", ("voice", "style"),
                   needs_transcript=True, transcript_optional_with=GLOBAL_STYLE.name),
        _reference("timbre_reference", "Timbre reference", "Optional: a clip of another voice whose timbre to "
                                                           "use instead.", ("voice",), required=False),
    )
    params = (*vc.language_params(), GLOBAL_STYLE, *vc.ar_sampling_params(TOKEN_RATE), *vc.flow_matching_params(),
              vc.SEED)
    weights = _weights(CONTENT_STYLE_TOKENIZER, TTS_AR, ACOUSTIC_MODEL, VOCODER)

    def check(self) -> Readiness:
        return g2p_files_missing(self) or super().check()

    def check_request(self, request: Request) -> None:
        if request.params[GLOBAL_STYLE.name] and self.global_style_encoder() is False:
            raise InvalidRequest(f"{GLOBAL_STYLE.label}: the Vevo-TTS model your checkout describes "
                                 f"({self.stock_ar_config}) has no global style encoder, so it cannot take the style "
                                 f"from the reference's sound alone. Turn this off and give the style reference's "
                                 f"transcript.")

    def global_style_encoder(self) -> bool | None:
        """Whether the AR model's config in the checkout has a global style encoder; None when it cannot be read
        (readiness then says what is missing)."""
        root = checkout_root(self.context)
        if root is None:
            return None
        try:
            import json5

            model = json5.loads((root / self.stock_ar_config).read_text())["model"]
            return bool(model["autoregressive_transformer"].get("use_global_style_encoder"))
        except (ImportError, OSError, ValueError, KeyError, TypeError):
            return None

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        p, notes = request.params, []
        vc.seed_everything(p["seed"])
        with self.runtime.session(), torch.no_grad():
            from models.vc.vevo.vevo_utils import g2p_

            progress(0.0, "Reading the text")
            phones = vc.phone_ids(g2p_, request.inputs["text"], p["language"], "The text")
            style_in: AudioInput = request.inputs["style_reference"]
            style = sources.read_clip(style_in, model.device, "The style reference", notes)
            expected, prompt = len(phones) * TOKENS_PER_PHONE, None
            if not p[GLOBAL_STYLE.name]:  # the reference's phones and tokens lead, and the model continues them
                style_phones = vc.phone_ids(g2p_, vc.need_transcript(style_in, "Style reference"),
                                            p["reference_language"], "The style reference's transcript")
                prompt = reference_tokens(model, request, style_in, style)
                expected = prompt.shape[1] / len(style_phones) * len(phones)  # at the reference's pace
                phones = style_phones + phones
            ar = model.ar_model
            tokens = vc.generate_tokens(
                ar, progress.span(0.05, 0.6), token_rate=TOKEN_RATE, expected=round(expected),
                prompt_tokens=len(phones) + (0 if prompt is None else prompt.shape[1]) + AR_SPECIAL_TOKENS, params=p,
                input_ids=torch.tensor([phones], dtype=torch.long, device=model.device), prompt_output_ids=prompt,
                prompt_mels=model.extract_prompt_mel_feature(style.at_16k) if ar.use_global_style_encoder else None)
            progress(0.6, "Preparing the voice prompt")
            timbre_in = request.inputs.get("timbre_reference")
            timbre = (self.timbre_prompt(model, request, style_in, style) if timbre_in is None else self.timbre_prompt(
                model, request, timbre_in, sources.read_clip(timbre_in, model.device, "The timbre reference", notes)))
            audio = render(model, tokens, timbre, p, progress.span(0.6, 1.0))
        extras = with_notes({"content_style_tokens": int(tokens.shape[1])}, notes)
        return Result(vc.amphion_level(audio), self.sample_rate, extras)
