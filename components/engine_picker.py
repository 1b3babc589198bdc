"""Engine picker: every engine of a task with its readiness, and what to do when it is not ready."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from nicegui import ui

from engines.contract import Engine
from engines.requirements import Readiness

from . import theme


def readiness_badge(readiness: Readiness) -> ui.badge:
    return ui.badge(readiness.label, color=theme.READINESS_COLORS[readiness.state]).props("outline") \
        .mark(f"readiness-{readiness.state}")


def command_line(text: str) -> None:
    """A command or step the user can read whole (it wraps on a narrow screen) and copy."""
    with ui.row().classes("w-full items-center gap-1 no-wrap rounded-borders command-line"):
        ui.label(text).classes("grow min-w-0 font-mono text-xs break-all whitespace-pre-wrap q-pl-sm")
        ui.button(icon="content_copy", on_click=lambda: _copy(text)) \
            .props('flat round dense size=sm aria-label="Copy"')


def _copy(text: str) -> None:
    ui.clipboard.write(text)
    ui.notify("Copied", type="positive", timeout=1000)


def readiness_help(readiness: Readiness, *, with_hints: bool = True) -> None:
    """The message and the exact commands that make an engine ready (nothing when it is ready)."""
    if readiness.ready:
        return
    with ui.column().classes("gap-1 w-full"):
        ui.label(readiness.message).classes("text-body2")
        for hint in readiness.hints if with_hints else ():
            hint_line(hint)


def hint_line(hint: str) -> None:
    """A command gets a copy button; a step in words ("then set ...", "or press ...") reads as text, and one that
    ends in a command after its last ": " ("or clone it again: git clone ...") shows that command to copy."""
    if not hint.startswith(("then ", "or ")):
        command_line(hint)
        return
    prose, command = hint, ""
    if ": " in hint:
        words, _, command = hint.rpartition(": ")
        prose = f"{words}:"
    ui.label(prose[0].upper() + prose[1:]).classes("text-body2")
    if command:
        command_line(command)


class EnginePicker:
    def __init__(self, engines: Sequence[Engine], value: str | None,
                 on_change: Callable[[Engine], None]) -> None:
        self.engines = {e.id: e for e in engines}
        self.readiness = {e.id: e.check() for e in engines}
        self._on_change = on_change
        if value not in self.engines:
            ready = [e for e in engines if self.readiness[e.id].ready]
            value = (ready or list(engines))[0].id
        options = {e.id: f"{e.name} · {self.readiness[e.id].label}" for e in engines}
        with ui.column().classes("w-full gap-1"):
            self.select = ui.select(options, label="Engine", value=value,
                                    on_change=lambda e: self._changed(e.value)).classes("w-full").mark("engine-picker")
            self.details = ui.column().classes("w-full gap-1")
        self._show_details()

    @property
    def engine(self) -> Engine:
        return self.engines[self.select.value]

    @property
    def ready(self) -> Readiness:
        return self.readiness[self.select.value]

    def _changed(self, engine_id: str) -> None:
        self._show_details()
        self._on_change(self.engines[engine_id])

    def _show_details(self) -> None:
        engine, readiness = self.engine, self.ready
        self.details.clear()
        with self.details:
            with ui.row().classes("items-center gap-2"):
                readiness_badge(readiness)
                rate = f"{engine.sample_rate / 1000:g} kHz" if engine.sample_rate else "the source's sample rate"
                facts = [engine.family, ", ".join(engine.languages), rate, engine.license]
                ui.label(" · ".join(f for f in facts if f)).classes(theme.HINT)
            ui.label(engine.summary).classes("text-body2")
            readiness_help(readiness)
