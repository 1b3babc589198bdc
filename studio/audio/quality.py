"""Measures of a clip's technical quality: speech activity, silence at the ends, clipping, loudness, SNR.

Shared by the reference doctor (library), the evaluation metrics and the conversion pages. Speech activity
comes from silero-vad (offline, in its package); loudness is ITU-R BS.1770 integrated loudness (LUFS).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .io import resample

VAD_RATE = 16_000
FRAME_SECONDS = 0.02


@dataclass(frozen=True)
class Segment:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@lru_cache(maxsize=1)
def _vad_model():  # type: ignore[no-untyped-def]
    from silero_vad import load_silero_vad

    return load_silero_vad(onnx=True)


def speech_segments(audio: np.ndarray, sample_rate: int, min_silence: float = 0.1) -> list[Segment]:
    """Where someone speaks, in seconds (silero-vad; pauses shorter than `min_silence` do not split)."""
    import torch
    from silero_vad import get_speech_timestamps

    x = resample(audio.astype(np.float32), sample_rate, VAD_RATE)
    if len(x) < VAD_RATE // 10:
        return []
    stamps = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(x)), _vad_model(), sampling_rate=VAD_RATE,
                                   min_silence_duration_ms=int(min_silence * 1000), return_seconds=False)
    return [Segment(s["start"] / VAD_RATE, s["end"] / VAD_RATE) for s in stamps]


def clipping_ratio(audio: np.ndarray, threshold: float = 0.999) -> float:
    """Share of samples at (or within 0.1 % of) full scale: 0 for a clean clip, above ~0.001 is audible."""
    if audio.size == 0:
        return 0.0
    return float(np.mean(np.abs(audio) >= threshold))


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (BS.1770, LUFS); -inf for silence or clips shorter than one 400 ms block."""
    import pyloudnorm

    if audio.size < int(0.4 * sample_rate) or not np.any(audio):
        return float("-inf")
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio.astype(np.float64)))


def normalise_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float = -23.0,
                       peak_ceiling: float = 0.98) -> np.ndarray:
    """The clip at `target_lufs`, scaled down further if that would push its peak past `peak_ceiling`."""
    current = loudness_lufs(audio, sample_rate)
    if not np.isfinite(current):
        return audio.copy()
    gain = 10 ** ((target_lufs - current) / 20)
    peak = float(np.max(np.abs(audio))) * gain
    if peak > peak_ceiling:
        gain *= peak_ceiling / peak
    return (audio * gain).astype(np.float32)


def _frame_power(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    n = max(1, int(FRAME_SECONDS * sample_rate))
    frames = audio[: len(audio) // n * n].reshape(-1, n).astype(np.float64)
    return np.mean(frames**2, axis=1)


def snr_db(audio: np.ndarray, sample_rate: int, segments: list[Segment] | None = None) -> float:
    """Estimated signal-to-noise ratio: power in speech against the noise floor.

    The noise floor is the median power of the frames outside speech, or, when the clip has no pauses, of its
    quietest tenth of frames. +inf for digital silence between words, nan when nothing is speech.
    """
    power = _frame_power(audio, sample_rate)
    if power.size == 0:
        return float("nan")
    segments = speech_segments(audio, sample_rate) if segments is None else segments
    times = (np.arange(power.size) + 0.5) * FRAME_SECONDS
    in_speech = np.zeros(power.size, dtype=bool)
    for seg in segments:
        in_speech |= (times >= seg.start) & (times < seg.end)
    if not in_speech.any():
        return float("nan")
    speech = power[in_speech]
    pauses = power[~in_speech]
    noise = float(np.median(pauses)) if pauses.size >= 10 else float(np.percentile(power, 10))
    signal = float(np.mean(speech)) - noise
    if noise <= 1e-12:
        return float("inf")
    return float(10 * np.log10(max(signal, 1e-12) / noise))


@dataclass(frozen=True)
class QualityReport:
    duration: float
    sample_rate: int
    speech: tuple[Segment, ...]
    speech_ratio: float
    leading_silence: float
    trailing_silence: float
    clipping_ratio: float
    loudness_lufs: float
    snr_db: float
    peak: float


def measure(audio: np.ndarray, sample_rate: int) -> QualityReport:
    """Everything above, for one mono clip."""
    duration = len(audio) / sample_rate
    segments = speech_segments(audio, sample_rate)
    speech_time = sum(s.duration for s in segments)
    return QualityReport(
        duration=duration, sample_rate=sample_rate, speech=tuple(segments),
        speech_ratio=speech_time / duration if duration else 0.0,
        leading_silence=segments[0].start if segments else duration,
        trailing_silence=duration - segments[-1].end if segments else duration,
        clipping_ratio=clipping_ratio(audio), loudness_lufs=loudness_lufs(audio, sample_rate),
        snr_db=snr_db(audio, sample_rate, segments), peak=float(np.max(np.abs(audio))) if audio.size else 0.0)
