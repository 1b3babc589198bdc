"""An evaluation's results: per-item values and messages, per-metric mean ± std, and their CSV and JSON forms."""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..metrics import METRICS, pooled


@dataclass
class ItemResult:
    name: str
    generated: str | None
    reference: str | None = None
    text: str | None = None
    source_job: str | None = None
    values: dict[str, float] = field(default_factory=dict)  # metric key -> value; also the counts a pooled metric keeps
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Report:
    id: str
    created_at: float
    mode: str
    title: str
    metrics: list[str]
    options: dict[str, Any]
    items: list[ItemResult]
    summary: dict[str, dict[str, float]]
    set_values: dict[str, float] = field(default_factory=dict)
    set_errors: dict[str, str] = field(default_factory=dict)

    @property
    def failed_items(self) -> int:
        return sum(1 for item in self.items if item.error or (item.errors and not item.values))

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def flat(self) -> dict[str, Any]:
        """One JSON object keyed by metric name: the value for one item, {mean, std, n, items} for a set."""
        if len(self.items) == 1 and self.mode in ("clip", "pair"):
            item = self.items[0]
            return json_safe({key: item.values.get(key) for key in self.metrics})
        flat: dict[str, Any] = {}
        for key in self.metrics:
            if key in self.set_values or key in self.set_errors:
                flat[key] = self.set_values.get(key)
                continue
            stats = self.summary.get(key, {"n": 0})
            flat[key] = {**stats, "items": {item.name: item.values.get(key) for item in self.items}}
        return json_safe(flat)

    def to_csv(self) -> str:
        """One row per item, then the mean and std rows; messages in the last column."""
        keys = [k for k in self.metrics if k not in self.set_values and k not in self.set_errors]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["item", "generated", "reference", *(_header(k) for k in keys), "messages"])
        for item in self.items:
            messages = ([item.error] if item.error else []) + [f"{k}: {m}" for k, m in item.errors.items()]
            writer.writerow([item.name, item.generated or "", item.reference or "",
                             *(_cell(item.values.get(k)) for k in keys), " | ".join(messages)])
        stats = ("mean", "std", "n", "pooled") if any("pooled" in self.summary.get(k, {}) for k in keys) else \
            ("mean", "std", "n")
        for stat in stats:
            writer.writerow([stat, "", "", *(_cell(self.summary.get(k, {}).get(stat)) for k in keys), ""])
        for key, value in self.set_values.items():
            writer.writerow([f"{key} (set)", "", "", *([""] * len(keys)), _cell(value)])
        return out.getvalue()


def _header(key: str) -> str:
    unit = METRICS[key].unit
    return f"{key} ({unit})" if unit else key


def _cell(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.6g}"


def summarise(items: list[ItemResult], keys: list[str]) -> dict[str, dict[str, float]]:
    """Mean, sample standard deviation, count, min and max of each metric over the items that have it; for a metric
    Amphion pools over a set (V/UV F1), also the value of the pooled counts."""
    summary: dict[str, dict[str, float]] = {}
    for key in keys:
        values = np.array([item.values[key] for item in items if key in item.values], dtype=np.float64)
        if values.size:
            summary[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                            "n": int(values.size), "min": float(values.min()), "max": float(values.max())}
            value = pooled(key, (item.values for item in items if key in item.values))
            if value is not None:
                summary[key]["pooled"] = value
    return summary


def summary_text(key: str, stats: dict[str, float]) -> str:
    """A set's value of a metric: mean ± std over its items, after the pooled value where the metric has one."""
    metric = METRICS[key]
    spread = metric.format_stats(stats["mean"], stats["std"])
    return f"{metric.format(stats['pooled'])} pooled (items {spread})" if "pooled" in stats else spread


def json_safe(value: Any) -> Any:
    """NaN and infinities become None (JSON has neither); numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
