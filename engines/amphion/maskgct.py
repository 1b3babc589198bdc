"""MaskGCT: zero-shot speech from a reference clip and its transcript, by masked generative codec transformers
(text -> semantic tokens -> acoustic tokens -> 24 kHz audio). Amphion's `MaskGCT_Inference_Pipeline`, with
every argument of `maskgct_inference` as a param."""
from __future__ import annotations

from typing import Any

from ..contract import InputSlot, Param, Progress, Request, Result
from ..requirements import Requirements
from . import deps
from . import maskgct_parts as parts

class MaskGCT(parts.DurationOfOnePart, parts.NeedsTranscript, parts.MaskGCTFamily):
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
        Param("cfg_s2a", "float", 2.5, min=0.0, max=10.0, step=0.1, label="Guidance (semantic to acoustic)",
              advanced=True, help="Classifier-free guidance of the acoustic model."),
        Param("rescale_cfg_s2a", "float", 0.75, min=0.0, max=1.0, step=0.05,
              label="Guidance rescale (semantic to acoustic)", advanced=True,
              help="Rescale of the acoustic model's guidance."),
        parts.config_param(parts.STOCK_CONFIG),
    )

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        shared = parts.load_shared(self, options, parts.STOCK_CONFIG, device, progress)
        progress(0.8, "Loading the text-to-semantic model")
        rt = self.runtime
        with rt.session():
            from models.tts.maskgct.maskgct_utils import MaskGCT_Inference_Pipeline, build_t2s_model

            t2s = build_t2s_model(shared.cfg.model.t2s_model, device)
            rt.load_safetensors(t2s, shared.folders[parts.T2S] / "t2s_model/model.safetensors")
        return parts.assemble(MaskGCT_Inference_Pipeline, **vars(shared.codecs), t2s_model=t2s, device=device,
                              s2a_model_1layer=shared.s2a_model_1layer, s2a_model_full=shared.s2a_model_full)

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import librosa
        import torch

        p = request.params
        reference = request.inputs["reference"]
        prompt_path = parts.audio_path(reference, "Reference voice")
        prompt_text = parts.transcript_of(reference, "Reference voice")
        parts.seed_everything(p["seed"])
        schedule = parts.s2a_schedule(p["s2a_steps_first"], p["s2a_steps_second"], p["s2a_steps_rest"],
                                      model.s2a_model_full.num_quantizer)
        target_len = p["target_duration"] or None
        with self.runtime.session():  # the G2P reads its vocabulary relative to the checkout
            progress(0.0, "Reading the reference")
            speech_16k = librosa.load(prompt_path, sr=16_000)[0]
            speech = librosa.load(prompt_path, sr=parts.SAMPLE_RATE)[0]
            t2s = parts.StepCounter(progress.span(0.02, 0.45), p["steps"], "Text to semantic tokens")
            with t2s.counting([model.t2s_model.to_logit]):
                semantic, _ = model.text2semantic(speech_16k, prompt_text, p["prompt_language"], request.inputs["text"],
                                                  p["target_language"], target_len, p["steps"], p["cfg"],
                                                  p["rescale_cfg"])
            progress(0.45, "Encoding the reference's acoustic tokens")
            acoustic = model.extract_acoustic_code(torch.tensor(speech).unsqueeze(0).to(model.device))
            s2a = parts.StepCounter(progress.span(0.5, 0.97), sum(schedule), "Semantic to acoustic tokens")
            with s2a.counting([*model.s2a_model_1layer.to_logits, *model.s2a_model_full.to_logits]):
                _, audio = model.semantic2acoustic(semantic, acoustic, n_timesteps=schedule, cfg=p["cfg_s2a"],
                                                   rescale_cfg=p["rescale_cfg_s2a"])
        progress(1.0, "Done")
        return Result(audio.astype("float32"), parts.SAMPLE_RATE, {"t2s_steps": t2s.done, "s2a_steps": s2a.done})
