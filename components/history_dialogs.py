"""Dialogs of the history: tags and notes, a variation's parameters, and a confirmation before deleting."""
from __future__ import annotations

from typing import Any

from nicegui import ui

from engines.contract import Engine
from studio.history import HistoryItem
from studio.history.service import MAX_NOTES_CHARS

from . import theme
from .param_form import ParamForm


async def edit_tags_and_notes(item: HistoryItem) -> tuple[list[str], str] | None:
    """(tags, notes) as the user left them, or None when cancelled."""
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-lg").mark("edit-dialog"):
        ui.label("Tags and notes").classes(theme.SECTION_TITLE)
        ui.label(item.title).classes(theme.HINT + " ellipsis w-full")
        tags = ui.input_chips("Tags", value=list(item.tags), new_value_mode="add-unique").classes("w-full") \
            .mark("edit-tags")
        ui.label("Type a tag and press Enter; tap a tag's × to remove it.").classes(theme.HINT)
        notes = ui.textarea("Notes", value=item.notes).props(f"autogrow counter maxlength={MAX_NOTES_CHARS}") \
            .classes("w-full").mark("edit-notes")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
            ui.button("Save", icon="save", on_click=lambda: dialog.submit((list(tags.value or []), notes.value or ""))) \
                .props("no-caps").mark("save-edit")
    return await opened(dialog)


async def variation_params(engine: Engine, item: HistoryItem) -> dict[str, Any] | None:
    """The parameters of a variation (the item's, with a random seed to start from), or None when cancelled."""
    start = {**item.params, **{p.name: -1 for p in engine.params if p.kind == "seed"}}
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-2xl").mark("variation-dialog"):
        ui.label("Variation").classes(theme.SECTION_TITLE)
        ui.label(f"Same input as “{item.title}”; change what you like. The result becomes a new take.") \
            .classes(theme.HINT)
        form = ParamForm(engine.params, start)
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
            ui.button("Make variation", icon="tune", on_click=lambda: dialog.submit(dict(form.values))) \
                .props("no-caps").mark("make-variation")
    return await opened(dialog)


async def confirm_delete(count: int, takes_left: int = 0) -> bool:
    """True when the user confirms deleting `count` generations (and their audio)."""
    what = "this generation" if count == 1 else f"these {count} generations"
    with ui.dialog() as dialog, ui.card().mark("confirm-delete"):
        ui.label(f"Delete {what} and {'its' if count == 1 else 'their'} audio?").classes(theme.SECTION_TITLE)
        ui.label("This cannot be undone." + (f" {takes_left} other take{'s' if takes_left != 1 else ''} of the same "
                                              "group stay." if takes_left else "")).classes("text-body2")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat no-caps")
            ui.button("Delete", icon="delete", color="negative", on_click=lambda: dialog.submit(True)) \
                .props("no-caps").mark("confirm-delete-button")
    return bool(await opened(dialog))


async def opened(dialog: ui.dialog) -> Any:
    """Open `dialog`, wait for its answer, then remove it (each use builds a fresh one)."""
    dialog.open()
    try:
        return await dialog
    finally:
        dialog.delete()
