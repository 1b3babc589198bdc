"""F0 metrics (Amphion's f0rmse, fpc, v_uv_f1, f0_periodicity_rmse), on aligned frames.

F0 comes from Praat (parselmouth, Amphion's extractor: autocorrelation, voicing threshold 0.6) or WORLD (pyworld
DIO + StoneMask), 50-1100 Hz. RMSE and correlation use the frames voiced in both clips; Amphion also counts
unvoiced frames as 0 Hz, which mixes voicing errors into the pitch error (voicing has its own F1 here).

Amphion's f0rmse is in Hz with --f0_subtract_mean False and in median-subtracted cents with it True (its default):
here those are f0_rmse_hz and f0_rmse_cents_median, both always reported; f0_rmse_cents is absolute (cents from
A4), so a transposition shows. A set's V/UV F1 pools the voicing counts of all items, as Amphion does.
"""
from __future__ import annotations

import numpy as np

from ..audio.analysis import pitch
from .base import Clip, Group, Item, Metric, MetricError, Options, Scorers, finite
from .frames import frame_count, frame_path, on_grid, pearson, rmse

PRAAT_VOICING = 0.6  # Amphion's utils/f0.py
MIN_VOICED_FRAMES = 3

F0_RMSE_HZ = Metric("f0_rmse_hz", "F0 RMSE", "Hz", "pair", False,
                    "Root mean square F0 difference on frames voiced in both clips (Amphion's f0rmse with "
                    "--f0_subtract_mean False).", amphion="f0rmse")
F0_RMSE_CENTS = Metric("f0_rmse_cents", "F0 RMSE", "cents", "pair", False,
                       "F0 difference in absolute cents (100 = one semitone) on frames voiced in both clips, so a "
                       "transposition counts (f0_rmse_cents_median leaves it out).")
F0_RMSE_CENTS_MEDIAN = Metric("f0_rmse_cents_median", "F0 RMSE, median-subtracted", "cents", "pair", False,
                              "F0 difference in cents relative to each clip's median F0, on frames voiced in both "
                              "clips: the intonation error with the key left out (Amphion's default f0rmse, "
                              "--f0_subtract_mean True).", amphion="f0rmse")
FPC = Metric("fpc", "F0 Pearson correlation", "", "pair", True,
             "Pearson correlation of the two F0 contours in cents (log F0, as Amphion's default) on frames voiced "
             "in both clips.", amphion="fpc")
V_UV_F1 = Metric("v_uv_f1", "Voiced/unvoiced F1", "", "pair", True,
                 "F1 of the generated clip's voicing decisions against the reference's (voiced = positive); a set's "
                 "value pools the counts of all its items, as Amphion does.", amphion="v_uv_f1")
V_UV_COUNTS = ("v_uv_tp", "v_uv_fp", "v_uv_fn")  # kept with each item's v_uv_f1, so a set can pool them
PERIODICITY_RMSE = Metric("f0_periodicity_rmse", "Periodicity RMSE", "", "pair", False,
                          "RMSE of CREPE's frame periodicity (0 noise .. 1 pure tone); silent frames count as 0. Unlike "
                          "Amphion, CREPE searches from 50 Hz, not 0 Hz: from 0 Hz its Viterbi path sticks to the "
                          "lowest bin and periodicity is about 0 on all speech.",
                          amphion="f0_periodicity_rmse")


def f0_on_grid(clip: Clip, options: Options) -> np.ndarray:
    """The clip's F0 in Hz on its frame grid, NaN where unvoiced."""
    audio = clip.at(options.sample_rate)
    contour = pitch(audio, options.sample_rate, options.f0_method, options.hop_seconds, options.f0_min,
                    options.f0_max, voicing_threshold=PRAAT_VOICING)
    return on_grid(contour.times, contour.hz, frame_count(len(audio), options.hop_length), options)


def cents(hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F0 in cents from A4, and in cents from the clip's median F0."""
    absolute = 1200 * np.log2(hz / 440.0)
    return absolute, absolute - np.nanmedian(absolute)


def voicing_f1(true_pos: float, false_pos: float, false_neg: float) -> float:
    return true_pos / (true_pos + (false_pos + false_neg) / 2) if true_pos else 0.0


def compute_f0(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    reference, generated = item.pair()
    ref_f0, gen_f0 = f0_on_grid(reference, options), f0_on_grid(generated, options)
    for name, f0 in (("reference", ref_f0), ("generated", gen_f0)):
        if np.count_nonzero(~np.isnan(f0)) < MIN_VOICED_FRAMES:
            raise MetricError(f"the {name} clip has no voiced frames (no pitch found between "
                              f"{options.f0_min:g} and {options.f0_max:g} Hz): F0 metrics need voiced speech or singing.")
    (ref_cents, ref_relative), (gen_cents, gen_relative) = cents(ref_f0), cents(gen_f0)
    i, j = frame_path(item, options)
    ref_voiced, gen_voiced = ~np.isnan(ref_f0[i]), ~np.isnan(gen_f0[j])
    true_pos = int(np.sum(ref_voiced & gen_voiced))
    false_pos = int(np.sum(~ref_voiced & gen_voiced))
    false_neg = int(np.sum(ref_voiced & ~gen_voiced))
    values = {"v_uv_f1": voicing_f1(true_pos, false_pos, false_neg),
              **dict(zip(V_UV_COUNTS, (true_pos, false_pos, false_neg)))}
    both = ref_voiced & gen_voiced
    if true_pos < MIN_VOICED_FRAMES:
        raise MetricError(f"the clips share only {true_pos} voiced frames after alignment: too few to compare pitch "
                          f"(voiced/unvoiced F1 = {values['v_uv_f1']:.3f}).")
    a, b = ref_cents[i][both], gen_cents[j][both]
    values["f0_rmse_hz"] = rmse(ref_f0[i][both], gen_f0[j][both])
    values["f0_rmse_cents"] = rmse(a, b)
    values["f0_rmse_cents_median"] = rmse(ref_relative[i][both], gen_relative[j][both])
    values["fpc"] = finite(pearson(a, b), "The F0 correlation (a flat contour has none)")
    return values


def compute_periodicity(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    reference, generated = item.pair()
    params = {"model": options.periodicity_model, "hop_seconds": options.hop_seconds}
    tracks = []
    for clip in (reference, generated):
        result = scorers.score("metric.crepe", clip, params)
        n = frame_count(len(clip.at(options.sample_rate)), options.hop_length)
        tracks.append(np.nan_to_num(on_grid(result["times"], result["periodicity"], n, options)))
    i, j = frame_path(item, options)
    return {"f0_periodicity_rmse": rmse(tracks[0][i], tracks[1][j])}


GROUPS = (
    Group("f0", (F0_RMSE_HZ, F0_RMSE_CENTS, F0_RMSE_CENTS_MEDIAN, FPC, V_UV_F1), compute_f0),
    Group("periodicity", (PERIODICITY_RMSE,), compute_periodicity),
)
