"""The offline voice and singing converter: WORLD analysis and synthesis (pyworld), no download.

It moves pitch (by semitones, or to a target voice's register), moves formants (the vocal tract's size,
by a ratio or matched to the target), and keeps, flattens or deepens vibrato; timing is untouched. One
implementation serves two pages: the speech engine matches pitch freely, the singing engine keeps the
melody in tune by shifting in whole semitones or octaves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..contract import AudioInput, Engine, EngineError, InputSlot, Param, Progress, Request, Result
from ..conversion_input import NO_VOICE_IN_IT, refuse_silence
from ..requirements import PythonModule, Requirements
from . import world_dsp as dsp

MIN_RATE, MAX_RATE = 16_000, 48_000
MAX_SOURCE_SECONDS = 20 * 60

SOURCE = InputSlot("source", "audio", "Source audio", min_seconds=0.2, max_seconds=MAX_SOURCE_SECONDS,
                   help="The performance to convert: its words, timing and melody are kept.", carries=("content",))


def _target_slot(what: str) -> InputSlot:
    return InputSlot("reference", "audio", "Target voice", required=False, min_seconds=1.0, max_seconds=300.0,
                     sweet_spot=(5.0, 30.0), carries=("voice",),
                     help=f"A clip of the voice to sound like. Its {what} and vocal-tract size are "
                          f"matched; without it only the shifts below apply.")


def _params(*, singing: bool) -> tuple[Param, ...]:
    match_choices: tuple[tuple[Any, str], ...] = (
        ("off", "Off: only the transposition"),
        *((("semitone", "Nearest semitone: the target's register, melody in tune"),
           ("octave", "Nearest octave: the target's register, same key")) if singing else ()),
        ("mean", "Average pitch"),
        ("mean_range", "Average pitch and range"),
    )
    return (
        Param("pitch_match", "choice", "semitone" if singing else "mean", label="Pitch to the target",
              choices=match_choices,
              help="How the source's pitch follows the target voice (needs a target voice clip)."
                   + (" Semitone and octave shifts keep the song in tune with its backing." if singing else "")),
        Param("semitones", "float", 0.0, min=-24, max=24, step=1 if singing else 0.5, unit="st",
              label="Transpose", help="Moves the pitch up or down, after any matching; 12 is an octave."),
        Param("match_formants", "bool", True, label="Match formants to the target",
              help="Estimate the target's vocal-tract size from its clip and move the source's formants to it."),
        Param("formant_shift", "float", 1.0, min=0.7, max=1.4, step=0.01, unit="x", label="Formant shift",
              help="Above 1 moves formants up (smaller vocal tract, brighter); below 1 down (larger, darker). "
                   "Applied after any matching."),
        Param("vibrato", "float", 1.0, min=0.0, max=2.0, step=0.05, unit="x", advanced=not singing,
              help="Depth of the 4-8 Hz pitch wobble: 1 keeps it, 0 flattens it, 2 doubles it."),
        Param("f0_method", "choice", "harvest", label="Pitch tracker", advanced=True,
              choices=(("harvest", "Harvest (robust)"), ("dio", "DIO + StoneMask (about 10x faster)")),
              help="Harvest makes fewer octave errors; DIO is quicker on long recordings."),
        Param("f0_floor", "int", 70 if singing else 60, min=40, max=400, step=5, unit="Hz", advanced=True,
              label="Lowest pitch", help="The lowest pitch the tracker looks for; raise it if low noise is "
                                         "taken for voice."),
        Param("f0_ceiling", "int", 1100 if singing else 600, min=200, max=1600, step=10, unit="Hz", advanced=True,
              label="Highest pitch", help="The highest pitch the tracker looks for."),
    )


@dataclass(frozen=True)
class _Toolkit:
    """What 'loading' WORLD means: the imported modules, so the first job does not pay for the import."""

    pyworld: Any
    scipy_signal: Any


class _WorldConverter(Engine):
    """Shared implementation; the two registered engines below differ in task, params and pitch rounding."""

    family = "WORLD vocoder (DSP)"
    languages = ()  # any language, any voice
    sample_rate = 0  # the source's rate, kept between 16 and 48 kHz
    license = "WORLD: modified BSD; pyworld: MIT"
    memory_mb = 200
    requirements = Requirements(python=(PythonModule("pyworld", "pyworld"), PythonModule("scipy", "scipy")))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import scipy.signal

        from studio.audio.analysis import import_pyworld

        return _Toolkit(import_pyworld(), scipy.signal)

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        from studio.audio.io import read_audio, resample

        p = request.params
        if p["f0_floor"] >= p["f0_ceiling"]:
            raise EngineError(f"Lowest pitch ({p['f0_floor']} Hz) must be below highest pitch "
                              f"({p['f0_ceiling']} Hz).")
        tracker = (p["f0_method"], p["f0_floor"], p["f0_ceiling"])
        reference: AudioInput | None = request.inputs.get("reference")
        notes: list[str] = []

        progress(0.0, "Reading the source")
        audio, rate = read_audio(request.inputs["source"].path)
        refuse_silence(audio, "The source audio")
        work_rate = min(max(rate, MIN_RATE), MAX_RATE)
        if work_rate != rate:
            audio = resample(audio, rate, work_rate)
        if rate < MIN_RATE:
            notes.append(f"The source is {rate / 1000:g} kHz; it was converted at {work_rate / 1000:g} kHz and "
                         f"keeps its narrow bandwidth.")
        source = _Voice.analyse(resample(audio, work_rate, dsp.ANALYSIS_RATE), tracker, progress.span(0.0, 0.3),
                                frames=dsp.frame_count(len(audio), work_rate))
        if source.stats is None:
            notes.append("No pitched voice was found in the source (a whisper, noise or very short sounds): "
                         "the pitch was left alone and only the formants were changed.")

        shift, scale, formant = float(p["semitones"]), 1.0, float(p["formant_shift"])
        target: _Voice | None = None
        if p["pitch_match"] != "off" or p["match_formants"]:
            if reference is None:
                notes.append("No target voice clip was given: only the transposition and formant shift applied.")
            else:
                progress(0.3, "Listening to the target voice")
                target_audio, _ = read_audio(reference.path, dsp.ANALYSIS_RATE)
                refuse_silence(target_audio, "The target voice clip", NO_VOICE_IN_IT)
                target = _Voice.analyse(target_audio, tracker)
                if target.stats is None:
                    raise EngineError("The target voice clip has no pitched voice in it (it sounds like silence, "
                                      "noise or a whisper). Pick a clip where the target speaks or sings.")
        if source.stats is None:
            shift = 0.0
        elif target is not None and target.stats is not None:
            if p["pitch_match"] != "off":
                matched, scale = self._pitch_match(p["pitch_match"], source.stats, target.stats)
                shift += matched
            if p["match_formants"]:
                progress(0.35, "Comparing the vocal tracts")
                formant *= dsp.formant_ratio(source.envelope(), target.envelope(), dsp.ANALYSIS_RATE,
                                             dsp.ANALYSIS_RATE)

        new_f0 = dsp.scale_vibrato(dsp.map_f0(source.f0, shift, source.stats, scale), float(p["vibrato"]))
        cuts = dsp.quiet_cuts(source.levels_db, source.f0)
        converted = dsp.synthesise(audio, work_rate, source.f0, new_f0, formant, cuts, progress.span(0.4, 0.98))
        converted = _match_level(converted, audio)
        progress(1.0, "Done")
        extras: dict[str, Any] = {
            "semitones_applied": round(shift, 2), "range_scale": round(scale, 3), "formant_ratio": round(formant, 3),
            "source_rate": rate, "blocks": len(cuts) + 1,
            "source_median_hz": round(source.stats.median_hz, 1) if source.stats else None,
            "target_median_hz": round(target.stats.median_hz, 1) if target and target.stats else None,
        }
        if notes:
            extras["notes"] = notes
        return Result(converted, work_rate, extras)

    def _pitch_match(self, mode: str, source: dsp.PitchStats, target: dsp.PitchStats) -> tuple[float, float]:
        """(semitones to add, range scale) that bring the source's register to the target's."""
        difference = target.median_semitones - source.median_semitones
        if mode == "semitone":
            return float(round(difference)), 1.0
        if mode == "octave":
            return 12.0 * round(difference / 12), 1.0
        if mode == "mean_range":
            return difference, float(np.clip(target.spread_semitones / source.spread_semitones, 0.25, 4.0))
        return difference, 1.0


@dataclass(frozen=True)
class _Voice:
    """A clip at the analysis rate with its F0 contour, frame levels and where its voice sits."""

    audio: np.ndarray
    f0: np.ndarray
    levels_db: np.ndarray
    voicing: np.ndarray  # the reliably voiced frames
    stats: dsp.PitchStats | None

    @classmethod
    def analyse(cls, audio: np.ndarray, tracker: tuple[str, int, int], report: Progress | None = None,
                frames: int | None = None) -> _Voice:
        f0 = dsp.estimate_f0(audio, dsp.ANALYSIS_RATE, *tracker, report)
        if frames is not None:  # the frame count at the synthesis rate can differ by one
            f0 = f0[:frames] if len(f0) >= frames else np.pad(f0, (0, frames - len(f0)))
        levels = dsp.frame_levels_db(audio, dsp.ANALYSIS_RATE, len(f0))
        voicing = dsp.reliable_voicing(f0, levels)
        stats = dsp.pitch_stats(f0, voicing) if dsp.has_voice(voicing, levels) else None
        return cls(audio, f0, levels, voicing, stats)

    def envelope(self) -> np.ndarray:
        return dsp.mean_log_envelope(self.audio, dsp.ANALYSIS_RATE, self.f0, self.voicing)


def _match_level(converted: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The original's RMS level (within ±12 dB of what WORLD gave), never clipping."""
    rms_out = float(np.sqrt(np.mean(np.square(converted, dtype=np.float64))))
    rms_in = float(np.sqrt(np.mean(np.square(original, dtype=np.float64))))
    if rms_out > 0:
        converted = converted * float(np.clip(rms_in / rms_out, 0.25, 4.0))
    peak = float(np.max(np.abs(converted))) if converted.size else 0.0
    if peak > 0.99:
        converted = converted * (0.99 / peak)
    return converted.astype(np.float32)


class WorldVoiceConverter(_WorldConverter):
    id = "builtin.world_vc"
    name = "WORLD voice converter"
    task = "vc"
    summary = ("Offline DSP conversion, no download: moves the pitch and the vocal-tract size (formants) toward a "
               "target voice, or by the amounts you set. Keeps the words, timing and the speaker's own texture.")
    inputs = (SOURCE, _target_slot("average pitch, range"))
    params = _params(singing=False)


class WorldSingingConverter(_WorldConverter):
    id = "builtin.world_svc"
    name = "WORLD singing converter"
    task = "svc"
    summary = ("Offline DSP conversion for singing, no download: transposes in tune, moves formants toward a target "
               "singer, and keeps, flattens or deepens vibrato. Keeps the lyrics, timing and melody shape.")
    inputs = (SOURCE, _target_slot("register"))
    params = _params(singing=True)
