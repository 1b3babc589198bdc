"""Qwen3-TTS (qwen-tts 0.1.1), run inside the qwen-tts runtime by engines/isolated/worker.py.

Calls the package's own API: `Qwen3TTSModel.from_pretrained(<local snapshot>)`, then `generate_voice_clone`
(Base checkpoints), `generate_custom_voice` (CustomVoice) or `generate_voice_design` (VoiceDesign), with the
sampling parameters those accept. Progress and cancellation inside generation come from forward hooks on the
talker (one call per 80 ms codec frame) and on the codec decoder. The voice-clone prompt
(`create_voice_clone_prompt`: the reference's codec frames and speaker embedding) is the `prompt` op: its
fields are saved to a file the studio caches, and `run` loads them.
"""
from __future__ import annotations

import importlib.metadata
from typing import Any

from engines.isolated.worker import InvalidRequest, Progress, on_each_call

FRAMES_PER_SECOND = 12.5
SAMPLING = ("do_sample", "temperature", "top_k", "top_p", "repetition_penalty", "subtalker_dosample",
            "subtalker_temperature", "subtalker_top_k", "subtalker_top_p", "max_new_tokens")


def versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in ("qwen-tts", "transformers", "torch")}


def load(device: str, options: dict[str, Any], weights: dict[str, str], progress: Progress) -> Any:
    import torch

    from qwen_tts import Qwen3TTSModel

    progress(0.1, "Loading Qwen3-TTS and its speech tokenizer")
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = Qwen3TTSModel.from_pretrained(weights["model"], device_map=device, dtype=dtype, attn_implementation="sdpa")
    expected = {"clone": "base", "custom": "custom_voice", "design": "voice_design"}[options.get("mode", "clone")]
    if model.model.tts_model_type != expected:
        raise InvalidRequest(f"The checkpoint in {weights['model']} is a {model.model.tts_model_type} model, not "
                             f"{expected}.")
    return model


def prompt(model: Any, inputs: dict[str, Any], params: dict[str, Any], output: str, progress: Progress) -> None:
    """The voice-clone prompt of the reference clip, its fields saved to `output` (tensors, flags, transcript)."""
    import dataclasses

    import torch

    reference = inputs["reference"]
    progress(0.02, "Encoding the reference voice")
    x_vector_only = bool(params.get("x_vector_only", False))
    (item,) = model.create_voice_clone_prompt(ref_audio=reference["path"],
                                              ref_text=None if x_vector_only else reference.get("transcript"),
                                              x_vector_only_mode=x_vector_only)
    torch.save(dataclasses.asdict(item), output)


def run(model: Any, inputs: dict[str, Any], params: dict[str, Any], output: str, progress: Progress) -> dict[str, Any]:
    import random

    import numpy as np
    import soundfile
    import torch

    seed = int(params.get("seed", -1))
    if seed >= 0:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
    sampling = {name: params[name] for name in SAMPLING if name in params}
    language = params.get("language", "Auto")
    text = inputs["text"]
    kind = model.model.tts_model_type
    limit = int(sampling.get("max_new_tokens", 2048))

    def generating(step: int) -> None:
        progress(0.1 + 0.8 * min(step / limit, 1.0), f"Generating speech: {step / FRAMES_PER_SECOND:.1f} s")

    def decoding(_: int) -> None:
        progress(0.92, "Decoding the codec frames to audio")

    with on_each_call(model.model.talker, generating), \
            on_each_call(model.model.speech_tokenizer.model.decoder, decoding):
        if kind == "base":
            from qwen_tts.inference.qwen3_tts_model import VoiceClonePromptItem

            reference = inputs.get("reference")
            if not reference or not reference.get("prompt"):
                raise InvalidRequest("Voice cloning needs a reference clip.")
            progress(0.03, "Using the reference voice")
            fields = torch.load(reference["prompt"], map_location=model.device, weights_only=True)
            wavs, rate = model.generate_voice_clone(text=text, language=language,
                                                    voice_clone_prompt=[VoiceClonePromptItem(**fields)], **sampling)
        elif kind == "custom_voice":
            progress(0.02, f"Speaking as {params['speaker']}")
            wavs, rate = model.generate_custom_voice(text=text, speaker=params["speaker"], language=language,
                                                     instruct=params.get("instruct") or None, **sampling)
        else:
            description = params.get("instruct", "").strip()
            if not description:
                raise InvalidRequest("Voice design needs a description of the voice (Voice description).")
            progress(0.02, "Designing the voice from its description")
            wavs, rate = model.generate_voice_design(text=text, instruct=description, language=language, **sampling)
    audio = np.asarray(wavs[0], dtype=np.float32)
    if audio.size == 0:
        raise InvalidRequest("The model produced no speech for this text; try another seed or temperature.")
    soundfile.write(output, audio, rate, subtype="FLOAT")
    frames = round(audio.size / model.model.speech_tokenizer.get_decode_upsample_rate())
    return {"sample_rate": int(rate), "extras": {"codec_frames": frames, "seed": seed, "model_type": kind}}
