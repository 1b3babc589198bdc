"""The history's statistics as numbers and a chart: how many and how long, by engine and by profile."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from studio.history import Bucket, HistoryStats

from . import theme
from .audio_plots import AXIS


def summary(stats: HistoryStats) -> str:
    minutes, seconds = divmod(round(stats.duration), 60)
    hours, minutes = divmod(minutes, 60)
    length = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"
    return (f"{stats.count:,} generation{'s' if stats.count != 1 else ''} · {length} of audio · "
            f"{stats.favourites:,} favourite{'s' if stats.favourites != 1 else ''}")


def stats_figure(stats: HistoryStats, engine_name: Callable[[str], str]) -> dict[str, Any]:
    """Horizontal bars of generations by engine (top) and by profile (bottom); hover shows the audio's length."""
    groups = [("By engine", [(engine_name(b.key or ""), b) for b in stats.by_engine]),
              ("By profile", [(b.key or "no profile (built-in voices)", b) for b in stats.by_profile])]
    rows = sum(len(bars) for _, bars in groups) or 1
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {"height": 90 + 30 * rows + 40 * len(groups), "margin": {"l": 12, "r": 12, "t": 24, "b": 24},
                              "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                              "font": {"color": theme.PLOT_INK}, "showlegend": False, "annotations": []}
    top = 1.0
    for i, (title, bars) in enumerate(groups, start=1):
        share = max(len(bars), 1) / rows * (1 - 0.12 * len(groups))
        domain = [max(top - share, 0.0), top]
        suffix = "" if i == 1 else str(i)
        data.append({"type": "bar", "orientation": "h", "x": [b.count for _, b in bars], "y": [name for name, _ in bars],
                     "customdata": [_minutes(b) for _, b in bars], "marker": {"color": theme.CLIP_COLORS[i - 1]},
                     "xaxis": f"x{suffix}", "yaxis": f"y{suffix}", "text": [name for name, _ in bars],
                     "textposition": "auto", "hovertemplate": "%{y}: %{x} · %{customdata}<extra></extra>"})
        layout[f"xaxis{suffix}"] = {**AXIS, "anchor": f"y{suffix}", "rangemode": "tozero"}
        layout[f"yaxis{suffix}"] = {**AXIS, "domain": domain, "autorange": "reversed", "showticklabels": False}
        layout["annotations"].append({"text": title, "xref": "paper", "yref": "paper", "x": 0, "y": top,
                                      "yanchor": "bottom", "showarrow": False, "font": {"size": 13}})
        top = domain[0] - 0.12
    return {"data": data, "layout": layout, "config": {**theme.PLOT_CONFIG, "displayModeBar": False}}


def _minutes(bucket: Bucket) -> str:
    return f"{bucket.duration / 60:.1f} min" if bucket.duration >= 60 else f"{bucket.duration:.1f} s"
