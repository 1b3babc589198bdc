"""The history's statistics as numbers and charts: how many and how long, by engine and by profile."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from studio.history import Bucket, HistoryStats

from . import theme
from .audio_plots import AXIS

BAR_HEIGHT = 32


def summary(stats: HistoryStats) -> str:
    minutes, seconds = divmod(round(stats.duration), 60)
    hours, minutes = divmod(minutes, 60)
    length = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"
    return (f"{stats.count:,} generation{'s' if stats.count != 1 else ''} · {length} of audio · "
            f"{stats.favourites:,} favourite{'s' if stats.favourites != 1 else ''}")


def stats_figures(stats: HistoryStats, engine_name: Callable[[str], str],
                  profile_name: Callable[[str], str]) -> list[dict[str, Any]]:
    """Horizontal bars of generations by engine, then by profile; hovering a bar shows the audio's length."""
    groups = (("By engine", [(engine_name(b.key or ""), b) for b in stats.by_engine]),
              ("By profile", [(profile_name(b.key) if b.key else "no profile (built-in voices)", b)
                              for b in stats.by_profile]))
    return [_bars(title, bars, theme.CLIP_COLORS[i]) for i, (title, bars) in enumerate(groups) if bars]


def _bars(title: str, bars: list[tuple[str, Bucket]], color: str) -> dict[str, Any]:
    data = [{"type": "bar", "orientation": "h", "x": [b.count for _, b in bars], "y": [name for name, _ in bars],
             "text": [f"{name} · {b.count} · {_length(b)}" for name, b in bars], "textposition": "auto",
             "marker": {"color": color}, "hovertemplate": "%{text}<extra></extra>"}]
    layout = {"height": 70 + BAR_HEIGHT * len(bars), "margin": {"l": 8, "r": 8, "t": 28, "b": 24},
              "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}},
              "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": theme.PLOT_INK},
              "xaxis": {**AXIS, "rangemode": "tozero"}, "yaxis": {**AXIS, "autorange": "reversed",
                                                                  "showticklabels": False}}
    return {"data": data, "layout": layout, "config": {**theme.PLOT_CONFIG, "displayModeBar": False}}


def _length(bucket: Bucket) -> str:
    return f"{bucket.duration / 60:.1f} min" if bucket.duration >= 60 else f"{bucket.duration:.1f} s"
