"""Vevo1.5 (amphion/Vevo1.5, "VevoSing"): one model family for speech and singing.

Amphion's `models/svc/vevosing/vevosing_utils.py::VevosingInferencePipeline` offers two paths, and each
clear use of them is an engine here:
- flow matching only (`inference_fm`): conversion of speech (voice conversion page) or singing (singing page);
  the reference's timbre on the source's words, melody and timing, optionally with the source transposed to the
  reference's register first (the pipeline's automatic pitch shift, for the prosody and/or the content-style
  features);
- AR + flow matching (`inference_ar_and_fm`): "synthesis" (speech or singing from text, in a reference's style)
  and "recognition-synthesis" with prosody tokens from audio: editing the words of a recording, singing-style
  conversion, and melody control (lyrics sung on a hummed or played melody). Its "conversion" task needs a
  content tokenizer the pipeline never builds and the released AR was not trained for it, so it is not offered.

Whisper medium (openai-whisper) gives the content features; the weight manager fetches it into whisper's cache.
The pipeline imports torchvision, which must be the build for the installed torch (readiness says which).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..contract import Aspect, AudioInput, InputSlot, InvalidRequest, Param, Progress, Request, Result, Weights
from ..conversion_input import (LONGEST_SOURCE_SECONDS, NO_VOICE_IN_IT, NO_VOICE_TO_CONVERT, convert_in_pieces,
                                with_notes)
from ..requirements import Readiness, Requirements
from . import deps
from . import vevo_common as vc
from . import vevo_sources as sources
from .base import AmphionEngine, g2p_files_missing

REPO = "amphion/Vevo1.5"
LICENCE = "CC-BY-NC-ND-4.0"
TOKEN_RATE = 12.5  # content-style tokens a second
STOCK_CONFIGS = "models/svc/vevosing/config"
PROSODY_TOKENIZER = "tokenizer/prosody_fvq512_6.25hz"
CONTENT_STYLE_TOKENIZER = "tokenizer/contentstyle_fvq16384_12.5hz"
VOCODER = "acoustic_modeling/Vocoder"
VARIANTS = (("singnet7k", "Emilia 101k h + SingNet 7k h of singing (the scripts' choice)"),
            ("sing0.4k", "Emilia 101k h + 0.4k h of open singing data"))
PIECE_SECONDS = (20.0, 28.0)  # a longer source is converted in pieces of this length (Whisper sees 30 s at once)

# sizes are estimates from parameter counts in float32, matching the repository's 10.8 GB in all
SHARED_SIZES = {PROSODY_TOKENIZER: (260_000_000, "Vevo1.5 prosody tokenizer (512 codes, 6.25 Hz)"),
                CONTENT_STYLE_TOKENIZER: (260_000_000, "Vevo1.5 content-style tokenizer (16384 codes, 12.5 Hz)"),
                VOCODER: (1_220_000_000, "Vevo1.5 vocoder (Vocos)")}
AR_BYTES, FM_BYTES = 3_110_000_000, 1_420_000_000


def ar_folder(variant: str) -> str:
    return f"contentstyle_modeling/ar_emilia101k_{variant}"


def fm_folder(variant: str) -> str:
    return f"acoustic_modeling/fm_emilia101k_{variant}"


def _weights(ar: bool) -> tuple[Weights, ...]:
    shared = [CONTENT_STYLE_TOKENIZER, VOCODER] + ([PROSODY_TOKENIZER] if ar else [])
    sets = [vc.hub_folder(REPO, f, SHARED_SIZES[f][0], SHARED_SIZES[f][1], LICENCE) for f in shared]
    for variant, _ in VARIANTS:
        when = (("model", variant),)
        sets.append(vc.hub_folder(REPO, fm_folder(variant), FM_BYTES, f"Vevo1.5 flow-matching model ({variant})",
                                  LICENCE, when=when))
        if ar:
            sets.append(vc.hub_folder(REPO, ar_folder(variant), AR_BYTES, f"Vevo1.5 AR transformer ({variant})",
                                      LICENCE, when=when))
    return (*sets, deps.WHISPER_MEDIUM)


MODEL = Param("model", "choice", "singnet7k", label="Checkpoint", choices=VARIANTS, affects_load=True,
              help="Which training data the AR and flow-matching models saw. Both handle speech and singing.")


def _audio(name: str, label: str, help_text: str, carries: tuple[Aspect, ...], *, required: bool = True,
           max_seconds: float = 30.0, needs_transcript: bool = False,
           sweet_spot: tuple[float, float] = (3.0, 15.0)) -> InputSlot:
    return InputSlot(name, "audio", label, required=required, min_seconds=1.0, max_seconds=max_seconds,
                     sweet_spot=sweet_spot, needs_transcript=needs_transcript, help=help_text, carries=carries)


class _Vevo15(AmphionEngine):
    family = "Vevo1.5"
    languages = vc.LANGUAGE_CODES
    sample_rate = vc.SAMPLE_RATE
    license = LICENCE
    prompt_version = "2"  # cached tokens are a tuple of arrays (prompt_codes.cached_tensors)
    needs_transformers_4 = True
    requirements = Requirements(amphion=True, python=deps.VEVO_1_5_CONVERSION)
    uses_ar: ClassVar[bool] = False

    def check(self) -> Readiness:
        readiness = super().check()
        if readiness.state in ("ready", "needs_download"):
            return vc.torchvision_problem() or readiness
        return readiness

    def load_key(self, params: dict[str, Any]) -> str:
        return f"amphion.vevo1.5[{'ar' if self.uses_ar else 'fm'},{params.get('model', MODEL.default)}]"

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        variant = (options or {}).get("model", MODEL.default)
        folders = vc.fetch_folders(self.weights_for({"model": variant}), progress.span(0, 0.7))
        vc.import_torchvision()
        rt = self.runtime
        progress(0.7, "Building Vevo1.5's models")
        with rt.session():
            from models.svc.vevosing.vevosing_utils import VevosingInferencePipeline

            ar: dict[str, Any] = {}
            if self.uses_ar:
                folder = folders[ar_folder(variant)]
                ar = {"prosody_tokenizer_ckpt_path": str(folders[PROSODY_TOKENIZER]),
                      "ar_cfg_path": str(rt.path(f"{STOCK_CONFIGS}/{folder.name}.json")), "ar_ckpt_path": str(folder)}
            fm = folders[fm_folder(variant)]
            return VevosingInferencePipeline(
                content_style_tokenizer_ckpt_path=str(folders[CONTENT_STYLE_TOKENIZER]),
                fmt_cfg_path=str(rt.path(f"{STOCK_CONFIGS}/{fm.name}.json")), fmt_ckpt_path=str(fm),
                vocoder_cfg_path=str(rt.path(f"{STOCK_CONFIGS}/vocoder.json")),
                vocoder_ckpt_path=str(folders[VOCODER]), device=device, **ar)

    @staticmethod
    def clip_tokens(model: Any, request: Request, audio: AudioInput, clip: sources.Clip) -> Any:
        """A reference clip's content-style tokens [1, T] at 12.5 Hz (through the voice prompt cache)."""
        return vc.cached(request, audio, "content-style tokens",
                         lambda: model.extract_coco_codec("content_style", clip.at_16k, clip.speech), model.device)

    @staticmethod
    def acoustic_condition(model: Any, tokens: Any) -> Any:
        """The flow-matching condition of content-style tokens, upsampled to the 50 Hz mel rate as the pipeline does."""
        fmt = model.fmt_model
        cond = fmt.cond_emb(tokens)
        if fmt.do_resampling:
            cond = fmt.resampling_layers(cond.transpose(1, 2)).transpose(1, 2)
        return cond


# -- conversion: flow matching only ------------------------------------------------------------------------------


class _Vevo15Conversion(_Vevo15):
    memory_mb = 6_000
    weights = _weights(ar=False)
    params = (
        Param("shift_prosody", "bool", True, label="Auto-transpose the melody",
              help="Before reading the source's prosody (its melody contour), shift it by the whole semitones that "
                   "bring its median pitch to the reference's, so a low voice sings a high one's song in that "
                   "voice's range. Amphion's script turns this on."),
        Param("shift_content_style", "bool", False, label="Auto-transpose the content too",
              help="Also read the words and singing style from the transposed source (helps across large "
                   "gender or range gaps; can smear consonants)."),
        Param("whisper_spec_perturb", "bool", False, label="Perturb the content features", advanced=True,
              help="Randomly stretches Whisper's input spectrum before reading the content, which weakens the "
                   "source speaker's timbre in the features (random: the seed fixes it)."),
        *vc.flow_matching_params(), MODEL, vc.SEED)

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        p, notes = request.params, []
        source_in: AudioInput = request.inputs["source"]
        reference_in: AudioInput = request.inputs["timbre_reference"]
        vc.seed_everything(p["seed"])
        extras: dict[str, Any] = {}
        with self.runtime.session(), torch.no_grad():
            progress(0.0, "Reading the clips")
            source = sources.read_24k(source_in, "The source audio", notes)
            reference = sources.read_clip(reference_in, model.device, "The timbre reference", notes)
            if reference.seconds > vc.WHISPER_SECONDS:
                raise InvalidRequest(f"The timbre reference is {reference.seconds:.0f} s long; Vevo1.5 reads at most "
                                     f"{vc.WHISPER_SECONDS:.0f} s of it. Trim it.")
            steps = 0
            if p["shift_prosody"] or p["shift_content_style"]:
                steps, note = auto_transpose(source_in.path, reference_in.path)
                extras["semitones_applied"] = steps
                notes += [note] if note else []
            if p["whisper_spec_perturb"]:  # random: not cached
                ref_tokens = model.extract_coco_codec("content_style", reference.at_16k, reference.speech,
                                                      whisper_spec_perturb=True)
            else:
                ref_tokens = self.clip_tokens(model, request, reference_in, reference)
            ref_mels = model.extract_mel_feature(reference.at_24k)

            def convert(speech: np.ndarray, span: Progress) -> np.ndarray:
                span(0.0, "Reading the source's content, style and melody")
                piece = sources.clip_of(speech, model.device)
                tokens = model.extract_coco_codec(
                    "content_style", piece.at_16k, piece.speech, whisper_spec_perturb=p["whisper_spec_perturb"],
                    use_shifted_src_to_extract_prosody=p["shift_prosody"],
                    use_shifted_src_to_extract_contentstyle=p["shift_content_style"], src_shifted_steps=steps)
                cond = self.acoustic_condition(model, torch.cat([ref_tokens, tokens], dim=1))
                cond = sources.fit_frames(cond, ref_mels.shape[1] + sources.mel_frames(piece))
                mel = vc.flow_matching(model.fmt_model, cond, ref_mels, p, span.span(0.2, 0.95))
                return vc.vocode(model.vocoder_model, mel, span.span(0.95, 1.0))

            audio, extras["blocks"] = convert_in_pieces(source, self.sample_rate, convert, progress.span(0.1, 1.0),
                                                        PIECE_SECONDS)
        return Result(vc.amphion_level(audio), self.sample_rate, with_notes(extras, notes))


def auto_transpose(source: str, reference: str) -> tuple[int, str | None]:
    """The pipeline's automatic shift: whole semitones from the source's median F0 to the reference's (Amphion's
    parselmouth F0, interpolated through unvoiced frames); 0 with a note when either has no pitched voice."""
    from evaluation.metrics.f0.f0_corr import extract_f0_hz

    medians = [float(np.median(extract_f0_hz(path))) for path in (source, reference)]
    for median, what in zip(medians, ("source", "timbre reference")):
        if not median > 0:
            return 0, f"No pitched voice was found in the {what}, so it was not transposed."
    return round(12 * np.log2(medians[1] / medians[0])), None


class Vevo15VoiceConversion(_Vevo15Conversion):
    id = "amphion.vevo15_vc"
    name = "Vevo1.5 voice conversion"
    task = "vc"
    summary = ("Changes the timbre to the reference's; keeps the source's words, intonation and timing (optionally "
               "transposed to the reference's pitch range).")
    inputs = (_audio("source", "Source speech", "The speech to convert; longer than 28 s is converted in parts.",
                     ("content",), max_seconds=LONGEST_SOURCE_SECONDS, sweet_spot=(2.0, 28.0)),
              _audio("timbre_reference", "Timbre reference", "A clip of the voice whose timbre to take.", ("voice",)))


class Vevo15SingingConversion(_Vevo15Conversion):
    id = "amphion.vevo15_svc"
    name = "Vevo1.5 singing voice conversion"
    task = "svc"
    summary = ("Sings the source in the reference's timbre; keeps the lyrics, melody, rhythm and singing style "
               "(the melody moved to the reference's range when auto-transpose is on).")
    inputs = (_audio("source", "Source singing", "The singing to convert (a dry vocal works best); longer than "
                                                 "28 s is converted in parts.",
                     ("content",), max_seconds=LONGEST_SOURCE_SECONDS, sweet_spot=(2.0, 28.0)),
              _audio("timbre_reference", "Timbre reference", "A clip of the voice whose timbre to take (singing "
                                                             "or speech).", ("voice",)))


# -- AR + flow matching: synthesis and recognition-synthesis ----------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One call of the pipeline's inference_ar_and_fm, in its own terms."""

    task: str  # "synthesis" or "recognition-synthesis"
    text: str
    text_language: str
    timbre: AudioInput
    source: AudioInput | None = None  # recognition-synthesis: the audio the prosody tokens come from
    style: AudioInput | None = None  # the style prompt, with its transcript
    style_language: str = "en"
    use_style_tokens: bool = False


class _Vevo15AR(_Vevo15):
    memory_mb = 9_000
    uses_ar = True
    requirements = Requirements(amphion=True, python=deps.VEVO_1_5, binaries=(deps.ESPEAK_NG,))
    weights = _weights(ar=True)
    source_lacking: ClassVar[str] = NO_VOICE_TO_CONVERT  # what a silent source leaves out

    def check(self) -> Readiness:
        return g2p_files_missing(self) or super().check()

    def plan(self, request: Request) -> Plan:
        raise NotImplementedError

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        plan, p, notes = self.plan(request), request.params, []
        clips: dict[str, sources.Clip] = {}

        def read(audio: AudioInput, what: str, lacking: str = NO_VOICE_IN_IT) -> sources.Clip:
            if audio.path not in clips:  # a clip can be source, style and timbre at once
                clips[audio.path] = sources.read_clip(audio, model.device, what, notes, lacking)
            return clips[audio.path]

        vc.seed_everything(p["seed"])
        with self.runtime.session(), torch.no_grad():
            from models.svc.vevosing.vevosing_utils import g2p_

            progress(0.0, "Reading the text")
            content = vc.phone_ids(g2p_, plan.text, plan.text_language, "The text")
            expected = 0.0
            source = None if plan.source is None else read(plan.source, "The source audio", self.source_lacking)
            if source is not None:
                expected = source.seconds * TOKEN_RATE * p.get("duration_ratio", 1.0)
            prompt = None
            if plan.style is not None:
                style_ids = vc.phone_ids(g2p_, vc.need_transcript(plan.style, "Style reference"),
                                         plan.style_language, "The style reference's transcript")
                style = read(plan.style, "The style reference")
                prompt = self.clip_tokens(model, request, plan.style, style)
                if source is None:
                    expected = prompt.shape[1] / len(style_ids) * len(content)  # the reference's pace
                content = style_ids + content
                if plan.task == "recognition-synthesis" and source is not None:  # prosody of the prompt, then the source
                    source = sources.Clip(np.concatenate([style.speech, source.speech]),
                                          torch.cat([style.at_24k, source.at_24k], dim=1),
                                          torch.cat([style.at_16k, source.at_16k], dim=1))
            content_ids = torch.tensor([content], dtype=torch.long, device=model.device)
            style_tokens = None
            if plan.use_style_tokens and source is not None:
                progress(0.05, "Reading the prosody")
                style_tokens = model.extract_coco_codec("style", source.at_16k, source.speech,
                                                        frame_len_ratio=p.get("duration_ratio", 1.0))
            prompt_tokens = content_ids.shape[1] + (0 if prompt is None else prompt.shape[1]) + \
                (0 if style_tokens is None else style_tokens.shape[1]) + 5
            tokens = vc.generate_tokens(model.ar_model, progress.span(0.1, 0.6), token_rate=TOKEN_RATE,
                                        expected=round(expected or len(content)), prompt_tokens=prompt_tokens,
                                        params=p, input_content_ids=content_ids, input_style_ids=style_tokens,
                                        prompt_output_ids=prompt)
            progress(0.6, "Preparing the voice prompt")
            timbre = read(plan.timbre, "The timbre reference")
            timbre_tokens = self.clip_tokens(model, request, plan.timbre, timbre)
            cond = self.acoustic_condition(model, torch.cat([timbre_tokens, tokens], dim=1))
            mel = vc.flow_matching(model.fmt_model, cond, model.extract_mel_feature(timbre.at_24k), p,
                                   progress.span(0.6, 0.95))
            audio = vc.vocode(model.vocoder_model, mel, progress.span(0.95, 1.0))
        extras = with_notes({"content_style_tokens": int(tokens.shape[1])}, notes)
        return Result(vc.amphion_level(audio), self.sample_rate, extras)


DURATION_RATIO = Param("duration_ratio", "float", 1.0, min=0.5, max=2.0, step=0.05, unit="x", label="Duration",
                       help="Stretches the prosody (melody) timeline taken from the audio before generating: below 1 "
                            "faster, above 1 slower.")
STYLE_PROMPT_HELP = "Its transcript is needed (the Transcribe button fills it in)."


def _ar_params(*extra: Param, text: str = "Text language", reference: str = "Reference language") -> tuple[Param, ...]:
    return (*vc.language_params(text, reference), *extra, *vc.ar_sampling_params(TOKEN_RATE),
            *vc.flow_matching_params(), MODEL, vc.SEED)


class Vevo15Synthesis(_Vevo15AR):
    id = "amphion.vevo15_tts"
    name = "Vevo1.5 speech and singing"
    task = "tts"
    summary = ("Zero-shot speech or singing from text in the style of a reference clip (a sung reference gives "
               "singing), in its timbre or in that of a second clip.")
    inputs = (
        InputSlot("text", "text", "Text or lyrics", max_chars=5_000, chunk_chars=150,
                  help="What to say or sing. Long text is done in parts of about two sentences, joined smoothly."),
        _audio("style_reference", "Style reference", "A clip whose style the result takes: speak with a spoken "
                                                     "clip, sing with a sung one. " + STYLE_PROMPT_HELP,
               ("voice", "style"), needs_transcript=True),
        _audio("timbre_reference", "Timbre reference", "Optional: a clip of another voice whose timbre to use "
                                                       "instead.", ("voice",), required=False),
    )
    params = _ar_params()

    def plan(self, request: Request) -> Plan:
        style = request.inputs["style_reference"]
        return Plan("synthesis", request.inputs["text"], request.params["language"],
                    request.inputs.get("timbre_reference") or style, style=style,
                    style_language=request.params["reference_language"])


class _Vevo15Editing(_Vevo15AR):
    summary = ("Changes the words to your new text; keeps the voice, the melody or intonation and the rhythm of the "
               "recording.")
    params = _ar_params(DURATION_RATIO, text="New text language", reference="Recording language")

    def plan(self, request: Request) -> Plan:
        recording = request.inputs["source"]
        vc.need_transcript(recording, "Recording")
        return Plan("recognition-synthesis", request.inputs["text"], request.params["language"], recording,
                    source=recording, style=recording, style_language=request.params["reference_language"],
                    use_style_tokens=True)


def _editing_inputs(what: str) -> tuple[InputSlot, ...]:
    return (_audio("source", f"Recording ({what})", f"The {what} to edit, with its transcript; its voice, melody and "
                                                    f"rhythm are kept.", ("content", "voice"), max_seconds=30.0,
                   needs_transcript=True),
            InputSlot("text", "text", "New words", max_chars=500,
                      help="The transcript as it should be: change a few words, keep the length similar."))


class Vevo15SingingEditing(_Vevo15Editing):
    id = "amphion.vevo15_edit_singing"
    name = "Vevo1.5 lyric editing"
    task = "svc"
    inputs = _editing_inputs("singing")


class Vevo15SpeechEditing(_Vevo15Editing):
    id = "amphion.vevo15_edit_speech"
    name = "Vevo1.5 speech editing"
    task = "vc"
    inputs = _editing_inputs("speech")


class Vevo15SingingStyle(_Vevo15AR):
    id = "amphion.vevo15_singing_style"
    name = "Vevo1.5 singing style conversion"
    task = "svc"
    summary = ("Takes the singing style (breathy, vibrato, belting...) from the reference; keeps the source's lyrics, "
               "melody and timbre.")
    inputs = (_audio("source", "Source singing", "The singing to restyle, with its lyrics as transcript.",
                     ("content", "voice"), max_seconds=30.0, needs_transcript=True),
              _audio("style_reference", "Style reference", "A sung clip in the style to take. " + STYLE_PROMPT_HELP,
                     ("style",), needs_transcript=True))
    params = _ar_params(DURATION_RATIO, text="Source lyrics language", reference="Reference lyrics language")

    def plan(self, request: Request) -> Plan:
        source = request.inputs["source"]
        return Plan("recognition-synthesis", vc.need_transcript(source, "Source singing"), request.params["language"],
                    source, source=source, style=request.inputs["style_reference"],
                    style_language=request.params["reference_language"], use_style_tokens=True)


class Vevo15Melody(_Vevo15AR):
    id = "amphion.vevo15_melody"
    name = "Vevo1.5 melody control"
    task = "svc"
    summary = "Sings your lyrics on the melody of a hummed, sung or played clip, in the reference's voice."
    inputs = (
        _audio("source", "Melody", "Humming, a sung line or an instrument (piano) playing the tune.", ("content",),
               max_seconds=30.0, sweet_spot=(3.0, 20.0)),
        InputSlot("text", "text", "Lyrics", max_chars=500, help="The words to sing on the melody."),
        _audio("timbre_reference", "Voice", "A clip of the voice to sing with.", ("voice",)),
        _audio("style_reference", "Style reference", "Optional: a sung clip whose singing style to take (often the "
                                                     "same as the voice). " + STYLE_PROMPT_HELP,
               ("style",), required=False, needs_transcript=True),
    )
    params = _ar_params(DURATION_RATIO, text="Lyrics language", reference="Style reference language")
    source_lacking = "there is no melody or prosody to follow"  # an instrument is as good as a voice

    def plan(self, request: Request) -> Plan:
        return Plan("recognition-synthesis", request.inputs["text"], request.params["language"],
                    request.inputs["timbre_reference"], source=request.inputs["source"],
                    style=request.inputs.get("style_reference"), style_language=request.params["reference_language"],
                    use_style_tokens=True)

