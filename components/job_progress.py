"""Live job progress: stage text, a bar, cancel; polls the queue (the websocket carries each update)."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import run, ui

from studio.jobs import JobInfo, JobQueue

from . import theme

POLL_SECONDS = 0.25


def state_chip(job: JobInfo) -> ui.badge:
    return ui.badge(job.state.value, color=theme.JOB_STATE_COLORS[job.state.value]).mark(f"job-state-{job.state.value}")


class JobProgress:
    """Follows the job `current()` returns (it may change: another tab can start a newer one).

    `on_change(job)` fires whenever the followed job or its state changes, so a page can show its result.
    """

    def __init__(self, queue: JobQueue, current: Callable[[], JobInfo | None],
                 on_change: Callable[[JobInfo | None], None] | None = None) -> None:
        self.queue = queue
        self._current = current
        self._on_change = on_change
        self._seen: tuple[str, str] | None = None
        with ui.card().classes("w-full").mark("job-progress") as self.card:
            with ui.row().classes("w-full items-center no-wrap gap-3"):
                self.chip = ui.badge("").classes("hidden")
                self.title = ui.label("").classes("grow text-body2 ellipsis")
                self.cancel_button = ui.button("Cancel", icon="stop", color="negative", on_click=self._cancel) \
                    .props("outline no-caps").mark("cancel-job")
                self.retry_button = ui.button("Retry", icon="replay", on_click=self._retry) \
                    .props("outline no-caps").mark("retry-job")
            self.bar = ui.linear_progress(value=0, show_value=False, size="10px").props("rounded")
            self.stage = ui.label("").classes(theme.HINT).mark("job-stage")
        self.job: JobInfo | None = None
        self.card.set_visibility(False)
        self.timer = ui.timer(POLL_SECONDS, self.refresh)  # the first tick shows the current job

    def refresh(self) -> None:
        job = self._current()
        self.job = job
        self.card.set_visibility(job is not None)
        if job is None:
            self._notify(None)
            return
        self.chip.classes(remove="hidden")
        self.chip.set_text(job.state.value)
        self.chip.props(f"color={theme.JOB_STATE_COLORS[job.state.value]}")
        self.title.set_text(job.title)
        self.bar.set_value(job.progress)
        self.bar.set_visibility(job.active)
        percent = f"{job.progress:.0%} · " if job.state.value == "running" else ""
        position = self._queue_position(job)
        self.stage.set_text(job.error if job.error else (position or f"{percent}{job.stage}"))
        self.stage.classes(replace=("text-negative text-body2" if job.state.value == "failed" else theme.HINT))
        self.cancel_button.set_visibility(job.active)
        self.retry_button.set_visibility(job.state.value in ("failed", "cancelled", "interrupted"))
        self._notify(job)

    def _queue_position(self, job: JobInfo) -> str:
        if job.state.value != "queued":
            return ""
        running = self.queue.running()
        return f"Waiting: {running.title} is running" if running else "Waiting for the worker"

    def _notify(self, job: JobInfo | None) -> None:
        seen = (job.id, job.state.value) if job else None
        if seen != self._seen:
            self._seen = seen
            if self._on_change:
                self._on_change(job)

    async def _retry(self) -> None:
        if self.job is not None:
            await run.io_bound(self.queue.retry, self.job.id)
            self.refresh()

    async def _cancel(self) -> None:
        if self.job is not None:
            await run.io_bound(self.queue.cancel, self.job.id)
            self.refresh()
