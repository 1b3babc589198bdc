"""A Picker for AudioInputField: choose one of the recent uploads again, instead of uploading it twice."""
from __future__ import annotations

from nicegui import ui

from studio.uploads import StoredAudio, UploadService

from . import theme
from .audio_input import Picker

RECENT = 30


def recent_uploads_picker(uploads: UploadService) -> Picker:
    async def pick() -> StoredAudio | None:
        recent = uploads.list(RECENT)
        with ui.dialog() as dialog, ui.card().classes("min-w-[20rem]").mark("recent-uploads"):
            ui.label("Recent uploads").classes(theme.SECTION_TITLE)
            if not recent:
                ui.label("Nothing uploaded yet.").classes(theme.HINT)
            with ui.list().props("separator").classes("w-full"):
                for upload in recent:
                    with ui.item(on_click=lambda u=upload: dialog.submit(u)).mark(f"recent-{upload.id}"):
                        with ui.item_section():
                            ui.item_label(upload.name)
                            ui.item_label(f"{upload.duration:.1f} s · {upload.sample_rate / 1000:g} kHz").props("caption")
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat")
        picked = await dialog
        dialog.delete()
        return picked

    return Picker("Recent uploads", "history", pick)
