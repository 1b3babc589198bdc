"""Energy metrics (Amphion's energy_rmse and energy_pc): the L2 norm of each STFT frame's magnitudes
(n_fft 1024, window 1024, hop 256 at 22.05 kHz), in dB by default, compared on aligned frames.
"""
from __future__ import annotations

import numpy as np

from .base import Clip, Group, Item, Metric, Options, Scorers, finite
from .frames import N_FFT, frame_path, pearson, rmse

FLOOR_DBFS = -80.0
# The frame energy of white noise at FLOOR_DBFS (RMS), Hann window: quieter frames count as that. Otherwise digital
# silence is -inf dB (Amphion then gets NaN and drops the file) and 16-bit dither in the pauses dominates the error.
FLOOR = 10 ** (FLOOR_DBFS / 20) * float(np.sqrt(N_FFT / 2 * np.sum(np.hanning(N_FFT + 1)[:-1] ** 2)))

ENERGY_RMSE = Metric("energy_rmse", "Energy RMSE", "dB", "pair", False,
                     "RMSE of frame energy (dB unless energy_db is off; frames below -80 dBFS count as -80).",
                     amphion="energy_rmse")
ENERGY_PC = Metric("energy_pc", "Energy Pearson correlation", "", "pair", True,
                   "Pearson correlation of the frame energy contours.", amphion="energy_pc")


def frame_energy(clip: Clip, options: Options) -> np.ndarray:
    import librosa

    spectrum = np.abs(librosa.stft(clip.at(options.sample_rate), n_fft=N_FFT, hop_length=options.hop_length,
                                   win_length=N_FFT))
    energy = np.linalg.norm(spectrum, axis=0)
    return 20 * np.log10(np.maximum(energy, FLOOR)) if options.energy_db else energy


def compute_energy(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    reference, generated = item.pair()
    ref, gen = frame_energy(reference, options), frame_energy(generated, options)
    i, j = frame_path(item, options)
    return {"energy_rmse": rmse(ref[i], gen[j]),
            "energy_pc": finite(pearson(ref[i], gen[j]), "The energy correlation")}


GROUPS = (Group("energy", (ENERGY_RMSE, ENERGY_PC), compute_energy),)
