"""Plotly figures of audio on a shared time axis: one clip (waveform envelope, log-mel spectrogram, F0); several
clips compared (overlaid or stacked); or a conversion's source and result (F0 in semitones, both spectrograms).

Figures are plain dicts with arrays as base64 typed arrays (plotly.js 3 reads them natively), so a
10-minute clip costs the browser the same few hundred kilobytes as a 2-second one.
"""
from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from studio.audio import analysis
from studio.audio.io import read_audio

from . import theme

_DTYPES = {np.dtype("float32"): "f4", np.dtype("uint8"): "u1"}
A4 = 440.0
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
    data = [*_envelope_traces(env, theme.WAVE_COLOR, "waveform"), _mel_trace(mel, "y2"),
            _f0_trace(f0, theme.F0_COLOR, "F0", "y3")]
    layout = {
        **_base_layout(len(audio) / sr, 420, "y3"),
        "yaxis": {**AXIS, "domain": [0.72, 1.0], "range": [-1, 1], "title": {"text": "amplitude"}},
        "yaxis2": {**AXIS, "domain": [0.36, 0.68], "title": {"text": "Hz (mel)"}, **_mel_ticks(mel.frequencies)},
        "yaxis3": {**AXIS, "domain": [0.0, 0.32], "title": {"text": f"F0 Hz ({f0_method})"}, "range": _f0_range([f0])},
        "uirevision": str(path),
    }
    return {"data": data, "layout": layout, "config": theme.PLOT_CONFIG}


VIEWS = {"waveform": "Waveform", "spectrogram": "Spectrogram", "f0": "F0"}
ARRANGEMENTS = {"overlay": "Overlaid", "stacked": "Stacked"}


def comparison_figure(clips: Sequence[tuple[str, str | Path]], view: str = "waveform", arrangement: str = "overlay",
                      f0_method: str = "pyworld", columns: int = 1200) -> dict[str, Any]:
    """Several clips, given as (label, path), on one time axis: overlaid in one plot (waveform, F0) or stacked one
    row per clip (any view; spectrograms are always stacked). Runs the analysis: call it off the event loop."""
    if view not in VIEWS or arrangement not in ARRANGEMENTS:
        raise ValueError(f"unknown view {view!r} or arrangement {arrangement!r}")
    stacked = arrangement == "stacked" or view == "spectrogram"
    rows = len(clips) if stacked else 1
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {}
    longest, contours, annotations = 0.0, [], []
    gap = 0.04 if rows > 1 else 0.0
    for i, (label, path) in enumerate(clips):
        color = theme.CLIP_COLORS[i % len(theme.CLIP_COLORS)]
        row = i if stacked else 0
        axis = "y" if row == 0 else f"y{row + 1}"
        duration, feature = _analysed(str(path), _mtime(path), view, f0_method, columns)
        longest = max(longest, duration)
        if view == "waveform":
            data += _envelope_traces(feature, color, label, axis, legend=not stacked, opacity=1.0 if stacked else 0.45)
        elif view == "spectrogram":
            data.append(_mel_trace(feature, axis))
        else:
            contours.append(feature)
            data.append(_f0_trace(feature, color, label, axis, legend=not stacked))
        if row == i:  # a new row: its own y axis, and the clip's label in its corner when stacked
            top = 1 - row / rows
            upper = top - gap / 2 if row else top
            layout["yaxis" if row == 0 else f"yaxis{row + 1}"] = {
                **AXIS, "domain": [max(top - 1 / rows + gap / 2, 0), upper], "title": {"text": _VIEW_UNITS[view]},
                **({"range": [-1, 1]} if view == "waveform" else {}),
                **(_mel_ticks(feature.frequencies) if view == "spectrogram" else {}),
            }
            if stacked:
                annotations.append({"text": label, "xref": "paper", "yref": "paper", "x": 0.005, "y": upper,
                                    "xanchor": "left", "yanchor": "top", "showarrow": False,
                                    "bgcolor": "rgba(128,128,128,0.35)", "font": {"color": "#ffffff"}})
    if view == "f0":
        for name in [k for k in layout if k.startswith("yaxis")]:
            layout[name]["range"] = _f0_range(contours)
    height = 60 + 150 * rows if stacked else 340
    figure_layout = {**_base_layout(longest, height, "y" if rows == 1 else f"y{rows}"), **layout,
                     "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0}, "annotations": annotations,
                     "uirevision": f"{view}:{arrangement}:" + ",".join(str(p) for _, p in clips)}
    return {"data": data, "layout": figure_layout, "config": theme.PLOT_CONFIG}


_VIEW_UNITS = {"waveform": "amplitude", "spectrogram": "Hz (mel)", "f0": "F0 Hz"}


def conversion_figure(source: str | Path, converted: str | Path, f0_method: str = "pyworld", *,
                      note_names: bool = False) -> dict[str, Any]:
    """Source and converted clip on one time axis: both F0 contours in semitones (from A4, labelled with note names,
    for singing; from the source's median F0 for speech), then each clip's log-mel spectrogram. Runs the analysis:
    call it off the event loop."""
    clips = []
    for label, path, color, dash in (("source", source, theme.SOURCE_COLOR, "dot"),
                                     ("converted", converted, theme.F0_COLOR, "solid")):
        audio, sr = read_audio(path)
        clips.append((label, color, dash, len(audio) / sr, analysis.log_mel(audio, sr),
                      analysis.pitch(audio, sr, f0_method)))
    source_voiced = clips[0][5].voiced
    reference, origin = (float(np.median(source_voiced)), "the source's median") if source_voiced.size \
        and not note_names else (A4, "A4")
    data: list[dict[str, Any]] = []
    semitone_values = []
    for label, color, dash, _, _, f0 in clips:
        semitones = analysis.hz_to_semitones(f0.hz, reference).astype(np.float32)
        semitone_values.append(semitones[~np.isnan(semitones)])
        data.append({"type": "scatter", "x": typed(f0.times), "y": typed(semitones), "mode": "lines",
                     "connectgaps": False, "line": {"color": color, "width": 2, "dash": dash}, "name": label,
                     "customdata": typed(f0.hz), "xaxis": "x", "yaxis": "y",
                     "hovertemplate": f"{label} · %{{x:.2f}} s · %{{y:+.1f}} st · %{{customdata:.1f}} Hz"
                                      "<extra></extra>"})
    for row, (label, _, _, _, mel, _) in enumerate(clips, start=2):
        data.append({**_mel_trace(mel, f"y{row}"), "name": label,
                     "hovertemplate": f"{label} · %{{x:.2f}} s · mel band %{{y}}<extra></extra>"})
    values = np.concatenate(semitone_values)
    layout = {
        **_base_layout(max(c[3] for c in clips), 560, "y3"),
        "showlegend": True, "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "yaxis": {**AXIS, "domain": [0.56, 1.0],
                  **(_note_axis(values) if note_names else _semitone_axis(values, reference, origin))},
        "yaxis2": {**AXIS, "domain": [0.28, 0.52], "title": {"text": "source"}, **_mel_ticks(clips[0][4].frequencies)},
        "yaxis3": {**AXIS, "domain": [0.0, 0.24], "title": {"text": "converted"},
                   **_mel_ticks(clips[1][4].frequencies)},
        "uirevision": str(converted),
    }
    return {"data": data, "layout": layout, "config": theme.PLOT_CONFIG}


def _pitch_range(semitones: np.ndarray, empty: tuple[float, float]) -> tuple[int, int]:
    low, high = (np.percentile(semitones, [1, 99]) if semitones.size else empty)
    return int(np.floor(low - 2)), int(np.ceil(high + 2))


def _note_axis(semitones: np.ndarray) -> dict[str, Any]:
    """A semitone axis (0 = A4) labelled with note names."""
    low, high = _pitch_range(semitones, (-24.0, 0.0))
    naturals = [s for s in range(low, high + 1) if "#" not in _note(s)]
    letters = "CDEFGAB" if high - low <= 18 else "CG" if high - low <= 36 else "C"
    marks = [s for s in naturals if _note(s)[0] in letters]
    return {"range": [low, high], "tickvals": marks, "ticktext": [_note(s) for s in marks],
            "title": {"text": "pitch (note)"}}


def _semitone_axis(semitones: np.ndarray, reference: float, origin: str) -> dict[str, Any]:
    """A semitone axis labelled in semitones from `reference` Hz, which `origin` names."""
    low, high = _pitch_range(semitones, (-12.0, 12.0))
    step = next(s for s in (1, 2, 3, 6, 12, 24) if (high - low) / s <= 12)
    marks = list(range(-(-low // step) * step, high + 1, step))
    return {"range": [low, high], "tickvals": marks, "ticktext": [f"{m:+d}" if m else "0" for m in marks],
            "title": {"text": f"semitones from {origin} ({reference:.0f} Hz)"}}


def _note(semitones: float) -> str:
    return analysis.note_name(A4 * 2 ** (semitones / 12))


def _base_layout(duration: float, height: int, bottom_axis: str) -> dict[str, Any]:
    return {
        "height": height, "margin": {"l": 56, "r": 12, "t": 8, "b": 36},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": theme.PLOT_INK},
        "xaxis": {**AXIS, "range": [0, duration], "title": {"text": "time (s)"}, "anchor": bottom_axis},
    }


@lru_cache(maxsize=32)
def _analysed(path: str, mtime: float, view: str, f0_method: str, columns: int) -> tuple[float, Any]:
    """(duration, the view's feature) of a file, cached while the file is unchanged (toggling views is instant)."""
    audio, sr = read_audio(path)
    if view == "waveform":
        return len(audio) / sr, analysis.envelope(audio, sr, columns)
    if view == "spectrogram":
        return len(audio) / sr, analysis.log_mel(audio, sr)
    return len(audio) / sr, analysis.pitch(audio, sr, f0_method)


def _mtime(path: str | Path) -> float:
    return Path(path).stat().st_mtime


def _envelope_traces(env: analysis.Envelope, color: str, name: str, yaxis: str = "y", legend: bool = False,
                     opacity: float = 1.0) -> list[dict[str, Any]]:
    """Min and max of each column as a filled band (two traces: the low edge, then the high one filled to it)."""
    fill = color if opacity >= 1 else _rgba(color, opacity)
    return [
        {"type": "scatter", "x": typed(env.times), "y": typed(env.low), "mode": "lines", "line": {"width": 0},
         "hoverinfo": "skip", "showlegend": False, "legendgroup": name, "xaxis": "x", "yaxis": yaxis},
        {"type": "scatter", "x": typed(env.times), "y": typed(env.high), "mode": "lines", "fill": "tonexty",
         "line": {"width": 0.6, "color": color}, "fillcolor": fill, "name": name, "showlegend": legend,
         "legendgroup": name, "xaxis": "x", "yaxis": yaxis},
    ]


def _mel_trace(mel: analysis.Spectrogram, yaxis: str) -> dict[str, Any]:
    return {"type": "heatmap", "x": typed(mel.times), "z": typed(mel.db), "colorscale": theme.SPECTROGRAM_COLORS,
            "showscale": False, "zmin": 0, "zmax": 255, "name": "log-mel",
            "hovertemplate": "%{x:.2f} s · mel band %{y}<extra></extra>", "xaxis": "x", "yaxis": yaxis}


def _f0_trace(f0: analysis.PitchContour, color: str, name: str, yaxis: str, legend: bool = False) -> dict[str, Any]:
    return {"type": "scatter", "x": typed(f0.times), "y": typed(f0.hz), "mode": "lines", "connectgaps": False,
            "line": {"color": color, "width": 2}, "name": name, "showlegend": legend,
            "hovertemplate": f"{name}: " + "%{x:.2f} s · %{y:.1f} Hz<extra></extra>", "xaxis": "x", "yaxis": yaxis}


def _rgba(color: str, alpha: float) -> str:
    red, green, blue = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _mel_ticks(frequencies: np.ndarray) -> dict[str, Any]:
    """Tick marks at round frequencies on an axis of mel band indices."""
    marks = [f for f in (100, 500, 1000, 2000, 4000, 8000, 16000) if f < frequencies[-1]]
    return {"tickvals": [int(np.argmin(np.abs(frequencies - f))) for f in marks],
            "ticktext": [f"{f // 1000}k" if f >= 1000 else str(f) for f in marks],
            "range": [-0.5, len(frequencies) - 0.5]}


def _f0_range(contours: Sequence[analysis.PitchContour]) -> list[float]:
    voiced = np.concatenate([f0.voiced for f0 in contours]) if contours else np.zeros(0)
    if voiced.size == 0:
        return [50.0, 500.0]
    low, high = np.percentile(voiced, [2, 98])
    return [float(max(low * 0.8, 30.0)), float(high * 1.2)]
