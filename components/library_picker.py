"""A `Picker` for the audio input: a sample from the voice library, handed over as an upload of its normalised audio."""
from __future__ import annotations

from pathlib import Path

from nicegui import run, ui

from studio.library import LibraryService
from studio.uploads import StoredAudio, UploadService

from .audio_input import Picker


def library_picker(library: LibraryService, uploads: UploadService) -> Picker:
    async def pick() -> StoredAudio | None:
        options = {s.id: f"{p.name} · {s.name} · {s.duration:.1f} s"
                   for p in library.profiles() for s in library.samples(p.id)}
        if not options:
            ui.notify("The voice library has no samples yet.", type="warning")
            return None
        with ui.dialog() as dialog, ui.card().classes("w-full max-w-lg"):
            ui.label("Pick a sample from the library").classes("text-h6")
            choice = ui.select(options, label="Sample", value=next(iter(options))).classes("w-full").mark("library-pick")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
                ui.button("Use it", on_click=lambda: dialog.submit(choice.value)).props("no-caps").mark("library-use")
        chosen = await dialog
        dialog.delete()
        if not chosen:
            return None
        sample = library.sample(chosen)
        return await run.io_bound(uploads.store_file, sample.normalised, f"{Path(sample.name).stem}.wav")

    return Picker("From the library", "library_music", pick)
