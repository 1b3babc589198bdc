"""One kept generation in a list: what it is, a streaming player, favourite and rating, downloads and actions."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from studio.audio.io import EXPORT_FORMATS
from studio.evaluation import Score
from studio.history import HistoryItem
from studio.history.compare import GENERATION, clip_key

from . import theme
from .compare_tray import compare_button
from .evaluation_results import score_chips
from .result_card import MEDIA_ROUTE


def media_url(item: HistoryItem) -> str:
    return f"{MEDIA_ROUTE}/{item.audio}"


def download_url(item: HistoryItem, fmt: str) -> str:
    return f"/api/history/{item.id}/audio?format={fmt}"


@dataclass(frozen=True)
class RowActions:
    """What the page does when the user acts on a row; each gets the row's item."""

    select: Callable[[HistoryItem, bool], Any]
    favourite: Callable[[HistoryItem, bool], Any]
    rate: Callable[[HistoryItem, int], Any]
    edit: Callable[[HistoryItem], Any]
    rerun: Callable[[HistoryItem], Any]
    vary: Callable[[HistoryItem], Any]
    delete: Callable[[HistoryItem], Any]
    keep: Callable[[HistoryItem], Any] | None = None  # as a voice sample
    evaluate: Callable[[HistoryItem], Any] | None = None


def facts(item: HistoryItem, engine_name: str, profile_name: str | None = None) -> list[str]:
    when = dt.datetime.fromtimestamp(item.created_at).strftime("%d %b %Y %H:%M")
    voice = item.params.get("voice")
    return [text for text in (
        engine_name, f"voice {voice}" if voice else None, f"profile {profile_name or item.profile_id}"
        if item.profile_id else None,
        f"{item.duration:.1f} s", f"seed {item.seed}" if item.seed is not None else None,
        f"take {item.take}" if item.take > 1 else None, when) if text]


class HistoryRow:
    def __init__(self, item: HistoryItem, engine_name: str, actions: RowActions, selected: bool = False,
                 profile_name: str | None = None, scores: list[Score] | None = None) -> None:
        self.item = item
        key = item.id
        with ui.card().classes("w-full gap-2").mark(f"history-{key}") as self.card:
            with ui.row().classes("w-full items-start no-wrap gap-2"):
                ui.checkbox(value=selected, on_change=lambda e: actions.select(self.item, e.value)) \
                    .props(f'aria-label="Select {item.title}"').mark(f"select-{key}")
                with ui.column().classes("grow min-w-0 gap-1"):
                    ui.label(item.text or item.title).classes("text-body1 line-clamp-2 break-words w-full")
                    with ui.row().classes("items-center gap-1"):
                        for fact in facts(item, engine_name, profile_name):
                            ui.badge(fact).props("outline color=grey-7")
                        self.tags = ui.row().classes("items-center gap-1")
                    self.scores = ui.row().classes("items-center gap-1").mark(f"scores-{key}")
                with ui.column().classes("items-end gap-0 shrink-0"):
                    self.star = ui.button(on_click=lambda: actions.favourite(self.item, not self.item.favourite)) \
                        .props('flat round color=amber aria-label="Favourite"').mark(f"favourite-{key}")
                    ui.rating(value=item.rating, max=5, size="sm", color="amber",
                              on_change=lambda e: actions.rate(self.item, int(e.value or 0))) \
                        .props('aria-label="Rating"').style("flex-wrap: nowrap").mark(f"rating-{key}")
            ui.audio(media_url(item)).props("preload=none").classes("w-full").mark(f"player-{key}")
            with ui.row().classes("w-full items-center gap-2"):
                with ui.dropdown_button("Download", icon="download", auto_close=True).props("outline no-caps") \
                        .mark(f"download-{key}"):
                    for fmt in EXPORT_FORMATS:
                        ui.item(fmt.upper(), on_click=lambda f=fmt: ui.download.from_url(download_url(self.item, f))) \
                            .mark(f"download-{fmt}-{key}")
                compare_button(clip_key(GENERATION, key))
                ui.button("Re-run", icon="replay", on_click=lambda: actions.rerun(self.item)) \
                    .props("outline no-caps").mark(f"rerun-{key}")
                ui.button("Variation", icon="tune", on_click=lambda: actions.vary(self.item)) \
                    .props("outline no-caps").mark(f"vary-{key}")
                if actions.evaluate is not None:
                    ui.button("Evaluate", icon="analytics", on_click=lambda: actions.evaluate(self.item)) \
                        .props("outline no-caps").tooltip("Score it with every metric that applies: against its "
                                                          "text, and its reference clip if it had one") \
                        .mark(f"evaluate-{key}")
                ui.button("Tags & notes", icon="edit_note", on_click=lambda: actions.edit(self.item)) \
                    .props("outline no-caps").mark(f"edit-{key}")
                if actions.keep is not None:
                    ui.button("Keep as sample", icon="library_add", on_click=lambda: actions.keep(self.item)) \
                        .props("outline no-caps").mark(f"keep-{key}")
                ui.space()
                ui.button("Delete", icon="delete", color="negative", on_click=lambda: actions.delete(self.item)) \
                    .props("outline no-caps").mark(f"delete-{key}")
            self.notes = ui.label("").classes(theme.HINT + " whitespace-pre-line")
        self.show(item)
        self.show_scores(scores or [])

    def show_scores(self, scores: list[Score]) -> None:
        """The newest stored value of each metric the generation was scored with."""
        self.scores.clear()
        with self.scores:
            score_chips(scores)
        self.scores.set_visibility(bool(scores))

    def show(self, item: HistoryItem) -> None:
        """Show a changed item in place (the player keeps playing)."""
        self.item = item
        self.star.props(f"icon={'star' if item.favourite else 'star_border'}")
        self.tags.clear()
        with self.tags:
            for tag in item.tags:
                ui.chip(tag, icon="sell", color="primary").props("outline dense")
        self.notes.set_text(item.notes)
        self.notes.set_visibility(bool(item.notes))
