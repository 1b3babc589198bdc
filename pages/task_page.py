"""What every task page shares: the run button, the message line, live progress of the task's latest job, and
its result card once it succeeded (Space plays it). A page builds its inputs, then calls `_run_area`."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from components import theme
from components.job_progress import JobProgress
from components.result_card import ResultCard
from engines.contract import InvalidRequest
from studio.readiness import EngineNotReady
from studio.jobs import JobInfo, JobState
from studio.services import Services


class TaskPage:
    services: Services
    result: ResultCard | None = None
    shown_job: str | None = None

    def _run_area(self, task: str, label: str, icon: str, marker: str, run: Callable[[], Any]) -> None:
        with ui.row().classes("items-center gap-3"):
            ui.button(label, icon=icon, on_click=run).props("size=lg no-caps").mark(marker)
            ui.label("Ctrl + Enter").classes(theme.HINT + " gt-sm")
        self.message = ui.label("").classes("text-negative text-body2").mark("form-message")
        self.message.set_visibility(False)
        self.progress = JobProgress(self.services.jobs, lambda: self.services.jobs.latest(task), self._job_changed)
        self.result_area = ui.column().classes("w-full")

    def _say(self, message: str) -> None:
        self.message.set_text(message)
        self.message.set_visibility(bool(message))

    def _submit(self, submit: Callable[[], JobInfo]) -> None:
        """Queue a job; a request the engine refuses, or an engine that is not ready, says why instead."""
        try:
            job = submit()
        except (InvalidRequest, EngineNotReady) as exc:
            self._say(str(exc))
            ui.notify(str(exc), type="negative")
            return
        self._say("")
        self.progress.refresh()
        ui.notify(f"Queued: {job.title}", type="info")

    def _job_changed(self, job: JobInfo | None) -> None:
        if job is None or job.state != JobState.succeeded or job.id == self.shown_job:
            return
        self.shown_job = job.id
        self.result_area.clear()
        with self.result_area:
            self.result = self._result_card(job)

    def _result_card(self, job: JobInfo) -> ResultCard:
        return ResultCard(job, self.services.generation, library=self.services.library)

    def _toggle_play(self) -> None:
        if self.result is not None:
            self.result.toggle_play()
