"""Measurements for conversion tests, independent of the converter's own code: Praat for pitch, numpy for
spectral envelopes, synthetic voices with a known pitch."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from studio.audio.analysis import pitch


def praat_f0(audio: np.ndarray, sample_rate: int, hop_seconds: float = 0.01) -> np.ndarray:
    """F0 in Hz by Praat's autocorrelation tracker (NaN where unvoiced)."""
    return pitch(audio.astype(np.float32), sample_rate, "parselmouth", hop_seconds=hop_seconds).hz


def median_semitones(audio: np.ndarray, sample_rate: int) -> float:
    """The median pitch over voiced frames, in semitones from A4."""
    f0 = praat_f0(audio, sample_rate)
    return float(np.median(12 * np.log2(f0[~np.isnan(f0)] / 440.0)))


def spread_semitones(audio: np.ndarray, sample_rate: int) -> float:
    f0 = praat_f0(audio, sample_rate)
    semitones = 12 * np.log2(f0[~np.isnan(f0)] / 440.0)
    low, high = np.percentile(semitones, [16, 84])
    return float((high - low) / 2)


def pitch_shift(source: np.ndarray, converted: np.ndarray, sample_rate: int) -> float:
    """Median per-frame pitch change in semitones over frames voiced in both (the timing is the same)."""
    a, b = praat_f0(source, sample_rate), praat_f0(converted, sample_rate)
    n = min(len(a), len(b))
    both = ~np.isnan(a[:n]) & ~np.isnan(b[:n])
    assert both.sum() > 20, "too few frames voiced in both clips to compare their pitch"
    return float(np.median(12 * np.log2(b[:n][both] / a[:n][both])))


def vibrato_depth_cents(audio: np.ndarray, sample_rate: int) -> float:
    """RMS of the 3.5-9 Hz pitch modulation, in cents (Praat F0 every 5 ms)."""
    from scipy.signal import butter, sosfiltfilt

    f0 = praat_f0(audio, sample_rate, hop_seconds=0.005)
    voiced = ~np.isnan(f0)
    cents = 1200 * np.log2(f0[voiced] / 440.0)
    band = sosfiltfilt(butter(2, (3.5, 9.0), btype="bandpass", fs=200.0, output="sos"), cents)
    return float(np.sqrt(np.mean(band[40:-40] ** 2)))  # without the filter's edges


def _frame_envelopes(audio: np.ndarray, sample_rate: int, n_fft: int = 1024, lifter: int = 30):
    hop = n_fft // 4
    count = (len(audio) - n_fft) // hop
    frames = audio[np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    cepstrum = np.fft.irfft(np.log(power + 1e-10), axis=1)
    cepstrum[:, lifter:-lifter] = 0  # keep the smooth envelope, drop the harmonics
    levels = 10 * np.log10(power.sum(axis=1) + 1e-12)
    return np.fft.rfftfreq(n_fft, 1 / sample_rate), np.fft.rfft(cepstrum, axis=1).real, levels


def envelope_ratio(source: np.ndarray, converted: np.ndarray, sample_rate: int) -> float:
    """How far the spectral envelope moved along frequency: per loud frame, the stretch that best maps the
    source's cepstrally smoothed envelope onto the converted one (250 Hz - 5 kHz, log frequency); the median."""
    freqs, a, la = _frame_envelopes(source, sample_rate)
    _, b, lb = _frame_envelopes(converted, sample_rate)
    n = min(len(a), len(b))
    loud = np.flatnonzero((la[:n] > np.percentile(la, 99) - 20) & (lb[:n] > np.percentile(lb, 99) - 20))
    grid = np.geomspace(250, 5000, 200)
    ratios = np.geomspace(0.6, 1.6, 161)
    best = []
    for i in loud:
        target = np.interp(grid, freqs, b[i])
        target -= target.mean()
        errors = [np.mean((w - w.mean() - target) ** 2) for w in (np.interp(grid / r, freqs, a[i]) for r in ratios)]
        best.append(ratios[int(np.argmin(errors))])
    return float(np.median(best))


def sung_tone(seconds: float, hz: float, sample_rate: int = 24_000, vibrato_cents: float = 0.0,
              vibrato_hz: float = 5.5, glide_semitones: float = 0.0) -> np.ndarray:
    """A harmonic 'voice' (sawtooth-like, 20 harmonics) with optional vibrato and a slow glide across the clip."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    cents = vibrato_cents * np.sin(2 * np.pi * vibrato_hz * t) + 100 * glide_semitones * np.sin(np.pi * t / seconds)
    phase = 2 * np.pi * np.cumsum(hz * 2 ** (cents / 1200)) / sample_rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 21))
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    return (0.3 * tone * fade).astype(np.float32)


def write(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    sf.write(str(path), audio.T if audio.ndim == 2 else audio, sample_rate)
    return path


@lru_cache(maxsize=1)
def _speech() -> tuple[np.ndarray, int]:
    from engines.contract import Progress
    from engines.registry import Registry

    from tests.conftest import SENTENCE

    engine = Registry().get("builtin.hibari")
    model = engine.load("cpu", Progress(), {"voice": "heart"})
    result = engine.run(model, engine.validate({"text": SENTENCE}, {"seed": 7}), Progress())
    return result.audio, result.sample_rate


def speech() -> tuple[np.ndarray, int]:
    """SENTENCE spoken by the default engine (made once per test session): real speech, 24 kHz."""
    audio, rate = _speech()
    return audio.copy(), rate
