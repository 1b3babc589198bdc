"""Energy metrics (Amphion's energy_rmse and energy_pc): the L2 norm of each STFT frame's magnitudes
(n_fft 1024, window 1024, hop 256 at 22.05 kHz), in dB by default, compared on aligned frames.
"""
from __future__ import annotations

import numpy as np

from .base import Clip, Group, Item, Metric, Options, Scorers, finite
from .frames import N_FFT, frame_path, pearson, rmse

FLOOR = 1e-5  # keeps digitally silent frames finite in dB (-100 dB)

ENERGY_RMSE = Metric("energy_rmse", "Energy RMSE", "dB", "pair", False,
                     "RMSE of frame energy (dB unless energy_db is off).", amphion="energy_rmse")
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
