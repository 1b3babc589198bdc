"""Keyboard shortcuts: one set per browser tab; the current page says what 'run' and 'play' mean on it."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui
from nicegui.events import KeyEventArguments

Action = Callable[[], Any | Awaitable[Any]]

SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl + Enter", "Run the current page's job (⌘ + Enter on a Mac); works while typing"),
    ("Space", "Play or pause the current result"),
    ("?", "Show this list"),
)


@dataclass
class Shortcuts:
    run: Action | None = None
    toggle_play: Action | None = None

    def page(self, run: Action | None = None, toggle_play: Action | None = None) -> None:
        """Called by each page as it is built; a page that sets nothing leaves the keys inert."""
        self.run, self.toggle_play = run, toggle_play

    def install(self) -> None:
        """Two keyboards: Ctrl+Enter must work inside the text box, Space and ? must not fire while typing."""
        ui.keyboard(on_key=self._on_run_key, ignore=[]).mark("keyboard-run")
        ui.keyboard(on_key=self._on_key).mark("keyboard")

    async def _on_run_key(self, e: KeyEventArguments) -> None:
        if e.action.keydown and not e.action.repeat and e.key.enter and (e.modifiers.ctrl or e.modifiers.meta):
            await self._call(self.run, "This page has nothing to run.")

    async def _on_key(self, e: KeyEventArguments) -> None:
        if not e.action.keydown or e.action.repeat or e.modifiers.ctrl or e.modifiers.meta or e.modifiers.alt:
            return
        if e.key.code == "Space":
            await self._call(self.toggle_play, None)
        elif e.key.name == "?":
            self.show_help()

    @staticmethod
    async def _call(action: Action | None, missing: str | None) -> None:
        if action is None:
            if missing:
                ui.notify(missing)
            return
        result = action()
        if isinstance(result, Awaitable):
            await result

    @staticmethod
    def show_help() -> None:
        with ui.dialog() as dialog, ui.card().mark("shortcut-help"):
            ui.label("Keyboard shortcuts").classes("text-h6")
            with ui.grid(columns=2).classes("gap-x-6 gap-y-2 items-center"):
                for keys, meaning in SHORTCUTS:
                    ui.html(" + ".join(f"<kbd>{k.strip()}</kbd>" for k in keys.split("+")), sanitize=False)
                    ui.label(meaning)
            ui.label("On a tablet every shortcut has a button on the page.").classes("text-caption")
            ui.button("Close", on_click=dialog.close).props("flat")
        dialog.open()
