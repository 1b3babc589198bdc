"""Plotly figures: one clip (waveform envelope, log-mel spectrogram, F0), or a conversion's source and result
together (F0 contours overlaid in semitones, both spectrograms), on a shared time axis.

Figures are plain dicts with arrays as base64 typed arrays (plotly.js 3 reads them natively), so a
10-minute clip costs the browser the same few hundred kilobytes as a 2-second one.
"""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

from studio.audio import analysis
from studio.audio.io import read_audio

from . import theme

_DTYPES = {np.dtype("float32"): "f4", np.dtype("uint8"): "u1"}
AXIS = {"gridcolor": theme.PLOT_GRID, "zeroline": False, "color": theme.PLOT_INK}


def typed(array: np.ndarray) -> dict[str, Any]:
    array = np.ascontiguousarray(array)
    spec: dict[str, Any] = {"dtype": _DTYPES[array.dtype], "bdata": base64.b64encode(array.tobytes()).decode()}
    if array.ndim == 2:
        spec["shape"] = f"{array.shape[0]}, {array.shape[1]}"
    return spec


def clip_figure(path: str | Path, f0_method: str = "pyworld", columns: int = 1200) -> dict[str, Any]:
    """The figure dict for the audio at `path` (runs the analysis: call it off the event loop)."""
    audio, sr = read_audio(path)
    env = analysis.envelope(audio, sr, columns)
    mel = analysis.log_mel(audio, sr)
    f0 = analysis.pitch(audio, sr, f0_method)
    duration = len(audio) / sr
    data = [
        {"type": "scatter", "x": typed(env.times), "y": typed(env.low), "mode": "lines", "line": {"width": 0},
         "hoverinfo": "skip", "showlegend": False, "xaxis": "x", "yaxis": "y"},
        {"type": "scatter", "x": typed(env.times), "y": typed(env.high), "mode": "lines", "fill": "tonexty",
         "line": {"width": 0.6, "color": theme.WAVE_COLOR}, "fillcolor": theme.WAVE_COLOR, "name": "waveform",
         "showlegend": False, "xaxis": "x", "yaxis": "y"},
        {"type": "heatmap", "x": typed(mel.times), "z": typed(mel.db),
         "colorscale": theme.SPECTROGRAM_COLORS, "showscale": False, "zmin": 0, "zmax": 255, "name": "log-mel",
         "hovertemplate": "%{x:.2f} s · mel band %{y}<extra></extra>", "xaxis": "x", "yaxis": "y2"},
        {"type": "scatter", "x": typed(f0.times), "y": typed(f0.hz), "mode": "lines", "connectgaps": False,
         "line": {"color": theme.F0_COLOR, "width": 2}, "name": "F0",
         "hovertemplate": "%{x:.2f} s · %{y:.1f} Hz<extra></extra>", "showlegend": False,
         "xaxis": "x", "yaxis": "y3"},
    ]
    layout = {
        **_base_layout(420),
        "xaxis": {**AXIS, "range": [0, duration], "title": {"text": "time (s)"}, "anchor": "y3"},
        "yaxis": {**AXIS, "domain": [0.72, 1.0], "range": [-1, 1], "title": {"text": "amplitude"}},
        "yaxis2": {**AXIS, "domain": [0.36, 0.68], "title": {"text": "Hz (mel)"}, **_mel_ticks(mel.frequencies)},
        "yaxis3": {**AXIS, "domain": [0.0, 0.32], "title": {"text": f"F0 Hz ({f0_method})"},
                   "range": _f0_range(f0)},
        "uirevision": str(path),
    }
    return {"data": data, "layout": layout, "config": theme.PLOT_CONFIG}


def comparison_figure(source: str | Path, converted: str | Path, f0_method: str = "pyworld", *,
                      note_names: bool = False) -> dict[str, Any]:
    """Source and converted clip on one time axis: both F0 contours in semitones (note names for singing,
    Hz for speech), then each clip's log-mel spectrogram. Runs the analysis: call it off the event loop."""
    clips = []
    for label, path, color, dash in (("source", source, theme.SOURCE_COLOR, "dot"),
                                     ("converted", converted, theme.F0_COLOR, "solid")):
        audio, sr = read_audio(path)
        clips.append((label, color, dash, len(audio) / sr, analysis.log_mel(audio, sr),
                      analysis.pitch(audio, sr, f0_method)))
    duration = max(c[3] for c in clips)
    data: list[dict[str, Any]] = []
    semitone_values = []
    for label, color, dash, _, _, f0 in clips:
        semitones = analysis.hz_to_semitones(f0.hz).astype(np.float32)
        semitone_values.append(semitones[~np.isnan(semitones)])
        data.append({"type": "scatter", "x": typed(f0.times), "y": typed(semitones), "mode": "lines",
                     "connectgaps": False, "line": {"color": color, "width": 2, "dash": dash}, "name": label,
                     "customdata": typed(f0.hz), "xaxis": "x", "yaxis": "y",
                     "hovertemplate": f"{label} · %{{x:.2f}} s · %{{customdata:.1f}} Hz<extra></extra>"})
    for row, (label, _, _, _, mel, _) in enumerate(clips, start=2):
        data.append({"type": "heatmap", "x": typed(mel.times), "z": typed(mel.db),
                     "colorscale": theme.SPECTROGRAM_COLORS, "showscale": False, "zmin": 0, "zmax": 255,
                     "name": label, "hovertemplate": f"{label} · %{{x:.2f}} s · mel band %{{y}}<extra></extra>",
                     "xaxis": "x", "yaxis": f"y{row}"})
    voiced = np.concatenate(semitone_values)
    layout = {
        **_base_layout(560),
        "showlegend": True, "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "xaxis": {**AXIS, "range": [0, duration], "title": {"text": "time (s)"}, "anchor": "y3"},
        "yaxis": {**AXIS, "domain": [0.56, 1.0], **_pitch_axis(voiced, note_names)},
        "yaxis2": {**AXIS, "domain": [0.28, 0.52], "title": {"text": "source"}, **_mel_ticks(clips[0][4].frequencies)},
        "yaxis3": {**AXIS, "domain": [0.0, 0.24], "title": {"text": "converted"},
                   **_mel_ticks(clips[1][4].frequencies)},
        "uirevision": str(converted),
    }
    return {"data": data, "layout": layout, "config": theme.PLOT_CONFIG}


def _base_layout(height: int) -> dict[str, Any]:
    return {"height": height, "margin": {"l": 56, "r": 12, "t": 8, "b": 36},
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": theme.PLOT_INK}}


def _pitch_axis(semitones: np.ndarray, note_names: bool) -> dict[str, Any]:
    """A semitone axis (0 = A4) labelled with note names, or with round frequencies in Hz."""
    low, high = (np.percentile(semitones, [1, 99]) if semitones.size else (-24.0, 0.0))
    low, high = float(np.floor(low - 2)), float(np.ceil(high + 2))
    if note_names:
        naturals = [s for s in range(int(low), int(high) + 1) if "#" not in _note(s)]
        span = high - low
        letters = "CDEFGAB" if span <= 18 else "CG" if span <= 36 else "C"
        marks = [s for s in naturals if _note(s)[0] in letters]
        text = [_note(s) for s in marks]
        title = "pitch (note)"
    else:
        hz = [f for f in (50, 70, 100, 150, 200, 300, 400, 600, 800, 1200) if low <= 12 * np.log2(f / 440) <= high]
        marks = [float(12 * np.log2(f / 440)) for f in hz]
        text = [f"{f} Hz" for f in hz]
        title = "pitch (log scale)"
    return {"range": [low, high], "tickvals": marks, "ticktext": text, "title": {"text": title}}


def _note(semitones: float) -> str:
    return analysis.note_name(440.0 * 2 ** (semitones / 12))


def _mel_ticks(frequencies: np.ndarray) -> dict[str, Any]:
    """Tick marks at round frequencies on an axis of mel band indices."""
    marks = [f for f in (100, 500, 1000, 2000, 4000, 8000, 16000) if f < frequencies[-1]]
    return {"tickvals": [int(np.argmin(np.abs(frequencies - f))) for f in marks],
            "ticktext": [f"{f // 1000}k" if f >= 1000 else str(f) for f in marks],
            "range": [-0.5, len(frequencies) - 0.5]}


def _f0_range(f0: analysis.PitchContour) -> list[float]:
    voiced = f0.voiced
    if voiced.size == 0:
        return [50.0, 500.0]
    low, high = np.percentile(voiced, [2, 98])
    return [float(max(low * 0.8, 30.0)), float(high * 1.2)]
