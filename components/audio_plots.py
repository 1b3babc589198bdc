"""One Plotly figure per clip: waveform envelope, log-mel spectrogram and F0 on a shared time axis.

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
    axis = {"gridcolor": theme.PLOT_GRID, "zeroline": False, "color": theme.PLOT_INK}
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
        "height": 420, "margin": {"l": 56, "r": 12, "t": 8, "b": 36},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": theme.PLOT_INK},
        "xaxis": {**axis, "range": [0, duration], "title": {"text": "time (s)"}, "anchor": "y3"},
        "yaxis": {**axis, "domain": [0.72, 1.0], "range": [-1, 1], "title": {"text": "amplitude"}},
        "yaxis2": {**axis, "domain": [0.36, 0.68], "title": {"text": "Hz (mel)"}, **_mel_ticks(mel.frequencies)},
        "yaxis3": {**axis, "domain": [0.0, 0.32], "title": {"text": f"F0 Hz ({f0_method})"},
                   "range": _f0_range(f0)},
        "uirevision": str(path),
    }
    return {"data": data, "layout": layout, "config": theme.PLOT_CONFIG}


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
