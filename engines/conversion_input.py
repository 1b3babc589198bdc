"""What conversion engines check and note about the audio they are given (any format, rate and channel count)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .contract import EngineError

SILENCE_DBFS = -70.0  # a clip whose loudest sample is below this holds nothing to convert


def refuse_silence(audio: np.ndarray, what: str) -> None:
    """EngineError when `audio` is silent, saying so in words."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 10 ** (SILENCE_DBFS / 20):
        level = f"{20 * np.log10(peak):.0f} dBFS" if peak > 0 else "digital silence"
        raise EngineError(f"{what} is silent (its loudest moment is {level}): there is no voice to convert. "
                          f"Check the recording level, or pick another clip.")


@dataclass
class SourceAudio:
    """A clip read as mono at the rate a model works at, with what the reading did to it."""

    audio: np.ndarray
    sample_rate: int
    original_rate: int
    channels: int
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def read_source(path: str | Path, sample_rate: int, what: str = "The source audio") -> SourceAudio:
    """`path` as mono float32 at `sample_rate`; refuses silence; notes a channel mix-down and a narrow band."""
    from studio.audio.io import read_audio, resample, to_mono

    audio, rate = read_audio(path, mono=False)
    channels = 1 if audio.ndim == 1 else int(audio.shape[0])
    audio = to_mono(audio) if channels > 1 else audio.reshape(-1)
    refuse_silence(audio, what)
    notes = []
    if channels > 1:
        notes.append(f"{what} has {channels} channels; they were mixed to one.")
    if rate < sample_rate:
        notes.append(f"{what} is {rate / 1000:g} kHz; it was converted at {sample_rate / 1000:g} kHz, so nothing "
                     f"above {rate / 2000:g} kHz of it was there to convert.")
    if rate != sample_rate:
        audio = resample(audio, rate, sample_rate)
    return SourceAudio(np.ascontiguousarray(audio, dtype=np.float32), sample_rate, rate, channels, notes)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """`audio` cut or padded with silence to `length` samples (a conversion keeps its source's duration)."""
    if len(audio) >= length:
        return audio[:length]
    return np.pad(audio, (0, length - len(audio)))
