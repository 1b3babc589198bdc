"""Frame-level comparison: both clips on one frame grid (hop `Options.hop_length` at `Options.sample_rate`), and the
path that pairs reference frames with generated frames.

Clips with the same number of frames are compared frame by frame. Otherwise `align="cut"` drops the longer
clip's tail (Amphion's "cut"), and `align="dtw"` pairs frames by dynamic time warping on MFCCs. (Amphion runs
DTW on the compared feature itself, e.g. the F0 values, which warps towards the smallest error it then reports;
aligning on the spectral content keeps the measured feature out of the alignment.)
"""
from __future__ import annotations

import numpy as np

from .base import Item, Options

N_FFT = 1024  # Amphion's energy STFT


def frame_count(n_samples: int, hop: int) -> int:
    """Frames of a centred STFT (librosa, torch and torchcrepe with padding all give this)."""
    return 1 + n_samples // hop


def frame_times(n_frames: int, options: Options) -> np.ndarray:
    return np.arange(n_frames) * options.hop_seconds


def on_grid(times: np.ndarray, values: np.ndarray, n_frames: int, options: Options) -> np.ndarray:
    """`values` sampled at `times`, moved to the clip's frame grid (nearest frame; NaN where nothing is near)."""
    grid = frame_times(n_frames, options)
    if not len(times):
        return np.full(n_frames, np.nan, dtype=np.float64)
    index = np.clip(np.searchsorted(times, grid), 1, len(times) - 1) if len(times) > 1 else np.zeros(n_frames, int)
    if len(times) > 1:
        left_closer = np.abs(grid - times[index - 1]) <= np.abs(grid - times[index])
        index = np.where(left_closer, index - 1, index)
    out = np.asarray(values, dtype=np.float64)[index]
    step = float(np.median(np.diff(times))) if len(times) > 1 else options.hop_seconds
    out[np.abs(grid - times[index]) > max(step, options.hop_seconds)] = np.nan
    return out


def _mfcc(audio: np.ndarray, options: Options) -> np.ndarray:
    import librosa

    mfcc = librosa.feature.mfcc(y=audio, sr=options.sample_rate, n_mfcc=14, n_fft=N_FFT, hop_length=options.hop_length)
    return mfcc[1:]  # c0 is loudness: leave level differences out of the alignment


def frame_path(item: Item, options: Options) -> tuple[np.ndarray, np.ndarray]:
    """Indices of paired frames (reference, generated) on the two clips' frame grids."""
    def compute() -> tuple[np.ndarray, np.ndarray]:
        import librosa

        reference, generated = item.pair()
        ref, gen = reference.at(options.sample_rate), generated.at(options.sample_rate)
        n_ref, n_gen = frame_count(len(ref), options.hop_length), frame_count(len(gen), options.hop_length)
        if n_ref == n_gen:
            return np.arange(n_ref), np.arange(n_gen)
        if options.align == "cut":
            n = min(n_ref, n_gen)
            item.note(f"Frame metrics compare the first {n * options.hop_seconds:.2f} s (align = cut).")
            return np.arange(n), np.arange(n)
        _, path = librosa.sequence.dtw(X=_mfcc(ref, options), Y=_mfcc(gen, options), metric="euclidean",
                                       backtrack=True)
        path = path[::-1]
        item.note("Frame metrics pair the clips' frames by dynamic time warping (the clips differ in length).")
        return path[:, 0], path[:, 1]
    return item.cached(("frame_path", options.sample_rate, options.hop_length, options.align), compute)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / denominator) if denominator > 0 else float("nan")


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(a, np.float64) - np.asarray(b, np.float64)))))
