"""A parameter form generated from an engine's params: basic controls first, the advanced ones folded away.

Every control has its help as visible text (tooltips do not exist on touch screens) and keeps its value in
`values`, so a page reads one dict. No per-model UI code: kind, range, step and unit drive the widgets.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from nicegui import ui

from engines.contract import Param

from . import theme


class ParamForm:
    def __init__(self, params: Iterable[Param], values: dict[str, Any] | None = None,
                 on_change: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.params = tuple(params)
        self.values: dict[str, Any] = {p.name: p.default for p in self.params}
        self.values.update({k: v for k, v in (values or {}).items() if k in self.values})
        self._on_change = on_change
        self._setters: dict[str, Callable[[Any], None]] = {}
        self._build()

    def _build(self) -> None:
        basic = [p for p in self.params if not p.advanced]
        advanced = [p for p in self.params if p.advanced]
        with ui.column().classes("w-full gap-3").mark("param-form"):
            with ui.grid().classes("w-full grid-cols-1 md:grid-cols-2 gap-x-6 gap-y-3"):
                for param in basic:
                    self._control(param)
            if advanced:
                with ui.expansion(f"Advanced ({len(advanced)})", icon="tune").classes("w-full"):
                    with ui.grid().classes("w-full grid-cols-1 md:grid-cols-2 gap-x-6 gap-y-3"):
                        for param in advanced:
                            self._control(param)
            if self.params:
                ui.button("Reset to defaults", icon="restart_alt", on_click=self.reset).props("flat no-caps") \
                    .mark("reset-params")

    def _set(self, name: str, value: Any) -> None:
        self.values[name] = value
        if self._on_change:
            self._on_change(dict(self.values))

    def _control(self, p: Param) -> None:
        with ui.column().classes("gap-0 w-full").mark(f"param-{p.name}"):
            value = self.values[p.name]
            if p.kind in ("float", "int") and p.min is not None and p.max is not None:
                self._slider(p, value)
            elif p.kind in ("float", "int"):
                number = ui.number(p.title, value=value, step=p.step or (1 if p.kind == "int" else 0.1),
                                   on_change=lambda e, n=p.name: self._set(n, e.value)).classes("w-full")
                self._setters[p.name] = number.set_value
            elif p.kind == "seed":
                self._seed(p, value)
            elif p.kind == "bool":
                switch = ui.switch(p.title, value=bool(value), on_change=lambda e, n=p.name: self._set(n, e.value))
                self._setters[p.name] = switch.set_value
            elif p.kind == "choice":
                select = ui.select({v: label for v, label in p.choices}, label=p.title, value=value,
                                   on_change=lambda e, n=p.name: self._set(n, e.value)).classes("w-full")
                self._setters[p.name] = select.set_value
            else:
                text = ui.input(p.title, value=str(value or ""),
                                on_change=lambda e, n=p.name: self._set(n, e.value)).classes("w-full")
                self._setters[p.name] = text.set_value
            if p.help:
                ui.label(p.help).classes(theme.HINT)

    def _slider(self, p: Param, value: Any) -> None:
        integer = p.kind == "int"
        step = p.step or (1 if integer else (p.max - p.min) / 100)  # type: ignore[operator]
        with ui.row().classes("w-full items-center no-wrap gap-3"):
            ui.label(p.title).classes("text-body2 min-w-[7rem]")
            slider = ui.slider(min=p.min, max=p.max, step=step, value=value).classes("grow").props("label")
            number = ui.number(value=value, min=p.min, max=p.max, step=step, suffix=p.unit or None,
                               format="%d" if integer else None).classes("w-32 shrink-0").props("dense outlined")

        def from_slider(e: Any) -> None:
            number.set_value(e.value)

        def from_number(e: Any) -> None:
            if e.value is None:
                return
            clamped = min(max(e.value, p.min), p.max)  # type: ignore[type-var]
            clamped = int(clamped) if integer else clamped
            if clamped != e.value:
                number.set_value(clamped)
                return
            slider.set_value(clamped)
            self._set(p.name, clamped)

        slider.on_value_change(from_slider)
        number.on_value_change(from_number)
        self._setters[p.name] = number.set_value

    def _seed(self, p: Param, value: Any) -> None:
        with ui.row().classes("w-full items-center no-wrap gap-3"):
            number = ui.number(p.title, value=None if value is None or value < 0 else value, min=0,
                               max=2**32 - 1, step=1, format="%d", placeholder="random").classes("grow")
            random = ui.switch("Random", value=value is None or value < 0)

        def from_number(e: Any) -> None:
            if e.value is None:
                random.set_value(True)
                return
            random.set_value(False)
            self._set(p.name, int(e.value))

        def from_switch(e: Any) -> None:
            if e.value:
                number.set_value(None)
                self._set(p.name, -1)
            elif number.value is None:
                number.set_value(0)

        number.on_value_change(from_number)
        random.on_value_change(from_switch)
        self._setters[p.name] = lambda v: number.set_value(None if v is None or v < 0 else v)

    def set(self, name: str, value: Any) -> None:
        """Set one control (and its value), e.g. 'reuse this seed' from a result card."""
        self._setters[name](value)
        self._set(name, value)

    def reset(self) -> None:
        for p in self.params:
            self.set(p.name, p.default)
