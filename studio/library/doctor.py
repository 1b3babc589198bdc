"""The reference doctor: measures a sample, says in plain words whether it makes a good voice reference, and
which one-click fix would help.

Measurements come from studio.audio.quality (silero-vad for speech, BS.1770 loudness, SNR, clipping) and are
stored with the sample; the verdict is computed from them each time, against the audio slots of the engines
registered now (their min/max seconds and sweet spot), so engines added later show up without a re-measure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from engines.contract import Engine

from ..audio import quality

Severity = Literal["ok", "warn", "bad"]

# Thresholds, chosen from what zero-shot cloning models are sensitive to.
MIN_GOOD_SECONDS = 3.0
LONG_SECONDS = 30.0
CLIPPING_AUDIBLE = 0.001
SPEECH_RATIO_LOW = 0.5
EDGE_SILENCE = 0.5
SNR_NOISY = 15.0
SNR_SOME_NOISE = 25.0
LOUDNESS_RANGE = (-30.0, -14.0)
LOW_RATE = 16_000
TARGET_LUFS = -23.0  # EBU R128: leaves headroom for the peaks of expressive speech


@dataclass(frozen=True)
class Finding:
    severity: Severity
    message: str
    fix: str | None = None  # the name of a fix in studio.library.fixes.FIXES


@dataclass(frozen=True)
class EngineFit:
    """How the sample's duration fits one engine's audio slot."""

    engine_id: str
    engine_name: str
    slot: str
    min_seconds: float | None
    max_seconds: float | None
    sweet_spot: tuple[float, float] | None
    fit: Literal["sweet", "ok", "too_short", "too_long"]

    @property
    def describe(self) -> str:
        parts = []
        if self.sweet_spot:
            parts.append(f"best {self.sweet_spot[0]:g}-{self.sweet_spot[1]:g} s")
        if self.min_seconds is not None or self.max_seconds is not None:
            low = f"{self.min_seconds:g}" if self.min_seconds is not None else "0"
            high = f"{self.max_seconds:g}" if self.max_seconds is not None else "any"
            parts.append(f"takes {low}-{high} s")
        return ", ".join(parts)


@dataclass(frozen=True)
class Report:
    measures: dict[str, Any]
    findings: tuple[Finding, ...]
    fits: tuple[EngineFit, ...]

    @property
    def verdict(self) -> Severity:
        severities = {f.severity for f in self.findings}
        return "bad" if "bad" in severities else "warn" if "warn" in severities else "ok"

    @property
    def summary(self) -> str:
        if self.verdict == "ok":
            return "A good reference: clean, clear speech of a useful length."
        worst = [f.message for f in self.findings if f.severity == self.verdict]
        lead = "Not a good reference yet" if self.verdict == "bad" else "Usable, but could be better"
        return f"{lead}: {worst[0][0].lower() + worst[0][1:]}"

    @property
    def fixes(self) -> list[str]:
        return list(dict.fromkeys(f.fix for f in self.findings if f.fix))

    @property
    def score(self) -> float:
        """Higher is better: used to pick a profile's best sample for an engine."""
        return -sum({"ok": 0, "warn": 1, "bad": 4}[f.severity] for f in self.findings)


def measure(audio: np.ndarray, sample_rate: int) -> dict[str, Any]:
    """The measurements the doctor keeps for a sample (plain JSON)."""
    report = quality.measure(audio, sample_rate)
    return {
        "duration": report.duration, "sample_rate": report.sample_rate, "speech_ratio": report.speech_ratio,
        "leading_silence": report.leading_silence, "trailing_silence": report.trailing_silence,
        "clipping_ratio": report.clipping_ratio, "loudness_lufs": _finite(report.loudness_lufs),
        "snr_db": _finite(report.snr_db), "peak": report.peak,
        "speech": [[s.start, s.end] for s in report.speech],
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else (None if math.isnan(value) else (1e3 if value > 0 else -1e3))


def fits(duration: float, engines: list[Engine]) -> list[EngineFit]:
    found = []
    for engine in engines:
        for slot in engine.inputs:
            if slot.kind != "audio" or (slot.sweet_spot is None and slot.min_seconds is None
                                        and slot.max_seconds is None):
                continue
            if slot.min_seconds is not None and duration < slot.min_seconds:
                fit = "too_short"
            elif slot.max_seconds is not None and duration > slot.max_seconds:
                fit = "too_long"
            elif slot.sweet_spot and slot.sweet_spot[0] <= duration <= slot.sweet_spot[1]:
                fit = "sweet"
            else:
                fit = "ok"
            found.append(EngineFit(engine.id, engine.name, slot.name, slot.min_seconds, slot.max_seconds,
                                   slot.sweet_spot, fit))  # type: ignore[arg-type]
    return found


def diagnose(measures: dict[str, Any], engines: list[Engine] = ()) -> Report:  # type: ignore[assignment]
    m = measures
    duration = m["duration"]
    findings: list[Finding] = []
    if m["speech_ratio"] == 0:
        findings.append(Finding("bad", "No speech was found in this clip. Record or upload someone speaking."))
    if m["clipping_ratio"] > CLIPPING_AUDIBLE:
        findings.append(Finding("bad", f"Clipped: {m['clipping_ratio']:.1%} of the samples hit full scale, which "
                                       f"distorts the voice. Record again with the level lower; no fix can undo it."))
    snr = m.get("snr_db")
    if snr is not None and m["speech_ratio"] > 0:
        if snr < SNR_NOISY:
            findings.append(Finding("bad", f"Noisy: speech is only {snr:.0f} dB above the background. Denoise it, "
                                           f"or record somewhere quieter.", "denoise"))
        elif snr < SNR_SOME_NOISE:
            findings.append(Finding("warn", f"Some background noise ({snr:.0f} dB SNR); denoising may help.",
                                    "denoise"))
    edges = max(m["leading_silence"], m["trailing_silence"])
    if m["speech_ratio"] > 0 and edges > EDGE_SILENCE:
        findings.append(Finding("warn", f"{m['leading_silence']:.1f} s of silence before the speech and "
                                        f"{m['trailing_silence']:.1f} s after it; trim it.", "trim"))
    elif 0 < m["speech_ratio"] < SPEECH_RATIO_LOW:
        findings.append(Finding("warn", f"Only {m['speech_ratio']:.0%} of the clip is speech; long pauses "
                                        f"teach a model to pause."))
    if duration < MIN_GOOD_SECONDS:
        findings.append(Finding("warn", f"Short ({duration:.1f} s): most voice-cloning models want 3 to 15 s."))
    elif duration > LONG_SECONDS:
        findings.append(Finding("warn", f"Long ({duration:.0f} s): most models use 5 to 15 s of reference; cut "
                                        f"the best window.", "best_window"))
    loudness = m.get("loudness_lufs")
    clipped = m["clipping_ratio"] > CLIPPING_AUDIBLE  # louder or softer, a clipped clip stays distorted
    in_range = loudness is None or LOUDNESS_RANGE[0] <= loudness <= LOUDNESS_RANGE[1]
    if m["speech_ratio"] > 0 and not clipped and not in_range:
        word = "Quiet" if loudness < LOUDNESS_RANGE[0] else "Loud"  # type: ignore[operator]
        findings.append(Finding("warn", f"{word} ({loudness:.0f} LUFS); normalise it to {TARGET_LUFS:g} LUFS.",
                                "normalise"))
    if m["sample_rate"] < LOW_RATE:
        findings.append(Finding("warn", f"Low sample rate ({m['sample_rate'] / 1000:g} kHz): it sounds muffled. "
                                        f"Record at 24 kHz or more if you can."))
    engine_fits = fits(duration, list(engines))
    out_of_range = [f for f in engine_fits if f.fit in ("too_short", "too_long")]
    if engine_fits and len(out_of_range) == len(engine_fits):
        findings.append(Finding("warn", "Its length is outside what every installed engine takes."))
    return Report(dict(measures), tuple(findings), tuple(engine_fits))
