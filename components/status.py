"""Header widgets: the running-job indicator and the memory gauge. Both poll services; neither imports torch."""
from __future__ import annotations

from nicegui import ui

from engines.requirements import format_bytes
from studio.jobs import JobQueue
from studio.model_manager import ModelManager


class JobIndicator:
    """A spinner with the running job's title and progress, and how many are waiting; links to the Jobs page."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        with ui.link(target="/jobs").classes("no-underline text-white").mark("job-indicator") as self.link:
            with ui.row().classes("items-center gap-2 no-wrap"):
                self.spinner = ui.spinner("audio", size="sm", color="white")
                self.label = ui.label("").classes("text-body2 ellipsis max-w-[16rem] gt-xs")
                self.percent = ui.label("").classes("text-body2")
                self.queued = ui.badge("", color="orange")
        ui.timer(0.5, self.refresh)
        self.refresh()

    def refresh(self) -> None:
        running = self.queue.running()
        waiting = self.queue.counts()["queued"]
        self.link.set_visibility(running is not None or waiting > 0)
        self.spinner.set_visibility(running is not None)
        self.label.set_text(running.title if running else "")
        self.percent.set_text(f"{running.progress:.0%}" if running else "")
        self.queued.set_text(f"+{waiting} queued" if waiting else "")
        self.queued.set_visibility(waiting > 0)


class MemoryGauge:
    """How much of the memory budget the loaded models use, and the device's own use, in the header."""

    def __init__(self, models: ModelManager) -> None:
        self.models = models
        with ui.link(target="/models").classes("no-underline text-white").mark("memory-gauge"):
            with ui.row().classes("items-center gap-2 no-wrap"):
                self.ring = ui.circular_progress(value=0, min=0, max=1, show_value=False, size="28px",
                                                 color="white").props("track-color=white-3 thickness=0.25")
                self.label = ui.label("").classes("text-body2 gt-xs").mark("memory-gauge-text")
            self.tooltip = ui.tooltip("")
        ui.timer(2.0, self.refresh)
        self.refresh()

    def refresh(self) -> None:
        snap = self.models.snapshot()
        self.ring.set_value(min(snap.models_total / snap.budget, 1.0) if snap.budget else 0)
        self.label.set_text(f"{format_bytes(snap.models_total)} / {format_bytes(snap.budget)}")
        self.tooltip.set_text(f"Models {format_bytes(snap.models_total)} of a {format_bytes(snap.budget)} budget · "
                              f"{snap.device.name}: {format_bytes(snap.device.used)} of "
                              f"{format_bytes(snap.device.total)} in use")
