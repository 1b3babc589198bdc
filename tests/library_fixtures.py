"""Speech from the default engine, shaped into the reference clips the library tests need."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 24_000
LONG_TEXT = ("The quick brown fox jumps over the lazy dog. Welcome to the audio studio, where every voice is kept. "
             "A good reference is clean, clear and long enough. Seven silver swans swam slowly south.")


def hibari_speech(text: str, seed: int = 1) -> np.ndarray:
    from engines.builtin.hibari_tts import HibariTTS
    from engines.contract import Progress

    engine = HibariTTS()
    model = engine.load("cpu", Progress(), {"voice": "heart"})
    return engine.run(model, engine.validate({"text": text}, {"seed": seed}), Progress()).audio


def write(path: Path, audio: np.ndarray, sr: int = SR) -> Path:
    sf.write(str(path), audio.astype(np.float32), sr)
    return path


def padded(audio: np.ndarray, before: float = 2.0, after: float = 2.0, sr: int = SR) -> np.ndarray:
    return np.concatenate([np.zeros(int(before * sr)), audio, np.zeros(int(after * sr))]).astype(np.float32)


def noisy(audio: np.ndarray, level: float = 0.02, seed: int = 0) -> np.ndarray:
    return (audio + np.random.default_rng(seed).standard_normal(len(audio)) * level).astype(np.float32)


def clipped(audio: np.ndarray, gain: float = 8.0) -> np.ndarray:
    return np.clip(audio * gain, -1, 1).astype(np.float32)


def wav_bytes(audio: np.ndarray, sr: int = SR) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio.astype(np.float32), sr, format="WAV")
    return buffer.getvalue()
