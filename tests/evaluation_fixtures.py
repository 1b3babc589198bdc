"""Shared by the evaluation tests: real speech (Hibari, and eSpeak NG as a second, different voice), synthetic
signals, and the metric models loaded once per session."""
from __future__ import annotations

import ctypes
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.metrics import Clip, EngineScorers, Item, Options
from studio.services import Services, build_services
from studio.settings import Settings

SENTENCE_A = "The quick brown fox jumps over the lazy dog. Welcome to the audio studio."
SENTENCE_B = "Every voice in this studio is rendered on your own computer, quickly and quietly."
FAST = Options(periodicity_model="tiny")  # CREPE tiny keeps the suite fast; "full" is the same code


def hibari(text: str, seed: int = 0, speed: float = 1.0) -> tuple[np.ndarray, int]:
    from engines.contract import Progress, Request
    from engines.registry import Registry

    engine = Registry().get("builtin.hibari")
    model = _hibari_model(engine)
    result = engine.run(model, Request({"text": text}, {"voice": "heart", "speed": speed, "seed": seed}), Progress())
    return result.audio, result.sample_rate


_MODELS: dict[str, object] = {}


def _hibari_model(engine):  # type: ignore[no-untyped-def]
    from engines.contract import Progress

    if "hibari" not in _MODELS:
        _MODELS["hibari"] = engine.load("cpu", Progress(), {"voice": "heart"})
    return _MODELS["hibari"]


def espeak(text: str) -> tuple[np.ndarray, int]:
    """A second, clearly different voice: eSpeak NG (en-us) from the espeakng-loader wheel, in a child process.

    Not in this one: once the wheel's libespeak-ng is loaded here, phonemizer (the Amphion engines' G2P) gets it
    instead of the system's library, initialises it with the system's data, and eSpeak calls exit(1).
    """
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
        return child.submit(_espeak_here, text).result()


def _espeak_here(text: str) -> tuple[np.ndarray, int]:
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    chunks: list[np.ndarray] = []
    callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

    def collect(wave, count, _events):  # type: ignore[no-untyped-def]
        if count > 0:
            chunks.append(np.ctypeslib.as_array(wave, shape=(count,)).copy())
        return 0

    callback = callback_type(collect)
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    rate = lib.espeak_Initialize(2, 0, os.path.dirname(espeakng_loader.get_data_path()).encode(), 0)  # synchronous
    lib.espeak_SetSynthCallback(callback)
    lib.espeak_SetVoiceByName(b"en-us")
    lib.espeak_SetParameter(1, 150, 0)  # words per minute
    data = text.encode()
    lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 0, None, None)
    return np.concatenate(chunks).astype(np.float32) / 32768, rate


def tone(hz: float, seconds: float = 2.0, rate: int = 16_000, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def white_noise(n: int, seed: int = 0, amplitude: float = 0.1) -> np.ndarray:
    return (amplitude * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def write(path: Path, audio: np.ndarray, rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # float WAV (24-bit FLAC): what is written is what the metrics read, down to the quietest frames
    sf.write(str(path), audio, rate, subtype={".wav": "FLOAT", ".flac": "PCM_24"}.get(path.suffix))
    return path


def clip(path: Path, audio: np.ndarray, rate: int) -> Clip:
    return Clip.load(write(path, audio, rate))


def pair(folder: Path, reference: tuple[np.ndarray, int], generated: tuple[np.ndarray, int], text: str | None = None,
         name: str = "item") -> Item:
    return Item(name, clip(folder / f"gen-{name}.wav", *generated), clip(folder / f"ref-{name}.wav", *reference),
                text)


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[np.ndarray, int]]:
    """Hibari saying two sentences (one voice), and eSpeak NG saying the second (another voice)."""
    return {"a": hibari(SENTENCE_A), "b": hibari(SENTENCE_B), "other_voice": espeak(SENTENCE_B)}


@pytest.fixture(scope="session")
def session_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Services whose model manager keeps the metric models loaded across the session (not started: no worker)."""
    services = build_services(Settings.load(home=tmp_path_factory.mktemp("metrics-home")))
    yield services
    services.models.unload_all()


@pytest.fixture(scope="session")
def scorers(session_services: Services) -> EngineScorers:
    return EngineScorers(session_services.registry, session_services.models.use,
                         session_services.transcription.transcribe)


def fad_sets(folder: Path, speech: tuple[np.ndarray, int], clips: int = 3) -> None:
    """Three folders of `clips` files for set FAD: `ref` (speech at several gains), `same` (identical to ref) and
    `noise` (white noise)."""
    audio, rate = speech
    for n in range(clips):
        write(folder / "ref" / f"{n}.wav", audio * (0.5 + 0.2 * n), rate)
        write(folder / "same" / f"{n}.wav", audio * (0.5 + 0.2 * n), rate)
        write(folder / "noise" / f"{n}.wav", white_noise(rate * 3, seed=n, amplitude=0.3), rate)
