"""An engine's checkpoints of your own on its Models card: the list (newest first: the default), remove, and add
one from an archive of its folder. The engine checks what it is given (studio/checkpoints.py)."""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from nicegui import events, run, ui

from engines.contract import Engine, InvalidRequest
from engines.requirements import format_bytes
from studio.checkpoints import ARCHIVES
from studio.services import Services

from . import theme


def takes_checkpoints(engine: Engine) -> bool:
    return callable(getattr(engine, "checkpoint_problems", None))


class CheckpointPanel:
    def __init__(self, services: Services, engine: Engine, on_change: Callable[[], None] = lambda: None) -> None:
        self.services = services
        self.engine = engine
        self.on_change = on_change
        with ui.expansion("Your checkpoints", icon="inventory_2").classes("w-full") \
                .mark(f"checkpoints-{engine.id}"):
            ui.label(f"Trained on the Training page or brought from elsewhere: an archive ({', '.join(ARCHIVES)}) "
                     f"of the checkpoint's folder. The newest is the default.").classes(theme.HINT)
            self.rows = ui.column().classes("w-full gap-1")
            self.upload = ui.upload(auto_upload=True, on_upload=self._uploaded, label="Add a checkpoint") \
                .props(f'accept="{",".join(ARCHIVES)}" flat bordered').classes("w-full") \
                .mark(f"checkpoint-upload-{engine.id}")
        self.refresh()

    def refresh(self) -> None:
        self.rows.clear()
        with self.rows:
            found = self.services.checkpoints.list(self.engine.id)
            if not found:
                ui.label("None yet.").classes(theme.HINT)
            for checkpoint in found:
                with ui.row().classes("w-full items-center gap-2 no-wrap"):
                    ui.label(checkpoint.name).classes("grow text-body2")
                    ui.label(format_bytes(checkpoint.size_bytes)).classes(theme.HINT)
                    ui.button(icon="delete", on_click=lambda c=checkpoint.name: self._remove(c)) \
                        .props("flat round dense").mark(f"remove-checkpoint-{checkpoint.name}")

    async def _uploaded(self, e: events.UploadEventArguments) -> None:
        incoming = self.services.paths.home / "tmp"
        incoming.mkdir(parents=True, exist_ok=True)
        try:
            with tempfile.TemporaryDirectory(dir=incoming) as folder:
                archive = Path(folder) / Path(e.file.name).name
                await e.file.save(archive)
                added = await run.io_bound(self.services.checkpoints.add, self.engine.id, archive)
        except InvalidRequest as exc:
            ui.notify(str(exc), type="negative", multi_line=True)
            return
        finally:
            self.upload.reset()
        ui.notify(f"Added {added.name} to {self.engine.name}.", type="positive")
        self.refresh()
        self.on_change()

    async def _remove(self, name: str) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(f"Remove the checkpoint {name} of {self.engine.name}?").classes("text-subtitle1")
            ui.label("Its folder is deleted from the studio's data.").classes(theme.HINT)
            with ui.row():
                ui.button("Remove", color="negative", on_click=lambda: dialog.submit(True)).mark("confirm-remove")
                ui.button("Keep it", on_click=lambda: dialog.submit(False)).props("flat")
        confirmed = await dialog
        dialog.delete()
        if not confirmed:
            return
        freed = await run.io_bound(self.services.checkpoints.remove, self.engine.id, name)
        ui.notify(f"Removed {name}: freed {format_bytes(freed)}.")
        self.refresh()
        self.on_change()
