"""VITS (Amphion's recipe, LJSpeech checkpoint): end-to-end English TTS at 22.05 kHz through VitsInference.

Inference does not need the monotonic_align extension: vits.py imports it under try/except and only training's
forward pass calls it, so an unbuilt checkout still speaks (the Training page reports the build command).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..contract import InputSlot, Param, Progress, Request, Result
from .recipes import CONFIG, SPEAKER, RecipeEngine, hub_folder, phones_explained, seed_everything, speaker_name

REPO = "amphion/vits_ljspeech"


class VitsTTS(RecipeEngine):
    id = "amphion.vits"
    name = "VITS"
    summary = ("Amphion's VITS trained on LJSpeech: one clear English female voice, end to end (no vocoder), fast "
               "enough for long texts.")
    sample_rate = 22_050
    memory_mb = 700
    inputs = (InputSlot("text", "text", "Text", max_chars=20_000, chunk_chars=300,
                        help="English text; espeak-ng turns it into phones."),)
    params = (
        Param("noise_scale", "float", 0.667, min=0.0, max=1.5, step=0.01, label="Noise scale",
              help="Variation of the voice from the prior: lower is flatter and steadier, higher more lively."),
        Param("noise_scale_w", "float", 0.8, min=0.0, max=1.5, step=0.01, label="Duration noise",
              help="Variation of the stochastic duration predictor: how much the rhythm varies."),
        Param("length_scale", "float", 1.0, min=0.5, max=2.0, step=0.05, unit="x", label="Length scale",
              help="Durations are multiplied by this: above 1 speaks slower, below 1 faster."),
        Param("seed", "seed", -1, help="The same seed gives the same audio; -1 draws a new one."),
        SPEAKER,
    )
    weights = (hub_folder(REPO, (CONFIG, "symbols.dict", "checkpoint/"), 520_000_000, "VITS LJSpeech"),)

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from engines.weights import ensure

        folder = ensure(self.weights[0], progress.span(0, 0.7))
        cfg = self.load_config(folder / CONFIG)
        recipe = self.build(cfg, progress.span(0.7, 1), acoustics_dir=str(folder))
        recipe.extras["folder"] = folder
        return recipe

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        folder = model.extras["folder"]
        model.args.text = request.inputs["text"]
        model.args.speaker_name = speaker_name(model.cfg, folder, request.params["speaker"])
        progress(0.1, "Speaking")
        with self.runtime.session(), phones_explained(self.name, folder / "symbols.dict"):
            seed_everything(request.params["seed"])
            audio = model.inference.inference_for_single_utterance(
                noise_scale=request.params["noise_scale"], noise_scale_w=request.params["noise_scale_w"],
                length_scale=request.params["length_scale"])
        progress(1.0, "Done")
        return Result(np.asarray(audio, dtype=np.float32).reshape(-1), model.sample_rate)
