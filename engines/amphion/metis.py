"""Metis: one masked generative model of speech tokens, fine-tuned per task. Zero-shot speech (MaskGCT's
text-to-semantic model in Metis's pipeline), voice conversion, speech enhancement and target-speaker extraction.

All four run the steps of Amphion's `Metis.__call__` with the MaskGCT codecs and semantic-to-acoustic models
(shared with MaskGCT, maskgct_parts.py); the adapter calls them one by one so that the voice prompt's codes come
from the voice prompt cache and a long source is converted in pieces. The fine-tunes come from `amphion/metis`:
VC as a full model, SE and TSE as the pre-trained base plus a LoRA and a condition adapter merged at load (peft,
as Metis does). Lip-to-speech and the Omni model are not offered: the checkout lacks
`models/tts/metis/vis_encoder.py` and `config/omni.json`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from ..contract import InputSlot, Param, Progress, Request, Result, Weights
from ..conversion_input import LONGEST_SOURCE_SECONDS, convert_in_pieces, read_source, with_notes
from ..requirements import Requirements
from . import deps
from . import maskgct_parts as parts

REPO = "amphion/metis"
S2A_STEPS = (40, 16)  # Metis fixes the acoustic steps: 40 for layer 1, 16 for layer 2, then 1 per layer
BASE = Weights("hub", REPO, ("metis_base/model.safetensors",), size_bytes=2_900_000_000, license=parts.LICENSE,
               label="Metis base", note="size estimated from the architecture")
VC = Weights("hub", REPO, ("metis_vc/metis_vc.safetensors",), size_bytes=2_960_000_000, license=parts.LICENSE,
             label="Metis VC", note="size estimated from the architecture")


def lora_set(task: str, label: str) -> Weights:
    return Weights("hub", REPO, (f"metis_{task}/metis_{task}_lora_32.safetensors",
                                 f"metis_{task}/metis_{task}_lora_32_adapter.safetensors"),
                   size_bytes=160_000_000, license=parts.LICENSE, label=f"Metis {label} (LoRA and adapter)",
                   note="size estimated from the LoRA rank and adapter width")


def steps_param(default: int) -> Param:
    return Param("steps", "int", default, min=1, max=100, step=1, unit="steps", label="Steps",
                 help="Mask-predict steps of the fine-tuned model; more is slower and a little steadier.")


def cfg_param(default: float) -> Param:
    return Param("cfg", "float", default, min=0.0, max=10.0, step=0.1, label="Guidance", advanced=True,
                 help="Classifier-free guidance: how strongly the conditions steer the tokens (0 turns it off).")


PIECE_SECONDS = (20.0, 30.0)  # a longer source is converted in pieces of 20 to 30 s (Metis was tuned on 30 s)
SOURCE_HELP = (f"Longer than 30 s is converted in parts cut in its pauses (up to {LONGEST_SOURCE_SECONDS / 60:g} min); "
               f"the result has its length.")


class MetisEngine(parts.MaskGCTFamily):
    """What the four Metis tasks share: the loader, and the acoustic stage with progress per step."""

    model_type: ClassVar[str] = ""
    stock_config: ClassVar[str] = ""
    stage1: ClassVar[tuple[Weights, ...]] = ()
    languages = parts.LANGUAGE_CODES
    sample_rate = parts.SAMPLE_RATE
    license = parts.LICENSE
    memory_mb = 9_500  # w2v-BERT, codecs, S2A and one 700M fine-tune in fp32, plus activations
    needs_transformers_4 = True
    requirements = Requirements(amphion=True, python=deps.METIS, binaries=(deps.ESPEAK_NG,))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        shared = parts.load_shared(self, options, self.stock_config, device, progress)
        progress(0.8, f"Loading Metis {self.model_type.upper()}")
        with self.runtime.session():
            from models.tts.metis.metis import Metis

            stage1 = self.load_stage1(self.runtime, shared.cfg, shared.folders, device)
        return parts.assemble(Metis, ckpt_path=None, cfg=shared.cfg, device=device, model_type=self.model_type,
                              audio_tokenizer=shared.audio_tokenizer, s2a_model_1layer=shared.s2a_model_1layer,
                              s2a_model_full=shared.s2a_model_full, metis_stage1=stage1)

    def load_stage1(self, rt: Any, cfg: Any, folders: dict[Weights, Any], device: str) -> Any:
        """A fully fine-tuned model: one safetensors file (Metis's `ckpt_path` branch)."""
        from models.tts.metis.metis import build_metis_stage1

        (weights,) = self.stage1
        stage1 = build_metis_stage1(cfg.model.t2s_model, device, self.model_type)
        rt.load_safetensors(stage1, folders[weights] / weights.files[0])
        return stage1

    def generate(self, model: Any, request: Request, progress: Progress, semantic_tokens: Callable[[], Any],
                 acoustic_prompt: Any) -> tuple[Any, dict[str, int]]:
        """What Metis.__call__ does after its task's first step: `semantic_tokens()` (the fine-tune's mask-predict),
        then the acoustic tokens and the 24 kHz waveform; each step reported, and the steps counted."""
        p = request.params
        layers = model.s2a_model_full.num_quantizer
        stage1 = parts.StepCounter(progress.span(0.0, 0.5), p["steps"], "Semantic tokens")
        s2a = parts.StepCounter(progress.span(0.5, 1.0), sum(S2A_STEPS) + layers - 2, "Acoustic tokens")
        with stage1.counting([model.metis_stage1.to_logit]):
            semantic = semantic_tokens()
        with s2a.counting([*model.s2a_model_1layer.to_logits, *model.s2a_model_full.to_logits]):
            acoustic = model.semantic2acoustic(semantic, acoustic_prompt)
        audio = model.audio_tokenizer.code2wav(acoustic)
        return audio.astype("float32"), {"steps": stage1.done, "s2a_steps": s2a.done}


class MetisConversion(MetisEngine):
    """VC, SE and TSE: a source (converted in pieces cut in its pauses when it is long) and, for VC and TSE, a
    voice prompt whose codes are kept in the voice prompt cache."""

    source_label: ClassVar[str] = "Source speech"
    prompt: ClassVar[tuple[str, str] | None] = None  # the prompt's slot and label

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        p = request.params
        counts: dict[str, int] = {}
        with self.runtime.session(), torch.no_grad():
            progress(0.0, "Reading the audio")
            source = read_source(parts.audio_path(request.inputs["source"], self.source_label), 16_000,
                                 self.source_label)
            prompt = parts.encode_reference(request, *self.prompt, model.audio_tokenizer, model.device) \
                if self.prompt else None
            parts.seed_everything(p["seed"])

            def convert(piece: Any, span: Progress) -> Any:
                def semantic_tokens() -> Any:
                    if prompt is None:
                        return model.speech2semantic_wo_prompt(piece, p["steps"], cfg=p["cfg"])
                    return model.speech2semantic_w_prompt(piece, prompt.speech_16k, prompt.semantic, p["steps"],
                                                          cfg=p["cfg"])

                audio, done = self.generate(model, request, span, semantic_tokens,
                                            prompt.acoustic if prompt else None)
                counts.update(done)
                return audio

            audio, blocks = convert_in_pieces(source, parts.SAMPLE_RATE, convert, progress.span(0.03, 0.99),
                                              PIECE_SECONDS)
        progress(1.0, "Done")
        notes = source.notes + (prompt.notes if prompt else [])
        return Result(audio, parts.SAMPLE_RATE, with_notes({**counts, "blocks": blocks}, notes))


class MetisTTS(parts.DurationOfOnePart, MetisEngine):
    id = "amphion.metis_tts"
    name = "Metis TTS"
    task = "tts"
    summary = ("Zero-shot speech from a reference clip and its transcript: MaskGCT's text-to-semantic model in "
               "Metis's pipeline (fixed acoustic settings, language detection).")
    model_type = "tts"
    stock_config = "models/tts/metis/config/tts.json"
    stage1 = (parts.T2S,)
    weights = (*parts.CODEC_SETS, parts.T2S)
    inputs = (
        InputSlot("text", "text", "Text", max_chars=5_000, chunk_chars=parts.CHUNK_CHARS,
                  help="What to say. Long text is spoken in chunks of about 15 s, joined with a cross-fade."),
        InputSlot("reference", "audio", "Reference voice", min_seconds=1.0, max_seconds=30.0, sweet_spot=(3.0, 10.0),
                  needs_transcript=True, carries=("voice", "style"),
                  help="A clean clip of the voice and exactly what it says."),
    )
    params = (
        Param("prompt_language", "choice", "en", label="Reference language",
              choices=(("auto", "Detect"), *parts.LANGUAGES),
              help="The language of the reference transcript; Detect asks langid (others than the six become en)."),
        Param("target_language", "choice", "en", label="Text language", choices=(("auto", "Detect"), *parts.LANGUAGES),
              help="The language of the text to speak."),
        Param("target_duration", "float", 0.0, min=0.0, max=30.0, step=0.1, unit="s", label="Target duration",
              help="How long the speech lasts; 0 estimates it from the text's length relative to the reference "
                   "transcript's."),
        parts.seed_param(),
        Param("steps", "int", 25, min=1, max=100, step=1, unit="steps", label="Steps",
              help="Mask-predict steps of the text-to-semantic model."),
        cfg_param(2.5),
        parts.config_param(stock_config),
    )

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        p = request.params
        language = {name: None if p[name] == "auto" else p[name] for name in ("prompt_language", "target_language")}
        prompt_text = parts.transcript_of(request.inputs["reference"], "Reference voice")
        with self.runtime.session(), torch.no_grad():
            progress(0.0, "Encoding the reference")
            reference = parts.encode_reference(request, "reference", "Reference voice", model.audio_tokenizer,
                                               model.device)
            parts.seed_everything(p["seed"])
            audio, counts = self.generate(
                model, request, progress.span(0.02, 0.99),
                lambda: model.text2semantic(request.inputs["text"], prompt_text, language["prompt_language"],
                                            language["target_language"], reference.semantic,
                                            p["target_duration"] or None, p["steps"], p["cfg"])[0],
                reference.acoustic)
        progress(1.0, "Done")
        return Result(audio, parts.SAMPLE_RATE, with_notes(counts, reference.notes))


class MetisVC(MetisConversion):
    id = "amphion.metis_vc"
    name = "Metis VC"
    task = "vc"
    summary = ("Voice conversion: the source's words, timing and intonation in the reference's voice "
               "(Metis fine-tuned for VC).")
    model_type = "vc"
    stock_config = "models/tts/metis/config/ft.json"
    stage1 = (VC,)
    weights = (*parts.CODEC_SETS, VC)
    inputs = (
        InputSlot("source", "audio", "Source speech", min_seconds=0.5, max_seconds=LONGEST_SOURCE_SECONDS,
                  help=SOURCE_HELP, carries=("content",)),
        InputSlot("reference", "audio", "Target voice", min_seconds=1.0, max_seconds=30.0, sweet_spot=(3.0, 10.0),
                  help="A clean clip of the voice to sound like.", carries=("voice",)),
    )
    params = (parts.seed_param(), steps_param(20), cfg_param(1.0), parts.config_param(stock_config))
    prompt = ("reference", "Target voice")


class MetisLoRAEngine(MetisConversion):
    """SE and TSE: the pre-trained base with a task's condition adapter and LoRA merged in, as Metis does."""

    def load_stage1(self, rt: Any, cfg: Any, folders: dict[Weights, Any], device: str) -> Any:
        import safetensors.torch
        from models.tts.metis.metis import build_metis_stage1_base, merge_adapter_weights, merge_lora_weights

        base, task = self.stage1
        stage1 = build_metis_stage1_base(cfg.model.t2s_model, device, ft_type=self.model_type)
        rt.load_safetensors(stage1, folders[base] / base.files[0], strict=False)  # the base has no adapter
        lora_file, adapter_file = (folders[task] / name for name in task.files)
        stage1 = merge_adapter_weights(stage1, safetensors.torch.load_file(str(adapter_file)), device)
        return merge_lora_weights(cfg.model.t2s_model, stage1, safetensors.torch.load_file(str(lora_file))).eval()


class MetisSE(MetisLoRAEngine):
    id = "amphion.metis_se"
    name = "Metis speech enhancement"
    task = "enhance"
    summary = "Cleans noisy or reverberant speech by regenerating it (Metis fine-tuned for enhancement, LoRA)."
    model_type = "se"
    stock_config = "models/tts/metis/config/se.json"
    stage1 = (BASE, lora_set("se", "SE"))
    weights = (*parts.CODEC_SETS, *stage1)
    inputs = (InputSlot("source", "audio", "Noisy speech", min_seconds=0.5, max_seconds=LONGEST_SOURCE_SECONDS,
                        help=SOURCE_HELP, carries=("content", "voice")),)
    params = (parts.seed_param(), steps_param(10), cfg_param(0.0), parts.config_param(stock_config))
    source_label = "Noisy speech"


class MetisTSE(MetisLoRAEngine):
    id = "amphion.metis_tse"
    name = "Metis target-speaker extraction"
    task = "enhance"
    summary = ("Keeps one speaker from a mixture of voices, the one an enrolment clip shows (Metis fine-tuned "
               "for extraction, LoRA).")
    model_type = "tse"
    stock_config = "models/tts/metis/config/tse.json"
    stage1 = (BASE, lora_set("tse", "TSE"))
    weights = (*parts.CODEC_SETS, *stage1)
    inputs = (
        InputSlot("source", "audio", "Mixture", min_seconds=0.5, max_seconds=LONGEST_SOURCE_SECONDS,
                  help="Speech with other voices over it. " + SOURCE_HELP, carries=("content",)),
        InputSlot("enrolment", "audio", "Enrolment (the speaker to keep)", min_seconds=1.0, max_seconds=30.0,
                  sweet_spot=(3.0, 10.0), help="A clean clip of the speaker to extract, on their own.",
                  carries=("voice",)),
    )
    params = (parts.seed_param(), steps_param(10), cfg_param(0.0), parts.config_param(stock_config))
    source_label = "Mixture"
    prompt = ("enrolment", "Enrolment")
