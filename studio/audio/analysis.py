"""Features for plots: a waveform envelope decimated to the plot's width, a log-mel spectrogram, an F0 contour.

Everything is sized for the browser: a few thousand points per trace and a spectrogram of at most a few
hundred kilobytes, whatever the audio's length.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

F0_METHODS = ("pyworld", "parselmouth")


@dataclass(frozen=True)
class Envelope:
    times: np.ndarray  # seconds, one per column
    low: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class Spectrogram:
    times: np.ndarray
    frequencies: np.ndarray  # Hz, centre of each mel band
    db: np.ndarray  # (bands, frames) uint8: 0 = floor_db, 255 = the loudest cell
    floor_db: float


@dataclass(frozen=True)
class PitchContour:
    times: np.ndarray
    hz: np.ndarray  # NaN where unvoiced
    method: str

    @property
    def voiced(self) -> np.ndarray:
        return self.hz[~np.isnan(self.hz)]


def envelope(audio: np.ndarray, sample_rate: int, columns: int = 1200) -> Envelope:
    """Min and max of each of `columns` equal slices: the waveform as a plot of that width shows it."""
    n = audio.shape[-1]
    columns = max(1, min(columns, n))
    edges = np.linspace(0, n, columns + 1).astype(int)
    low = np.minimum.reduceat(audio, edges[:-1]) if n else np.zeros(0, np.float32)
    high = np.maximum.reduceat(audio, edges[:-1]) if n else np.zeros(0, np.float32)
    times = (edges[:-1] + edges[1:]) / 2 / sample_rate
    return Envelope(times.astype(np.float32), low.astype(np.float32), high.astype(np.float32))


@lru_cache(maxsize=8)
def _mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=sample_rate / 2)


def log_mel(audio: np.ndarray, sample_rate: int, n_mels: int = 80, max_frames: int = 1000,
            dynamic_range_db: float = 80.0) -> Spectrogram:
    """Log-mel power spectrogram (25 ms windows); long audio gets a larger hop so frames stay ≤ max_frames."""
    n_fft = 1 << int(np.ceil(np.log2(0.025 * sample_rate)))
    hop = max(int(0.010 * sample_rate), int(np.ceil(max(len(audio) - n_fft, 0) / max(max_frames - 1, 1))))
    padded = np.pad(audio.astype(np.float32), (n_fft // 2, n_fft // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)) ** 2
    mel = _mel_filters(sample_rate, n_fft, n_mels) @ power.T
    db = 10 * np.log10(np.maximum(mel, 1e-10))
    top = db.max() if db.size else 0.0
    floor = top - dynamic_range_db
    scaled = np.clip((db - floor) / dynamic_range_db * 255, 0, 255).astype(np.uint8)
    import librosa

    freqs = librosa.mel_frequencies(n_mels=n_mels, fmin=0.0, fmax=sample_rate / 2)
    times = np.arange(scaled.shape[1]) * hop / sample_rate
    return Spectrogram(times.astype(np.float32), freqs.astype(np.float32), scaled, float(floor))


def pitch(audio: np.ndarray, sample_rate: int, method: str = "pyworld", hop_seconds: float = 0.01,
          fmin: float = 50.0, fmax: float = 1100.0, voicing_threshold: float = 0.45) -> PitchContour:
    """F0 in Hz every `hop_seconds` (NaN where unvoiced), by WORLD (DIO + StoneMask) or Praat.

    `voicing_threshold` is Praat's (0.45 by default; Amphion's metrics use 0.6).
    """
    if method == "pyworld":
        pyworld = import_pyworld()

        x = audio.astype(np.float64)
        f0, times = pyworld.dio(x, sample_rate, f0_floor=fmin, f0_ceil=fmax, frame_period=hop_seconds * 1000)
        f0 = pyworld.stonemask(x, f0, times, sample_rate)
    elif method == "parselmouth":
        import parselmouth

        snd = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=sample_rate)
        result = snd.to_pitch_ac(time_step=hop_seconds, pitch_floor=max(fmin, 3 / snd.duration if snd.duration else fmin),
                                 pitch_ceiling=fmax, voicing_threshold=voicing_threshold)
        f0, times = result.selected_array["frequency"], result.xs()
    else:
        raise ValueError(f"unknown F0 method {method!r}; use one of {', '.join(F0_METHODS)}")
    hz = np.where(f0 > 0, f0, np.nan).astype(np.float32)
    return PitchContour(np.asarray(times, dtype=np.float32), hz, method)


def import_pyworld():  # type: ignore[no-untyped-def]
    """pyworld, without the warning its `import pkg_resources` prints on every start."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import pyworld
    return pyworld


def hz_to_semitones(hz: np.ndarray, reference: float = 440.0) -> np.ndarray:
    return 12 * np.log2(hz / reference)


NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(hz: float) -> str:
    midi = int(round(69 + 12 * np.log2(hz / 440.0)))
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"
