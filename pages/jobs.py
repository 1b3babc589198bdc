"""Jobs: everything queued, running and finished, with cancel, retry and re-run (interrupted jobs included)."""
from __future__ import annotations

import datetime as dt

from nicegui import run, ui

from components import theme
from components.job_progress import state_chip
from studio.jobs import JobInfo, JobState
from studio.services import Services

from .shortcuts import Shortcuts

LIMIT = 100


def _when(job: JobInfo) -> str:
    started = dt.datetime.fromtimestamp(job.created_at)
    text = started.strftime("%d %b %H:%M:%S")
    if job.started_at and job.finished_at:
        text += f" · took {job.finished_at - job.started_at:.1f} s"
    return text


class JobsPage:
    """The list is rebuilt only when its jobs or their states change; a running job's progress is updated in
    place, so its buttons stay put under the user's finger."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._layout: tuple = ()
        self._progress: dict[str, tuple[ui.linear_progress, ui.label]] = {}  # running job id -> bar, stage
        with ui.column().classes(theme.PAGE):
            with ui.row().classes("w-full items-center"):
                ui.label("Jobs").classes("text-h5 grow")
                self.filter = ui.select({"all": "All", **{s.value: s.value.capitalize() for s in JobState}},
                                        value="all", label="Show", on_change=lambda: self.refresh(force=True)) \
                    .classes("w-40").mark("job-filter")
            self.list = ui.column().classes("w-full gap-2").mark("job-list")
        ui.timer(1.0, self.refresh)
        self.refresh(force=True)

    def _jobs(self) -> list[JobInfo]:
        state = self.filter.value
        return self.services.jobs.list(limit=LIMIT, states=None if state == "all" else (JobState(state),))

    def refresh(self, force: bool = False) -> None:
        jobs = self._jobs()
        layout = tuple((j.id, j.state) for j in jobs)
        if layout == self._layout and not force:
            for job in jobs:
                if job.id in self._progress:
                    self._show_progress(job)
            return
        self._layout = layout
        self._progress.clear()
        self.list.clear()
        with self.list:
            if not jobs:
                ui.label("No jobs yet. Generate something on the Speech page.").classes(theme.HINT)
            for job in jobs:
                self._row(job)

    def _show_progress(self, job: JobInfo) -> None:
        bar, stage = self._progress[job.id]
        bar.set_value(job.progress)
        stage.set_text(f"{job.progress:.0%} · {job.stage}")

    def _row(self, job: JobInfo) -> None:
        with ui.card().classes("w-full").mark(f"job-{job.id}"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                state_chip(job)
                with ui.column().classes("grow gap-0 min-w-0"):
                    ui.label(job.title or job.kind).classes("text-body1 ellipsis w-full")
                    ui.label(f"{job.kind} · {_when(job)}" + (" · retry" if job.retry_of else "")).classes(theme.HINT)
                if job.active:
                    ui.button("Cancel", icon="stop", color="negative",
                              on_click=lambda j=job: self._act(self.services.jobs.cancel, j)).props("outline no-caps") \
                        .mark(f"cancel-{job.id}")
                else:
                    label = "Re-run" if job.state in (JobState.succeeded, JobState.interrupted) else "Retry"
                    ui.button(label, icon="replay", on_click=lambda j=job: self._act(self.services.jobs.retry, j)) \
                        .props("outline no-caps").mark(f"retry-{job.id}")
            if job.state == JobState.running:
                self._progress[job.id] = (ui.linear_progress(show_value=False).props("rounded"),
                                          ui.label().classes(theme.HINT).mark(f"progress-{job.id}"))
                self._show_progress(job)
            if job.error:
                ui.label(job.error).classes("text-body2 " + ("text-negative" if job.state == JobState.failed
                                                             else "text-orange-9"))

    async def _act(self, action, job: JobInfo) -> None:  # type: ignore[no-untyped-def]
        try:
            await run.io_bound(action, job.id)
        except (KeyError, ValueError) as exc:
            ui.notify(str(exc), type="warning")
        self.refresh(force=True)


def jobs_page(services: Services, shortcuts: Shortcuts) -> None:
    JobsPage(services)
