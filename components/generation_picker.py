"""Pick generations from the history in a dialog (search, then tick); also a Picker for the audio input component."""
from __future__ import annotations

import datetime as dt

from nicegui import run, ui

from studio.history import HistoryItem, HistoryQuery, HistoryService
from studio.uploads import StoredAudio, UploadService

from . import theme
from .audio_input import Picker
from .history_dialogs import opened

SHOWN = 30


async def pick_generations(history: HistoryService, title: str = "Pick from the history",
                           multiple: bool = True, exclude: set[str] | frozenset[str] = frozenset()) -> list[HistoryItem]:
    """The generations the user ticks (newest first, searchable); [] when the dialog is dismissed."""
    chosen: dict[str, HistoryItem] = {}
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-2xl").mark("generation-picker"):
        ui.label(title).classes(theme.SECTION_TITLE)
        search = ui.input("Search the text, notes and tags", on_change=lambda: show()) \
            .props("clearable debounce=300 autofocus").classes("w-full").mark("picker-search")
        rows = ui.column().classes("w-full gap-0 max-h-[60vh] overflow-auto")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit([])).props("flat no-caps")
            add = ui.button("Add", icon="add", on_click=lambda: dialog.submit(list(chosen.values()))) \
                .props("no-caps").mark("picker-add")

    def tick(item: HistoryItem, value: bool) -> None:
        if not multiple:
            dialog.submit([item])
            return
        if value:
            chosen[item.id] = item
        else:
            chosen.pop(item.id, None)
        add.set_text(f"Add {len(chosen)}" if chosen else "Add")

    async def show() -> None:
        page = await run.io_bound(history.list, HistoryQuery(search=search.value or "", limit=SHOWN))
        rows.clear()
        with rows:
            if not page.items:
                ui.label("Nothing in the history matches.").classes(theme.HINT)
            for item in page.items:
                when = dt.datetime.fromtimestamp(item.created_at).strftime("%d %b %H:%M")
                label = f"{item.title} · {item.duration:.1f} s · {when}"
                if item.id in exclude:
                    ui.label(f"{label} (already added)").classes(theme.HINT + " py-2")
                elif multiple:
                    ui.checkbox(label, value=item.id in chosen, on_change=lambda e, i=item: tick(i, e.value)) \
                        .classes("w-full").mark(f"pick-{item.id}")
                else:
                    ui.button(label, on_click=lambda i=item: tick(i, True)).props("flat no-caps align=left") \
                        .classes("w-full").mark(f"pick-{item.id}")
        if page.total > SHOWN:
            with rows:
                ui.label(f"{page.total - SHOWN} more: search to narrow down.").classes(theme.HINT)

    answer = opened(dialog)
    await show()
    return await answer or []


def history_picker(history: HistoryService, uploads: UploadService) -> Picker:
    """'From history' for an AudioInputField: a copy of the chosen generation, kept as an upload."""

    async def pick() -> StoredAudio | None:
        picked = await pick_generations(history, "Use a generation", multiple=False)
        if not picked:
            return None
        item = picked[0]
        return await run.io_bound(uploads.store_file, history.audio_path(item), f"{item.title[:60]}.wav")

    return Picker("From history", "history", pick)
