"""Reference-free quality of the generated clip: predicted MOS (DistillMOS, DNSMOS P.835), loudness and SNR.

Loudness and SNR are the studio's shared measures (studio/audio/quality.py).
"""
from __future__ import annotations

import numpy as np

from ..audio import quality
from .base import Group, Item, Metric, MetricError, Options, Scorers, finite

DISTILLMOS = Metric("distillmos", "DistillMOS", "", "clip", True,
                    "Predicted naturalness MOS, 1 (bad) to 5 (excellent).")
DNSMOS_OVRL = Metric("dnsmos_ovrl", "DNSMOS overall", "", "clip", True, "DNSMOS P.835 overall quality, 1 to 5.",
                     min_seconds=2.0)
DNSMOS_SIG = Metric("dnsmos_sig", "DNSMOS signal", "", "clip", True, "DNSMOS P.835 speech signal quality, 1 to 5.",
                    min_seconds=2.0)
DNSMOS_BAK = Metric("dnsmos_bak", "DNSMOS background", "", "clip", True,
                    "DNSMOS P.835 background quality (5 = no audible noise).", min_seconds=2.0)
DNSMOS_P808 = Metric("dnsmos_p808", "DNSMOS P.808", "", "clip", True, "DNSMOS P.808 MOS, 1 to 5.", min_seconds=2.0)
LOUDNESS = Metric("loudness_lufs", "Loudness", "LUFS", "clip", None,
                  "Integrated loudness, ITU-R BS.1770 (speech is usually mastered to -23 .. -16 LUFS).",
                  min_seconds=0.4)
SNR = Metric("snr_db", "Estimated SNR", "dB", "clip", True,
             "Speech power against the noise floor in the pauses (silero-vad finds the speech).")


def compute_distillmos(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    return {"distillmos": float(scorers.score("metric.distillmos", item.generated)["mos"])}


def compute_dnsmos(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    scores = scorers.score("metric.dnsmos", item.generated)
    return {"dnsmos_ovrl": scores["ovrl_mos"], "dnsmos_sig": scores["sig_mos"], "dnsmos_bak": scores["bak_mos"],
            "dnsmos_p808": scores["p808_mos"]}


def compute_loudness(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    clip = item.generated
    return {"loudness_lufs": finite(quality.loudness_lufs(clip.audio, clip.sample_rate), "Loudness")}


def compute_snr(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    clip = item.generated
    value = quality.snr_db(clip.audio, clip.sample_rate)
    if np.isnan(value):
        raise MetricError("no speech found in the generated clip, so there is no signal to compare with the noise.")
    if np.isinf(value):
        raise MetricError("the pauses are digital silence: there is no noise floor, so the SNR is unbounded.")
    return {"snr_db": value}


GROUPS = (
    Group("distillmos", (DISTILLMOS,), compute_distillmos),
    Group("dnsmos", (DNSMOS_OVRL, DNSMOS_SIG, DNSMOS_BAK, DNSMOS_P808), compute_dnsmos),
    Group("loudness", (LOUDNESS,), compute_loudness),
    Group("snr", (SNR,), compute_snr),
)
