"""VALL-E v1 (Amphion's LibriTTS checkpoint): zero-shot English TTS, a codec language model over EnCodec tokens.

VALLEInference speaks the text in the voice of a reference clip whose transcript it needs (the text prompt), at
24 kHz. EnCodec 24 kHz comes from torch.hub's cache and is fetched separately (catalog trap 18). The AR decoder
samples with top-k and temperature; it stops at its end token or after 16 codec frames per phone. The reference's
EnCodec codes are kept in the voice prompt cache.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..contract import AudioInput, EngineError, InputSlot, Param, Progress, Request, Result
from . import deps
from .prompt_codes import encodec_cached
from .recipes import CONFIG, RecipeEngine, hub_folder, phones_explained, seed_everything

REPO = "amphion/valle_libritts"
FRAME_RATE = 75  # EnCodec 24 kHz frames per second


def decoding_progress(model: Any, progress: Progress) -> Any:
    """A hook on the AR decoder: a report every 25 frames, and the chance to cancel between them."""
    frames = [0]

    def hook(module: Any, inputs: Any) -> None:
        frames[0] += 1
        if frames[0] % 25 == 0:
            progress(None, f"Generating codec frames: {frames[0]} ({frames[0] / FRAME_RATE:.1f} s)")

    return model.ar_decoder.register_forward_pre_hook(hook)


class ValleTTS(RecipeEngine):
    id = "amphion.valle_v1"
    name = "VALL-E (v1)"
    summary = ("Amphion's first VALL-E (LibriTTS): English speech in the voice of a short reference clip and its "
               "transcript, sampled token by token from EnCodec's codes.")
    sample_rate = 24_000
    memory_mb = 2_500
    inputs = (
        InputSlot("text", "text", "Text", max_chars=10_000, chunk_chars=200, help="English text to speak."),
        InputSlot("reference", "audio", "Reference voice", min_seconds=1.0, max_seconds=20.0, sweet_spot=(3.0, 8.0),
                  needs_transcript=True, carries=("voice", "style"),
                  help="A clean clip of the voice and exactly what it says."),
    )
    params = (
        Param("temperature", "float", 1.0, min=0.1, max=2.0, step=0.05,
              help="Sampling temperature of the AR decoder: lower is steadier, higher more varied."),
        Param("top_k", "int", 0, min=0, max=1024, step=1, label="Top-k",
              help="Sample only among the k likeliest codes; 0 samples among all (Amphion's -100)."),
        Param("seed", "seed", -1, help="The same seed gives the same audio; -1 draws a new one."),
    )
    weights = (hub_folder(REPO, (CONFIG, "symbols.dict", "checkpoint/"), 1_600_000_000, "VALL-E LibriTTS"),
               deps.ENCODEC_24KHZ)

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from engines.weights import ensure

        folder = ensure(self.weights[0], progress.span(0, 0.6))
        ensure(self.weights[1], progress.span(0.6, 0.7))
        cfg = self.load_config(folder / CONFIG)
        recipe = self.build(cfg, progress.span(0.7, 1), acoustics_dir=str(folder))
        recipe.extras["folder"] = folder
        return recipe

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        reference: AudioInput = request.inputs["reference"]
        if not (reference.transcript or "").strip():
            raise EngineError("VALL-E needs the reference clip's transcript: type what it says, or press Transcribe.")
        params = request.params
        args = model.args
        args.text, args.text_prompt, args.audio_prompt = request.inputs["text"], reference.transcript.strip(), \
            reference.path
        args.top_k = params["top_k"] if params["top_k"] > 0 else -100
        args.temperature = params["temperature"]
        progress(0.0, "Encoding the reference")
        hook = decoding_progress(model.inference.model, progress)
        try:
            with self.runtime.session(), phones_explained(self.name, model.extras["folder"] / "symbols.dict"), \
                    encodec_cached(model.inference, "audio_tokenizer", request, reference):
                seed_everything(params["seed"])
                audio = model.inference.inference_for_single_utterance()
        except SyntaxError as exc:  # VALLE.inference: "well trained model shouldn't reach here."
            raise EngineError("VALL-E ended before saying anything (it chose its end token first). Try another "
                              "seed, or a reference clip whose transcript matches it exactly.") from exc
        finally:
            hook.remove()
        progress(1.0, "Done")
        return Result(np.asarray(audio, dtype=np.float32).reshape(-1), model.sample_rate)
