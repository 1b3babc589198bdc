"""An evaluation report on screen: summary (value, or mean ± std), a sortable per-item table, a chart per metric,
the messages of items that could not be scored, and CSV / JSON export; and `score_chips`, a generation's stored
scores as compact badges for the history and A/B views."""
from __future__ import annotations

import datetime as dt
from typing import Any

from nicegui import ui

from studio.evaluation import ItemResult, Report, Score
from studio.evaluation.report import summary_text
from studio.metrics import METRICS, Metric

from . import theme

TABLE_PAGE = 25


def export_url(report: Report, fmt: str) -> str:
    return f"/api/evaluations/{report.id}/export?format={fmt}"


def _direction(metric: Metric) -> str:
    return {True: "↑", False: "↓", None: ""}[metric.higher_is_better]


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


class EvaluationResults:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.keys = [k for k in report.metrics if k in report.summary or k in report.set_values or k in report.set_errors]
        single = len(report.items) == 1
        with ui.card().classes(theme.CARD).mark("evaluation-results"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.icon("analytics", color="primary", size="sm")
                ui.label(report.title).classes("text-subtitle1 grow ellipsis")
                for fmt in ("csv", "json"):
                    ui.button(fmt.upper(), icon="download").props(
                        f'outline no-caps type=a href="{export_url(report, fmt)}" download').mark(f"export-{fmt}")
            self._summary(single)
            if not single:
                self._items_table()
                self._charts()
            self._messages()

    def _summary(self, single: bool) -> None:
        rows = []
        for key in self.keys:
            metric = METRICS[key]
            if key in self.report.set_values or key in self.report.set_errors:
                value = self.report.set_values.get(key)
                text, n = (metric.format(value) if value is not None else self.report.set_errors.get(key, "—")), ""
            elif single:
                text, n = metric.format(self.report.items[0].values.get(key)), ""
            else:
                stats = self.report.summary[key]
                text, n = summary_text(key, stats), stats["n"]
            rows.append({"key": key, "metric": f"{metric.label} {_direction(metric)}".strip(), "value": text, "n": n,
                         "about": metric.description + (f" Amphion: {metric.amphion}." if metric.amphion else "")})
        columns = [{"name": "metric", "label": "Metric", "field": "metric", "align": "left", "sortable": True},
                   {"name": "value", "label": "Value" if single else "Mean ± std", "field": "value", "align": "left"},
                   {"name": "key", "label": "Key", "field": "key", "align": "left", "sortable": True}]
        if not single:
            columns.insert(2, {"name": "n", "label": "n", "field": "n", "align": "right"})
        table = ui.table(columns=columns, rows=rows, row_key="key", pagination=0).props("dense flat") \
            .classes("w-full").mark("evaluation-summary")
        table.add_slot("body-cell-metric", '<q-td :props="props">{{ props.value }}'
                                            '<q-tooltip max-width="320px">{{ props.row.about }}</q-tooltip></q-td>')

    def _items_table(self) -> None:
        item_keys = [k for k in self.keys if k in self.report.summary]
        columns = [{"name": "name", "label": "Item", "field": "name", "align": "left", "sortable": True}] + [
            {"name": k, "label": f"{k} {_direction(METRICS[k])}", "field": k, "sortable": True, "align": "right"}
            for k in item_keys]
        rows = [{"name": item.name, **{k: _round(item.values.get(k)) for k in item_keys}} for item in self.report.items]
        ui.label("Items").classes(theme.SECTION_TITLE)
        ui.table(columns=columns, rows=rows, row_key="name", pagination=TABLE_PAGE).props("dense flat") \
            .classes("w-full").mark("evaluation-items")

    def _charts(self) -> None:
        item_keys = [k for k in self.keys if k in self.report.summary]
        with ui.expansion("Charts", icon="bar_chart").classes("w-full").mark("evaluation-charts"):
            with ui.grid().classes("w-full grid-cols-1 md:grid-cols-2 gap-2"):
                for key in item_keys:
                    ui.plotly(metric_chart(self.report, key)).classes("w-full").mark(f"chart-{key}")

    def _messages(self) -> None:
        problems = [(item, message) for item in self.report.items for message in _item_messages(item)]
        problems += [(None, f"{k}: {m}") for k, m in self.report.set_errors.items()]
        if not problems:
            return
        with ui.expansion(f"Messages ({len(problems)})", icon="info", value=len(self.report.items) == 1) \
                .classes("w-full").mark("evaluation-messages"):
            for item, message in problems:
                prefix = f"{item.name}: " if item is not None and len(self.report.items) > 1 else ""
                ui.label(prefix + message).classes("text-body2")


def _item_messages(item: ItemResult) -> list[str]:
    messages = [item.error] if item.error else []
    messages += [f"{METRICS[k].label} ({k}): {m}" for k, m in item.errors.items()]
    messages += [f"Note: {n}" for n in item.notes]
    return messages


def metric_chart(report: Report, key: str) -> dict[str, Any]:
    """One bar per item, and the mean as a line."""
    metric = METRICS[key]
    names = [item.name for item in report.items if key in item.values]
    values = [item.values[key] for item in report.items if key in item.values]
    axis = {"gridcolor": theme.PLOT_GRID, "color": theme.PLOT_INK, "zeroline": False}
    mean = report.summary.get(key, {}).get("mean")
    return {
        "data": [{"type": "bar", "x": names, "y": values, "marker": {"color": theme.BRAND}, "name": key,
                  "hovertemplate": "%{x}: %{y:.4g}<extra></extra>"}],
        "layout": {"height": 220, "margin": {"l": 48, "r": 8, "t": 28, "b": 40}, "showlegend": False,
                   "title": {"text": f"{metric.label} {_direction(metric)}" + (f" ({metric.unit})" if metric.unit else ""),
                             "font": {"size": 13}},
                   "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": theme.PLOT_INK},
                   "xaxis": {**axis, "showticklabels": len(names) <= 30}, "yaxis": axis,
                   "shapes": [] if mean is None else [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": mean,
                                                       "y1": mean, "line": {"color": theme.F0_COLOR, "dash": "dash"}}]},
        "config": theme.PLOT_CONFIG,
    }


# Chip labels where the metric's own label is long (the tooltip gives the full one).
SHORT_LABELS = {"fpc": "FPC", "v_uv_f1": "V/UV F1", "energy_pc": "Energy PC", "wer": "WER", "cer": "CER",
                "speaker_similarity": "Similarity", "mcd": "MCD", "mstft": "MSTFT", "pesq_wb": "PESQ-WB",
                "pesq_nb": "PESQ-NB", "fad": "FAD", "snr_db": "SNR", "dnsmos_ovrl": "DNSMOS OVRL",
                "dnsmos_sig": "DNSMOS SIG", "dnsmos_bak": "DNSMOS BAK"}


def chip_text(score: Score) -> str:
    """'WER 0.000', 'Loudness -23.1 LUFS': the metric, its value and its unit."""
    metric = METRICS[score.key]
    return f"{SHORT_LABELS.get(score.key, metric.label)} {metric.format(score.value)}"


def score_chips(scores: list[Score]) -> None:
    """A generation's stored scores (the newest value of each metric) as small badges, for the history and A/B views."""
    for score in scores:
        metric = METRICS[score.key]
        when = dt.datetime.fromtimestamp(score.created_at).strftime("%d %b %Y %H:%M")
        ui.badge(chip_text(score)).props("outline color=teal").mark(f"score-{score.key}") \
            .tooltip(f"{metric.label} {_direction(metric)}: {metric.description} "
                     f"From the evaluation “{score.evaluation_title}”, {when}.")
