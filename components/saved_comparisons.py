"""Saved comparisons on the Compare page: name the clips being compared (Save), list the saved ones, reopen or
delete them."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from nicegui import ui

from studio.history import HistoryError
from studio.history.saved import Saved, SavedComparisons
from studio.library.records import MAX_NAME

from . import theme
from .history_dialogs import opened


async def ask_name(suggestion: str) -> str | None:
    """The name the user gives the comparison, or None when cancelled."""
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-md").mark("save-comparison-dialog"):
        ui.label("Save this comparison").classes(theme.SECTION_TITLE)
        name = ui.input("Name", value=suggestion).props(f"autofocus maxlength={MAX_NAME}").classes("w-full") \
            .mark("comparison-name")
        ui.label("Saved comparisons are listed below, on this page, and travel in project exports.") \
            .classes(theme.HINT)
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
            ui.button("Save", icon="bookmark_add", on_click=lambda: dialog.submit(name.value or "")) \
                .props("no-caps").mark("confirm-save-comparison")
    return await opened(dialog)


class SavedComparisonsPanel:
    """The list of saved comparisons; `current` gives the clips on the page, `on_open` shows a saved set."""

    def __init__(self, saved: SavedComparisons, current: Callable[[], list[str]],
                 on_open: Callable[[list[str]], None]) -> None:
        self.saved = saved
        self.current = current
        self.on_open = on_open
        self.revision = -1
        with ui.expansion("Saved comparisons", icon="bookmarks").classes("w-full").mark("saved-comparisons") \
                as self.expansion:
            self.rows = ui.column().classes("w-full gap-1")
        self.refresh()
        ui.timer(1.0, self._poll)

    async def save(self) -> None:
        keys = self.current()
        if len(keys) < 2:
            ui.notify("Add at least two clips before saving the comparison.", type="warning")
            return
        name = await ask_name(f"Comparison of {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}")
        if name is None:
            return
        try:
            saved = self.saved.save(name, keys)
        except HistoryError as exc:
            ui.notify(str(exc), type="negative")
            return
        ui.notify(f"Saved “{saved.name}” ({len(saved.clips)} clips).", type="positive")
        self.expansion.open()
        self.refresh()

    def refresh(self) -> None:
        self.revision = self.saved.revision
        items = self.saved.list()
        self.expansion.props(f'caption="{len(items)} saved"')
        self.rows.clear()
        with self.rows:
            if not items:
                ui.label("None yet: compare two or more clips, then press Save.").classes(theme.HINT)
            for item in items:
                self._row(item)

    def _row(self, item: Saved) -> None:
        with ui.row().classes("w-full items-center no-wrap gap-2").mark(f"saved-{item.id}"):
            ui.icon("bookmark", color="primary")
            with ui.column().classes("grow gap-0"):
                ui.label(item.name).classes("text-body1 ellipsis")
                made = dt.datetime.fromtimestamp(item.updated_at).strftime("%Y-%m-%d %H:%M")
                ui.label(f"{len(item.clips)} clips · {made}").classes(theme.HINT)
            ui.button("Open", icon="open_in_browser", on_click=lambda i=item: self._open(i)) \
                .props("flat no-caps").mark("open-saved", f"open-saved-{item.id}")
            ui.button(icon="delete", on_click=lambda i=item: self._delete(i)) \
                .props(f'flat round aria-label="Delete {item.name}"').mark("delete-saved", f"delete-saved-{item.id}")

    def _open(self, item: Saved) -> None:
        self.on_open(item.clips)  # saving, changing and importing keep it within MAX_CLIPS
        ui.notify(f"Opened “{item.name}”.", type="info")

    def _delete(self, item: Saved) -> None:
        try:
            self.saved.delete(item.id)
        except HistoryError as exc:
            ui.notify(str(exc), type="negative")
        else:
            ui.notify(f"Deleted the saved comparison “{item.name}” (its clips stay).", type="info")
        self.refresh()

    def _poll(self) -> None:
        if self.saved.revision != self.revision:
            self.refresh()
