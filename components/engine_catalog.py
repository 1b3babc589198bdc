"""Every registered engine as a card (readiness, weights, checkpoints, Load), with a search and a readiness filter.

A problem many engines share (no Amphion checkout, say) is explained once above the cards; each card then
names it in one line instead of repeating the same commands fifty times.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from nicegui import ui

from engines.contract import TASK_TITLES, Engine
from engines.requirements import Readiness, format_bytes
from studio.services import Services

from . import theme
from .checkpoint_panel import CheckpointPanel, takes_checkpoints
from .engine_picker import hint_line, readiness_badge, readiness_help
from .weights_panel import WeightsPanel

SHARED_PROBLEM_MIN = 3  # engines with the same message and commands before it is explained once, above the cards
FILTERS = {"all": "All", "ready": "Ready", "needs_download": "Needs download", "blocked": "Needs something else"}


def shared_problems(readiness: dict[str, Readiness]) -> list[tuple[Readiness, int]]:
    """Problems (message and commands) shared by several engines, most common first."""
    counts = Counter((r.message, r.hints) for r in readiness.values() if not r.runnable)
    return [(next(r for r in readiness.values() if (r.message, r.hints) == key), n)
            for key, n in counts.most_common() if n >= SHARED_PROBLEM_MIN]


def matches(engine: Engine, readiness: Readiness, words: list[str], state: str) -> bool:
    if state == "ready" and not readiness.ready or state == "needs_download" and readiness.state != "needs_download":
        return False
    if state == "blocked" and readiness.runnable:
        return False
    haystack = " ".join((engine.name, engine.id, engine.family, engine.summary, engine.task,
                         TASK_TITLES.get(engine.task, ""))).lower()
    return all(word in haystack for word in words)


@dataclass
class _Section:
    heading: ui.label
    grid: ui.grid
    cards: dict[str, ui.card]


class EngineCatalog:
    def __init__(self, services: Services, on_load: Callable[[Engine], None]) -> None:
        self.services = services
        self.on_load = on_load
        self.engines = list(services.registry)
        self.readiness = {engine.id: engine.check() for engine in self.engines}
        self.weight_panels: list[WeightsPanel] = []
        ui.label(f"Engines ({len(self.engines)})").classes(theme.SECTION_TITLE)
        self.disk_label = ui.label("").classes(theme.HINT).mark("weights-on-disk")
        self._filter_bar()
        shared = shared_problems(self.readiness)
        self._shared_keys = {(r.message, r.hints) for r, _ in shared}
        for readiness, count in shared:
            self._shared_problem(readiness, count)
        self.sections: list[_Section] = []
        by_task: dict[str, list[Engine]] = {}
        for engine in self.engines:
            by_task.setdefault(engine.task, []).append(engine)
        for task, engines in by_task.items():
            heading = ui.label(TASK_TITLES.get(task, task)).classes("text-subtitle1 text-weight-medium")
            with ui.grid().classes("w-full grid-cols-1 md:grid-cols-2 gap-3") as grid:
                cards = {engine.id: self._card(engine) for engine in engines}
            self.sections.append(_Section(heading, grid, cards))
        self.empty = ui.label("No engine matches.").classes(theme.HINT).mark("no-engine-matches")
        self.apply_filter()

    def _filter_bar(self) -> None:
        with ui.row().classes("w-full items-center gap-3"):
            self.search = ui.input(placeholder="Search engines", on_change=self.apply_filter) \
                .props("clearable dense outlined").classes("grow min-w-[12rem]").mark("engine-search")
            with self.search.add_slot("prepend"):
                ui.icon("search")
            self.state = ui.toggle(FILTERS, value="all", on_change=self.apply_filter).props("no-caps") \
                .mark("engine-filter")
        self.count = ui.label("").classes(theme.HINT).mark("engine-count")

    def _shared_problem(self, readiness: Readiness, count: int) -> None:
        with ui.card().classes(theme.CARD + " bg-amber-1 dark:bg-grey-9").mark("shared-problem"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.icon("info", color="warning").classes("text-xl")
                ui.label(f"{count} engines: {readiness.message}").classes("text-body1 grow")
            for hint in readiness.hints:
                hint_line(hint)

    def _card(self, engine: Engine) -> ui.card:
        readiness = self.readiness[engine.id]
        with ui.card().classes("w-full").mark(f"engine-{engine.id}") as card:
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.label(engine.name).classes("text-subtitle1 grow")
                readiness_badge(readiness)
            ui.label(engine.summary).classes("text-body2")
            facts = [engine.id, engine.license, f"~{format_bytes(engine.memory_mb * 1e6)} in memory"]
            ui.label(" · ".join(f for f in facts if f)).classes(theme.HINT)
            readiness_help(readiness, with_hints=(readiness.message, readiness.hints) not in self._shared_keys)
            if engine.weights:
                self.weight_panels.append(WeightsPanel(self.services, engine))
            if takes_checkpoints(engine):
                CheckpointPanel(self.services, engine)
            ui.button("Load", icon="download_for_offline", on_click=lambda e=engine: self.on_load(e)) \
                .props("outline no-caps").mark(f"load-{engine.id}").set_enabled(readiness.runnable)
        return card

    def apply_filter(self) -> None:
        words = (self.search.value or "").lower().split()
        shown = 0
        for section in self.sections:
            visible = 0
            for engine_id, card in section.cards.items():
                engine = self.services.registry.get(engine_id)
                ok = matches(engine, self.readiness[engine_id], words, self.state.value)
                card.set_visibility(ok)
                visible += ok
            section.heading.set_visibility(visible > 0)
            section.grid.set_visibility(visible > 0)
            shown += visible
        self.count.set_text(f"{shown} of {len(self.engines)} engines shown" if shown < len(self.engines) else "")
        self.empty.set_visibility(shown == 0)
