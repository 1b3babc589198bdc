"""Hibari: the embedded default speech engine (English, 24 kHz, Apache-2.0), offline from the first minute.

The "heart" voice ships inside the `hibari-tts` package; the other voices are 8 MB files in the hub
repository `maureesewilliams/hibari`, fetched by the weight manager into the standard Hugging Face cache on
first use (or from the Models page).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..contract import Engine, EngineError, InputSlot, InvalidRequest, Param, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements
from ..text_check import latin_or_digit, named, unreadable

HUB_REPO = "maureesewilliams/hibari"
# name -> (label, file in the hub repo or None when bundled, bytes)
VOICES: dict[str, tuple[str, str | None, int]] = {
    "heart": ("Heart (American, female; built in)", None, 7_936_868),
    "emma": ("Emma (British, female)", "bf_emma.int8.onnx", 7_936_868),
    "fenrir": ("Fenrir (American, male)", "am_fenrir_v2.int8.onnx", 8_031_158),
    "fable": ("Fable (British, male)", "bm_fable.int8.onnx", 7_936_868),
    "kore": ("Kore (American, female)", "af_kore.int8.onnx", 7_936_868),
}


class HibariTTS(Engine):
    id = "builtin.hibari"
    name = "Hibari"
    task = "tts"
    family = "Kokoro (distilled)"
    summary = "Fast English speech that needs no download: Kokoro's af_heart voice distilled to 8 MB, ~100x real time on a CPU."
    languages = ("en",)
    sample_rate = 24_000
    license = "Apache-2.0"
    memory_mb = 120  # measured by the model manager: about 115 MB (bench_engines.py)
    inputs = (
        InputSlot("text", "text", "Text", max_chars=20_000,
                  help="English text. Numbers, dates and abbreviations are read out; other scripts are skipped."),
    )
    params = (
        Param("voice", "choice", "heart", help="Heart is built in; the other voices download once (8 MB each).",
              choices=tuple((name, label) for name, (label, _, _) in VOICES.items()), affects_load=True),
        Param("speed", "float", 1.0, help="Speaking rate; 1.0 is the voice's natural pace.",
              min=0.5, max=2.0, step=0.05, unit="x"),
        Param("seed", "seed", -1, help="Fixes the voice's breath noise: the same seed gives identical audio. "
                                       "-1 picks a new one each time (the one used is kept with the result)."),
    )
    weights = tuple(
        Weights("package", label=f"Voice {name} (built in)", note="inside the hibari-tts package", size_bytes=size,
                license="Apache-2.0", when=(("voice", name),)) if file is None else
        Weights("hub", HUB_REPO, (f"voices/{file}",), size_bytes=size, license="Apache-2.0",
                label=f"Voice {name}", note="optional extra voice", when=(("voice", name),))
        for name, (_, file, size) in VOICES.items())
    requirements = Requirements(python=(PythonModule("hibari", "hibari-tts"),
                                        PythonModule("onnxruntime", "onnxruntime")))

    def check_request(self, request: Request) -> None:
        """Refuse text with nothing Hibari can speak (emoji only, another script) before a job is queued."""
        text = request.inputs["text"]
        if any(latin_or_digit(ch) for ch in text):
            return
        others = unreadable(text, latin_or_digit)
        raise InvalidRequest("Nothing in the text can be spoken: Hibari reads English words and numbers"
                             + (f", not {named(others)}" if others else "") + ". Type English words (emoji and "
                             "other scripts are skipped), or pick an engine that speaks the text's language.")

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from hibari import Hibari

        from engines.weights import ensure

        voice = (options or {}).get("voice", "heart")
        (weights,) = self.weights_for({"voice": voice})
        model_path = None if weights.source == "package" else str(
            ensure(weights, progress.span(0, 0.8), advice="Meanwhile the built-in voice 'heart' works offline.")
            / weights.files[0])
        progress(0.8, f"Loading voice {voice}")
        model = Hibari(voice=voice, model=model_path, threads=min(2, os.cpu_count() or 1))
        progress(0.9, "Warming up")
        model("Ready.", seed=0)  # loads the G2P and sizes onnxruntime's buffers, so both count in the footprint
        return model

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        text: str = request.inputs["text"]
        speed = float(request.params["speed"])
        seed = request.params["seed"]
        rng = np.random.default_rng(None if seed < 0 else seed)
        progress(0.0, "Reading the text")
        sentences = model.phonemize(text)
        parts: list[np.ndarray] = []
        for i, phonemes in enumerate(sentences):
            progress(i / len(sentences), f"Speaking sentence {i + 1} of {len(sentences)}")
            parts.append(model.from_ids(model.ids(phonemes), speed, rng))
        audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        if audio.size == 0:
            raise EngineError("Nothing in the text can be spoken: Hibari reads English, and skips emoji and "
                              "other scripts. Enter English words.")
        progress(1.0, "Done")
        return Result(audio.astype(np.float32, copy=False), self.sample_rate,
                      {"sentences": len(sentences), "phonemes": sentences})
