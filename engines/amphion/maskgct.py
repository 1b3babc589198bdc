"""MaskGCT: zero-shot speech from a reference clip and its transcript, by masked generative codec transformers
(text -> semantic tokens -> acoustic tokens -> 24 kHz audio). Amphion's `MaskGCT_Inference_Pipeline`, with
every argument of `maskgct_inference` as a param. The reference's codes are kept in the voice prompt cache, so the
adapter runs the pipeline's text-to-semantic step itself, with the cached semantic codes."""
from __future__ import annotations

from typing import Any

from ..contract import InputSlot, InvalidRequest, Param, Progress, Request, Result
from ..conversion_input import with_notes
from ..requirements import Requirements
from . import deps
from . import maskgct_parts as parts

STOCK_LAYERS = 12  # acoustic codebook layers of the released semantic-to-acoustic models
DEFAULT_SCHEDULE = (25, 10) + (1,) * (STOCK_LAYERS - 2)
MOST_STEPS = 100


class MaskGCT(parts.DurationOfOnePart, parts.MaskGCTFamily):
    id = "amphion.maskgct"
    name = "MaskGCT"
    task = "tts"
    summary = ("Zero-shot speech in the voice, style and recording of a short reference clip (with its "
               "transcript); non-autoregressive, six languages, duration under your control.")
    languages = parts.LANGUAGE_CODES
    sample_rate = parts.SAMPLE_RATE
    license = parts.LICENSE
    memory_mb = 10_000  # about 8.7 GB of fp32 weights (w2v-BERT, codecs, T2S, S2A) plus activations
    needs_transformers_4 = True
    requirements = Requirements(amphion=True, python=deps.MASKGCT, binaries=(deps.ESPEAK_NG,))
    weights = (*parts.CODEC_SETS, parts.T2S)
    inputs = (
        InputSlot("text", "text", "Text", max_chars=5_000, chunk_chars=parts.CHUNK_CHARS,
                  help="What to say. Long text is spoken in chunks of about 15 s, joined with a cross-fade."),
        InputSlot("reference", "audio", "Reference voice", min_seconds=1.0, max_seconds=30.0, sweet_spot=(3.0, 10.0),
                  needs_transcript=True, carries=("voice", "style"),
                  help="A clean clip of the voice and exactly what it says; its style and recording carry over."),
    )
    params = (
        Param("prompt_language", "choice", "en", label="Reference language", choices=parts.LANGUAGES,
              help="The language of the reference transcript (it selects the phonemizer)."),
        Param("target_language", "choice", "en", label="Text language", choices=parts.LANGUAGES,
              help="The language of the text to speak."),
        Param("target_duration", "float", 0.0, min=0.0, max=30.0, step=0.1, unit="s", label="Target duration",
              help="How long the speech lasts; 0 estimates it from the reference's speaking rate."),
        parts.seed_param(),
        Param("steps", "int", 25, min=15, max=100, step=1, unit="steps", label="Text-to-semantic steps",
              help="Mask-predict steps of the text-to-semantic model; more is slower and a little steadier."),
        Param("cfg", "float", 2.5, min=0.0, max=10.0, step=0.1, label="Guidance (text to semantic)", advanced=True,
              help="Classifier-free guidance: how strongly the text and reference steer the semantic tokens."),
        Param("rescale_cfg", "float", 0.75, min=0.0, max=1.0, step=0.05, label="Guidance rescale (text to semantic)",
              advanced=True, help="Blends the guided output back toward its original spread; reduces harshness."),
        Param("s2a_steps_first", "int", 25, min=1, max=100, step=1, unit="steps", label="Acoustic steps, layer 1",
              advanced=True, help="Steps for the first (coarsest) of the 12 acoustic codebook layers."),
        Param("s2a_steps_second", "int", 10, min=1, max=100, step=1, unit="steps", label="Acoustic steps, layer 2",
              advanced=True, help="Steps for the second acoustic codebook layer."),
        Param("s2a_steps_rest", "int", 1, min=1, max=50, step=1, unit="steps", label="Acoustic steps, layers 3-12",
              advanced=True, help="Steps for each of the remaining, finer layers."),
        Param("s2a_steps_per_layer", "text", "", label="Acoustic steps, every layer", advanced=True,
              help=f"Steps for each of the {STOCK_LAYERS} acoustic codebook layers, comma-separated, finest last "
                   f"(Amphion's default: {','.join(map(str, DEFAULT_SCHEDULE))}). When set, it replaces the three "
                   f"controls above."),
        Param("cfg_s2a", "float", 2.5, min=0.0, max=10.0, step=0.1, label="Guidance (semantic to acoustic)",
              advanced=True, help="Classifier-free guidance of the acoustic model."),
        Param("rescale_cfg_s2a", "float", 0.75, min=0.0, max=1.0, step=0.05,
              label="Guidance rescale (semantic to acoustic)", advanced=True,
              help="Rescale of the acoustic model's guidance."),
        parts.config_param(parts.STOCK_CONFIG),
    )

    def check_request(self, request: Request) -> None:
        stock = not request.params["config"].strip()  # a fine-tune may have another number of layers
        per_layer_steps(request.params["s2a_steps_per_layer"], STOCK_LAYERS if stock else None)

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        shared = parts.load_shared(self, options, parts.STOCK_CONFIG, device, progress)
        progress(0.8, "Loading the text-to-semantic model")
        rt = self.runtime
        with rt.session():
            from models.tts.maskgct.maskgct_utils import MaskGCT_Inference_Pipeline, build_t2s_model

            t2s = build_t2s_model(shared.cfg.model.t2s_model, device)
            rt.load_safetensors(t2s, shared.folders[parts.T2S] / "t2s_model/model.safetensors")
        return parts.assemble(MaskGCT_Inference_Pipeline, **vars(shared.codecs), t2s_model=t2s, device=device,
                              s2a_model_1layer=shared.s2a_model_1layer, s2a_model_full=shared.s2a_model_full,
                              audio_tokenizer=shared.audio_tokenizer)

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        p = request.params
        prompt_text = parts.transcript_of(request.inputs["reference"], "Reference voice")
        schedule = acoustic_schedule(p, model.s2a_model_full.num_quantizer)
        with self.runtime.session(), torch.no_grad():  # the G2P reads its vocabulary relative to the checkout
            progress(0.0, "Encoding the reference")
            reference = parts.encode_reference(request, "reference", "Reference voice", model.audio_tokenizer,
                                               model.device)
            parts.seed_everything(p["seed"])
            t2s = parts.StepCounter(progress.span(0.02, 0.45), p["steps"], "Text to semantic tokens")
            with t2s.counting([model.t2s_model.to_logit]):
                semantic = text_to_semantic(model, reference, prompt_text, request.inputs["text"], p)
            s2a = parts.StepCounter(progress.span(0.5, 0.97), sum(schedule), "Semantic to acoustic tokens")
            with s2a.counting([*model.s2a_model_1layer.to_logits, *model.s2a_model_full.to_logits]):
                _, audio = model.semantic2acoustic(semantic, reference.acoustic, n_timesteps=schedule,
                                                   cfg=p["cfg_s2a"], rescale_cfg=p["rescale_cfg_s2a"])
        progress(1.0, "Done")
        extras = with_notes({"t2s_steps": t2s.done, "s2a_steps": s2a.done}, reference.notes)
        return Result(audio.astype("float32"), parts.SAMPLE_RATE, extras)


def per_layer_steps(text: str, layers: int | None) -> list[int] | None:
    """The steps listed for each acoustic layer (None when the field is empty), or InvalidRequest saying what to
    write; `layers` is how many the model has (None: not known yet)."""
    if not text.strip():
        return None
    label = "Acoustic steps, every layer"
    values = [value.strip() for value in text.split(",")]
    if not all(value.isdigit() for value in values):
        raise InvalidRequest(f"{label}: {text.strip()!r} is not a list of whole numbers. Write one number of steps "
                             f"per layer, separated by commas, like {','.join(map(str, DEFAULT_SCHEDULE))}; or "
                             f"leave it empty.")
    steps = [int(value) for value in values]
    if layers is not None and len(steps) != layers:
        raise InvalidRequest(f"{label}: {len(steps)} values given, but this model has {layers} acoustic layers; "
                             f"give one number for each (or leave it empty).")
    if not all(1 <= step <= MOST_STEPS for step in steps):
        raise InvalidRequest(f"{label}: every layer needs 1 to {MOST_STEPS} steps.")
    return steps


def acoustic_schedule(p: dict[str, Any], layers: int) -> list[int]:
    """Steps per acoustic layer: the list the user wrote, or the three controls (layer 1, layer 2, the rest)."""
    listed = per_layer_steps(p["s2a_steps_per_layer"], layers)
    return listed or parts.s2a_schedule(p["s2a_steps_first"], p["s2a_steps_second"], p["s2a_steps_rest"], layers)


def text_to_semantic(model: Any, reference: parts.Reference, prompt_text: str, text: str,
                     p: dict[str, Any]) -> Any:
    """MaskGCT_Inference_Pipeline.text2semantic, given the reference's semantic codes (from the prompt cache):
    the reference's and the text's phones, the target length (asked for, or at the reference's speaking rate),
    then the text-to-semantic model's mask-predict. The reference's codes followed by the new ones."""
    import torch
    from models.tts.maskgct.maskgct_utils import g2p_

    from .vevo_common import phone_ids

    prompt_phones = phone_ids(g2p_, prompt_text, p["prompt_language"], "The reference transcript")
    target_phones = phone_ids(g2p_, text, p["target_language"], "The text")
    seconds = p["target_duration"] or len(reference.speech_16k) / 16_000 * len(target_phones) / len(prompt_phones)
    phones = torch.tensor([*prompt_phones, *target_phones], dtype=torch.long, device=model.device)
    predicted = model.t2s_model.reverse_diffusion(reference.semantic, int(seconds * 50), phones.unsqueeze(0),
                                                  n_timesteps=p["steps"], cfg=p["cfg"], rescale_cfg=p["rescale_cfg"])
    return torch.cat([reference.semantic, predicted], dim=-1)
