"""Models: every engine's readiness and weights (download, cancel, delete), loaded models, live memory, the budget."""
from __future__ import annotations

import time
from typing import Any

from nicegui import run, ui

from components import theme
from components.engine_catalog import EngineCatalog
from engines.contract import Engine, EngineError
from engines.requirements import format_bytes
from studio.jobs import ACTIVE_STATES
from studio.model_manager import ModelInfo
from studio.services import Services
from studio.settings import SettingsError
from studio.weights import DOWNLOAD

from .shortcuts import Shortcuts

GB = 1e9
WEIGHTS_POLL_SECONDS = 0.5
WEIGHTS_FULL_EVERY = 4  # ticks


def memory_chart(history: list[tuple[float, int, int]], budget: int) -> dict[str, Any]:
    now = time.time()
    xs = [round(t - now, 1) for t, _, _ in history]
    line = {"type": "scatter", "mode": "lines", "x": xs}
    return {
        "data": [
            {**line, "y": [round(u / GB, 3) for _, u, _ in history], "name": "device in use",
             "line": {"color": theme.PLOT_INK}},
            {**line, "y": [round(m / GB, 3) for _, _, m in history], "name": "loaded models", "fill": "tozeroy",
             "line": {"color": theme.BRAND}},
            {**line, "y": [round(budget / GB, 3)] * len(xs), "name": "budget",
             "line": {"color": theme.F0_COLOR, "dash": "dash"}},
        ],
        "layout": {"height": 220, "margin": {"l": 48, "r": 8, "t": 8, "b": 32},
                   "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                   "font": {"color": theme.PLOT_INK}, "legend": {"orientation": "h", "y": 1.15},
                   "xaxis": {"title": {"text": "seconds ago"}, "gridcolor": theme.PLOT_GRID},
                   "yaxis": {"title": {"text": "GB"}, "gridcolor": theme.PLOT_GRID, "rangemode": "tozero"}},
        "config": {**theme.PLOT_CONFIG, "displayModeBar": False},
    }


class ModelsPage:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.models = services.models
        self._loaded_signature: tuple | None = None
        with ui.column().classes(theme.PAGE):
            ui.label("Models").classes("text-h5")
            self._memory_section()
            with ui.card().classes(theme.CARD):
                with ui.row().classes("w-full items-center"):
                    ui.label("Loaded models").classes(theme.SECTION_TITLE + " grow")
                    ui.button("Unload all", icon="eject", on_click=self._unload_all).props("outline no-caps") \
                        .mark("unload-all")
                self.loaded = ui.column().classes("w-full gap-1").mark("loaded-models")
                self.last_report = ui.label("").classes(theme.HINT).mark("unload-report")
            self._weights_tick = 0
            self.catalog = EngineCatalog(services, self._load)
        ui.timer(2.0, self.refresh)
        ui.timer(WEIGHTS_POLL_SECONDS, self.refresh_weights)
        self.refresh()
        self.refresh_weights()

    # -- memory --------------------------------------------------------------------------------------------

    def _memory_section(self) -> None:
        with ui.card().classes(theme.CARD).mark("memory"):
            ui.label("Memory").classes(theme.SECTION_TITLE)
            self.device_label = ui.label("").classes("text-body2").mark("device-label")
            with ui.grid().classes("w-full grid-cols-1 md:grid-cols-2 gap-4"):
                with ui.column().classes("gap-1"):
                    self.device_text = ui.label("").classes("text-body2").mark("device-memory")
                    self.device_bar = ui.linear_progress(value=0, show_value=False, size="12px").props("rounded")
                with ui.column().classes("gap-1"):
                    self.models_text = ui.label("").classes("text-body2").mark("models-memory")
                    self.models_bar = ui.linear_progress(value=0, show_value=False, size="12px",
                                                         color="secondary").props("rounded")
            self.chart = ui.plotly(memory_chart([], 0)).classes("w-full").mark("memory-chart")
            with ui.row().classes("items-center gap-3"):
                budget = self.models.budget_gb
                self.budget_auto = ui.switch("Automatic budget (85 % of the device)", value=budget is None)
                self.budget_input = ui.number("Budget", value=budget, min=0.1, step=0.5, suffix="GB") \
                    .classes("w-36").mark("budget-input")
                self.budget_input.bind_enabled_from(self.budget_auto, "value", backward=lambda v: not v)
                ui.button("Apply", icon="check", on_click=self._apply_budget).props("outline no-caps") \
                    .mark("apply-budget")

    async def _apply_budget(self) -> None:
        budget = None if self.budget_auto.value else self.budget_input.value
        if budget is not None and budget <= 0:
            ui.notify("Enter a budget above 0 GB, or switch on the automatic budget.", type="warning")
            return
        try:
            self.services.settings = self.services.settings.save(memory_budget_gb=budget)
        except (SettingsError, OSError) as exc:
            ui.notify(f"Could not save the budget: {exc}", type="negative")
            return
        reports = await run.io_bound(self.models.set_budget, budget)
        ui.notify(f"Budget set to {'automatic' if budget is None else f'{budget:g} GB'}"
                  + (f"; {len(reports)} model(s) unloaded to fit" if reports else ""), type="positive")
        self.refresh()

    # -- loaded models -------------------------------------------------------------------------------------

    def refresh(self) -> None:
        snap = self.models.snapshot()
        device = snap.device
        self.device_label.set_text(f"{device.name} · {device.device}" + (" · unified memory" if device.unified else ""))
        self.device_text.set_text(f"Device: {format_bytes(device.used)} of {format_bytes(device.total)} in use, "
                                  f"this studio {format_bytes(device.process)}")
        self.device_bar.set_value(device.used / device.total if device.total else 0)
        self.models_text.set_text(f"Models: {format_bytes(snap.models_total)} of a {format_bytes(snap.budget)} budget")
        self.models_bar.set_value(min(snap.models_total / snap.budget, 1) if snap.budget else 0)
        self.chart.update_figure(memory_chart(list(self.models.history), snap.budget))
        signature = tuple((m.key, m.pinned, m.in_use, m.footprint) for m in snap.models)
        if signature != self._loaded_signature:
            self._loaded_signature = signature
            self._show_loaded(list(snap.models))

    def _show_loaded(self, models: list[ModelInfo]) -> None:
        self.loaded.clear()
        with self.loaded:
            if not models:
                ui.label("No model is loaded. Models load when a job needs them, or with Load below.") \
                    .classes(theme.HINT)
            for m in models:
                with ui.row().classes("w-full items-center gap-3 no-wrap").mark(f"loaded-{m.engine_id}"):
                    ui.icon("push_pin" if m.pinned else "memory", color="primary" if m.pinned else None)
                    with ui.column().classes("grow gap-0 min-w-0"):
                        ui.label(m.key).classes("text-body1 ellipsis w-full")
                        ui.label(f"{format_bytes(m.footprint)} on {m.device} · loaded in {m.load_seconds:.1f} s"
                                 + (" · in use" if m.in_use else "")).classes(theme.HINT)
                    ui.switch("Pin", value=m.pinned,
                              on_change=lambda e, k=m.key: self._pin(k, e.value)).mark(f"pin-{m.engine_id}")
                    ui.button("Unload", icon="eject", on_click=lambda k=m.key: self._unload(k)) \
                        .props("outline no-caps").mark(f"unload-{m.engine_id}")

    def _pin(self, key: str, pinned: bool) -> None:
        try:
            self.models.pin(key, pinned)
        except KeyError:
            ui.notify(f"{key} is no longer loaded.", type="warning")
        self.refresh()

    async def _unload(self, key: str) -> None:
        try:
            report = await run.io_bound(self.models.unload, key)
        except (KeyError, EngineError) as exc:
            ui.notify(str(exc).strip("'\""), type="warning")
            return
        self.last_report.set_text(report.message)
        ui.notify(report.message, type="positive" if not report.still_held and not report.references_remain
                  else "warning")
        self.refresh()

    async def _unload_all(self) -> None:
        reports = await run.io_bound(self.models.unload_all)
        text = " ".join(r.message for r in reports) or "Nothing to unload."
        self.last_report.set_text(text)
        ui.notify(text)
        self.refresh()

    # -- engines and their weights ------------------------------------------------------------------------

    def refresh_weights(self) -> None:
        """Panels with a download in flight every tick; the others (file system scans) every few ticks."""
        self._weights_tick += 1
        full = self._weights_tick % WEIGHTS_FULL_EVERY == 1
        active = {job.engine_id: job for job in self.services.jobs.list(kinds=(DOWNLOAD,), states=ACTIVE_STATES)}
        for panel in self.catalog.weight_panels:
            job = active.get(panel.engine.id)
            if full or job is not None or panel.job is not None:
                panel.refresh(job)
        if not full:
            return
        total, engines = self.services.weights.disk_usage()
        self.catalog.disk_label.set_text(
            f"Weights on disk: {format_bytes(total)} for {engines} engine(s), in the Hugging Face cache and the "
            f"caches torch.hub and Whisper use." if engines else
            "No downloaded weights on disk yet.")

    def _load(self, engine: Engine) -> None:
        job = self.services.load_model(engine.id)
        ui.notify(f"Loading {engine.name}: follow it in the header or on the Jobs page ({job.id}).")


def models_page(services: Services, shortcuts: Shortcuts) -> None:
    ModelsPage(services)
