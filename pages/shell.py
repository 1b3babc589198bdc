"""The shell every page sits in: header (title, running job, memory), navigation drawer, dark mode, shortcuts."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nicegui import app, ui

from components.status import JobIndicator, MemoryGauge
from studio.services import Services

from . import (codecs, compare, conversion, enhance, evaluation, history, jobs, library, models, singing, speech,
               transcribe)
from .shortcuts import Shortcuts


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    icon: str
    build: Callable[[Services, Shortcuts], None]


NAVIGATION: tuple[tuple[str, tuple[NavItem, ...]], ...] = (
    ("Create", (
        NavItem("/speech", "Speech", "record_voice_over", speech.speech_page),
        NavItem("/conversion", "Voice conversion", "swap_horiz", conversion.conversion_page),
        NavItem("/singing", "Singing conversion", "music_note", singing.singing_page),
        NavItem("/enhance", "Enhancement", "auto_fix_high", enhance.enhance_page),
    )),
    ("Library", (
        NavItem("/library", "Voices", "library_music", library.library_page),
        NavItem("/transcribe", "Transcribe", "subtitles", transcribe.transcribe_page),
        NavItem("/history", "History", "history", history.history_page),
        NavItem("/compare", "Compare", "compare_arrows", compare.compare_page),
    )),
    ("Analyse", (
        NavItem("/evaluation", "Evaluation", "analytics", evaluation.evaluation_page),
        NavItem("/codecs", "Codecs", "compress", codecs.codecs_page),
    )),
    ("System", (
        NavItem("/jobs", "Jobs", "work_history", jobs.jobs_page),
        NavItem("/models", "Models", "memory", models.models_page),
    )),
)
HOME = "/speech"


def _page(item: NavItem) -> Callable[..., None]:
    def build(services: Services, shortcuts: Shortcuts) -> None:
        shortcuts.page()  # a page that defines no shortcuts leaves them inert
        ui.page_title(f"{item.label} · Amphion Studio")
        item.build(services, shortcuts)
    return build


def routes() -> dict[str, Callable[..., None]]:
    table = {item.path: _page(item) for _, items in NAVIGATION for item in items}
    table["/"] = table[HOME]
    return table


def root(services: Services) -> Callable[[], None]:
    def build() -> None:
        ui.add_head_html('<link rel="stylesheet" href="/assets/css/studio.css">'
                         '<script src="/assets/js/studio.js"></script><script src="/assets/js/recorder.js"></script>')
        app.storage.user.setdefault("dark", None)  # None follows the system until the user picks
        dark = ui.dark_mode().bind_value(app.storage.user, "dark")
        shortcuts = Shortcuts()
        with ui.header().classes("items-center gap-2 px-2 no-wrap"):
            ui.button(icon="menu", on_click=lambda: drawer.toggle()).props('flat round color=white aria-label="Menu"')
            ui.label("Amphion Studio").classes("text-h6 whitespace-nowrap")
            ui.space()
            JobIndicator(services.jobs)
            MemoryGauge(services.models)
            ui.button(icon="dark_mode", on_click=lambda: dark.set_value(not dark.value)) \
                .props('flat round color=white aria-label="Dark mode"').mark("dark-toggle")
            ui.button(icon="keyboard", on_click=shortcuts.show_help) \
                .props('flat round color=white aria-label="Keyboard shortcuts"').mark("shortcut-button")
        # Open on a wide screen, closed on a tablet in portrait (Quasar's show-if-above below 1024 px). Built closed
        # and then left to the browser, not built with value=None: that asks the browser for its state at connect,
        # with a 1 s timeout that a busy server can miss (an error in the log, and nothing gained).
        with ui.left_drawer(value=False).props("breakpoint=1023 bordered show-if-above").classes("p-0") as drawer:
            drawer.value = None  # the browser decides; its first toggle tells the server
            with ui.list().props("padding").classes("w-full"):
                for group, items in NAVIGATION:
                    ui.item_label(group).props("header").classes("text-weight-bold")
                    for item in items:
                        with ui.item(on_click=lambda p=item.path: ui.navigate.to(p)).mark(f"nav-{item.label}"):
                            with ui.item_section().props("avatar"):
                                ui.icon(item.icon)
                            ui.item_section(item.label)
                    ui.separator().classes("my-1")
        content = ui.sub_pages(routes(), data={"services": services, "shortcuts": shortcuts}).classes("w-full")
        ui.skip_link(target=content)
        shortcuts.install()

    return build
