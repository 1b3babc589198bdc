"""One engine's weight sets: what is on disk, download with live progress and cancel, delete."""
from __future__ import annotations

from nicegui import run, ui

from engines.contract import Engine, EngineError
from engines.requirements import format_bytes
from studio.jobs import JobInfo
from studio.services import Services
from engines.weights import WeightState
from studio.weights import NothingToDownload

from . import theme

STATUS_ICONS = {"present": ("check_circle", "positive"), "bundled": ("inventory_2", "positive"),
                "partial": ("downloading", "warning"), "missing": ("cloud_download", "grey"),
                "user": ("person", "grey")}


class WeightsPanel:
    """Rebuilds its rows only when something changed; the page calls `refresh(active_download)` on a timer."""

    def __init__(self, services: Services, engine: Engine) -> None:
        self.services = services
        self.engine = engine
        self._signature: tuple | None = None
        self.column = ui.column().classes("w-full gap-1").mark(f"weights-{engine.id}")
        with ui.row().classes("w-full items-center gap-2 no-wrap") as self.download_row:
            with ui.column().classes("grow gap-0 min-w-0"):
                self.bar = ui.linear_progress(value=0, show_value=False, size="8px").props("rounded")
                self.stage = ui.label("").classes(theme.HINT + " ellipsis w-full").mark(f"download-stage-{engine.id}")
            self.cancel = ui.button("Cancel", icon="stop", color="negative", on_click=self._cancel) \
                .props("outline no-caps dense").mark(f"cancel-download-{engine.id}")
        self.download_row.set_visibility(False)
        self.job: JobInfo | None = None

    def refresh(self, active: JobInfo | None) -> None:
        self.job = active
        self.download_row.set_visibility(active is not None)
        if active is not None:
            self.bar.set_value(active.progress)
            self.stage.set_text("Waiting for the running job" if active.state.value == "queued" else active.stage)
        states = self.services.weights.status(self.engine.id)
        signature = (tuple((s.status, s.bytes_on_disk) for s in states), active is not None)
        if signature != self._signature:
            self._signature = signature
            self._rows(states, downloading=active is not None)

    def _rows(self, states: list[WeightState], downloading: bool) -> None:
        self.column.clear()
        with self.column:
            for index, found in enumerate(states):
                icon, color = STATUS_ICONS[found.status]
                weights = found.weights
                with ui.row().classes("w-full items-center gap-2 no-wrap"):
                    ui.icon(icon, color=color).classes("text-lg")
                    with ui.column().classes("grow gap-0 min-w-0"):
                        title = weights.title + (f" · {weights.note}" if weights.note and weights.label else "")
                        ui.label(title).classes("text-body2 ellipsis w-full")
                        ui.label(found.label).classes(theme.HINT).mark(f"weight-state-{self.engine.id}-{index}")
                    if weights.downloadable and not found.complete and not downloading:
                        ui.button("Download", icon="download", on_click=lambda i=index: self._download(i)) \
                            .props("outline no-caps dense").mark(f"download-{self.engine.id}-{index}")
                    if weights.downloadable and found.bytes_on_disk and not downloading:
                        ui.button(icon="delete", on_click=lambda i=index, s=found: self._confirm_delete(i, s)) \
                            .props(f'flat round dense aria-label="Delete {weights.title}"') \
                            .mark(f"delete-{self.engine.id}-{index}")

    def _download(self, index: int) -> None:
        try:
            job = self.services.weights.submit_download(self.engine.id, sets=[index])
        except NothingToDownload as exc:
            ui.notify(str(exc))
            return
        self.refresh(job)
        ui.notify(f"{job.title}: follow it here, cancel any time; a new download resumes.")

    def _cancel(self) -> None:
        if self.job is not None:
            self.services.jobs.cancel(self.job.id)

    def _confirm_delete(self, index: int, found: WeightState) -> None:
        shared = [other.name for other in self.services.registry if other.id != self.engine.id
                  and any(w.repo_id and w.repo_id == found.weights.repo_id for w in other.weights)]
        with ui.dialog() as dialog, ui.card():
            ui.label(f"Delete {found.weights.title} ({format_bytes(found.bytes_on_disk)})?").classes("text-subtitle1")
            if shared:
                ui.label(f"{', '.join(shared)} may use the same files.").classes(theme.HINT)
            with ui.row().classes("w-full justify-end"):
                ui.button("Keep", on_click=dialog.close).props("flat no-caps")
                ui.button("Delete", icon="delete", color="negative",
                          on_click=lambda: self._delete(dialog, index)).props("no-caps").mark("confirm-delete")
        dialog.open()

    async def _delete(self, dialog: ui.dialog, index: int) -> None:
        dialog.close()
        try:
            report = await run.io_bound(self.services.weights.delete, self.engine.id, [index])
        except EngineError as exc:
            ui.notify(str(exc), type="warning")
            return
        ui.notify(report.message, type="positive")
        self.refresh(None)
