"""History: every kept generation, searchable and filterable, with players, downloads, takes, re-runs and stats."""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

from nicegui import app, ui

from components import theme
from components.compare_tray import add_to_comparison
from components.history_dialogs import confirm_delete, edit_tags_and_notes, variation_params
from components.history_row import HistoryRow, RowActions
from components.history_stats import stats_figures, summary
from components.job_progress import JobProgress
from components.keep_sample import keep_as_sample
from components.names import engine_name, profile_names
from components.project_dialogs import download_project, import_project
from engines.contract import InvalidRequest
from studio.evaluation import EvaluationRequest, Score
from studio.readiness import EngineNotReady
from studio.history import SORTS, HistoryError, HistoryItem, HistoryPage, HistoryQuery
from studio.history.compare import GENERATION, clip_key
from studio.projects import Selection
from studio.services import Services

from .shortcuts import Shortcuts

PAGE_SIZES = (10, 20, 50)
ALL = ""  # the "any" option of a filter
POLL_SECONDS = 1.0


def parse_dates(value: str | None) -> tuple[dt.date | None, dt.date | None]:
    """'2026/01/05' or '2026/01/05 - 2026/01/09' (the date picker's forms; '-' also works) as (first, last)."""
    if not value or not value.strip():
        return None, None
    try:
        days = [dt.date.fromisoformat(part.strip().replace("/", "-")) for part in value.split(" - ")]
    except ValueError:
        raise HistoryError(f"Dates: {value!r} is not a date or a range like 2026/01/05 - 2026/01/09.") from None
    return min(days), max(days)


def signature(page: HistoryPage) -> tuple:
    return page.total, tuple((item.id, item.group_size) for item in page.items)


class HistoryListPage:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.history = services.history
        self.prefs: dict[str, Any] = app.storage.user.setdefault("history", {"sort": "newest", "page_size": 20})
        self.selected: dict[str, HistoryItem] = {}
        self.rows: dict[str, HistoryRow] = {}
        self.expanded: set[str] = set()
        self.page_number = 1
        self.shown: tuple = ()
        self.revision = self.history.revision
        self.scores_revision = services.evaluation.revision
        self.profile_names: dict[str, str] = {}
        # dialogs open in the page's own column: a row (and the button that opened one) may be re-rendered meanwhile
        with ui.column().classes(theme.PAGE) as self.root:
            with ui.row().classes("w-full items-center gap-2"):
                ui.label("History").classes("text-h5")
                self.count = ui.label("").classes(theme.HINT).mark("history-count")
                ui.space()
                ui.button("Import", icon="unarchive", on_click=self._import).props("outline no-caps") \
                    .mark("import-project")
                ui.button("Compare", icon="compare_arrows", on_click=lambda: ui.navigate.to("/compare")) \
                    .props("outline no-caps").mark("open-compare")
            self._filters()
            with ui.expansion("Statistics of what is shown", icon="bar_chart").classes("w-full") \
                    .mark("history-stats") as self.stats:
                self.stats_area = ui.column().classes("w-full")
            self.stats.on_value_change(lambda e: self._show_stats() if e.value else None)
            self.message = ui.label("").classes("text-negative text-body2").mark("history-message")
            with ui.row().classes("w-full items-center gap-2").mark("selection-bar") as self.bulk:
                self.bulk_label = ui.label("").classes("text-body1")
                ui.space()
                ui.button("Compare", icon="compare_arrows", on_click=self._compare_selected) \
                    .props("outline no-caps").mark("compare-selected")
                ui.button("Evaluate", icon="analytics", on_click=self._evaluate_selected) \
                    .props("outline no-caps").mark("evaluate-selected")
                ui.button("Export", icon="archive", on_click=self._export_selected) \
                    .props("outline no-caps").mark("export-selected")
                ui.button("Delete", icon="delete", color="negative", on_click=self._delete_selected) \
                    .props("outline no-caps").mark("delete-selected")
                ui.button("Clear", icon="deselect", on_click=self._clear_selection).props("flat no-caps")
            self.queued: str | None = None  # the last re-run, variation or evaluation queued here: its progress shows
            self.progress = JobProgress(services.jobs, lambda: services.jobs.get(self.queued) if self.queued else None)
            self.fresh = ui.button("New generations: show them", icon="refresh", on_click=lambda: self.refresh()) \
                .props("outline no-caps color=primary").mark("show-new")
            self.list = ui.column().classes("w-full gap-3").mark("history-list")
            with ui.row().classes("w-full items-center justify-center gap-2"):
                self.pager = ui.pagination(1, 1, direction_links=True, on_change=self._page_changed) \
                    .props("max-pages=7 boundary-links").mark("history-pages")
                ui.select({n: f"{n} per page" for n in PAGE_SIZES}, value=self.prefs.get("page_size", 20),
                          on_change=self._page_size_changed).props("dense outlined").mark("page-size")
        self.bulk.set_visibility(False)
        self.fresh.set_visibility(False)
        self._update_facets()
        self.refresh()
        ui.timer(POLL_SECONDS, self._poll)

    # -- filters -------------------------------------------------------------------------------------------

    def _filters(self) -> None:
        with ui.grid().classes("w-full grid-cols-1 sm:grid-cols-2 lg:grid-cols-4 gap-x-4 gap-y-1").mark("filters"):
            self.search = ui.input("Search text, notes, tags", on_change=self._filter_changed) \
                .props("clearable debounce=300 outlined dense").classes("sm:col-span-2").mark("history-search")
            with self.search.add_slot("prepend"):
                ui.icon("search")
            self.sort = ui.select(SORTS, value=self.prefs.get("sort", "newest"), label="Sort",
                                  on_change=self._sort_changed).props("outlined dense").mark("history-sort")
            self.dates = ui.date_input("Dates", range_input=True, on_change=self._filter_changed) \
                .props("clearable outlined dense").mark("history-dates")
            self.task = self._select("Task", "history-task")
            self.engine = self._select("Engine", "history-engine")
            self.profile = self._select("Profile", "history-profile")
            self.tag = self._select("Tag", "history-tag")
        with ui.row().classes("w-full items-center gap-4"):
            self.favourites = ui.switch("Favourites only", on_change=self._filter_changed).mark("favourites-only")
            ui.button("Clear filters", icon="filter_alt_off", on_click=self._clear_filters).props("flat no-caps") \
                .mark("clear-filters")

    def _select(self, label: str, marker: str) -> ui.select:
        return ui.select({ALL: "Any"}, value=ALL, label=label, on_change=self._filter_changed) \
            .props("outlined dense").mark(marker)

    def _update_facets(self) -> None:
        facets = self.history.facets()
        self.profile_names = profile_names(self.services, [key for key, _ in facets["profile"]])
        for select, name, describe in ((self.task, "task", str), (self.engine, "engine", self._engine_name),
                                       (self.profile, "profile", self._profile_name), (self.tag, "tag", str)):
            options = {ALL: "Any", **{key: f"{describe(key)} ({n})" for key, n in facets[name]}}
            if select.value not in options:  # keep a chosen value even when nothing has it any more
                options[select.value] = f"{describe(select.value)} (0)"
            select.set_options(options, value=select.value)

    def _engine_name(self, engine_id: str | None) -> str:
        return engine_name(self.services, engine_id)

    def _profile_name(self, profile_id: str | None) -> str:
        return self.profile_names.get(profile_id or "", profile_id or "")

    def _query(self) -> HistoryQuery:
        date_from, date_to = parse_dates(self.dates.value)
        size = self.prefs.get("page_size", 20)
        return HistoryQuery(search=self.search.value or "", task=self.task.value or None,
                            engine_id=self.engine.value or None, profile_id=self.profile.value or None,
                            date_from=date_from, date_to=date_to, favourite=True if self.favourites.value else None,
                            tag=self.tag.value or None, sort=self.sort.value, grouped=True, limit=size,
                            offset=(self.page_number - 1) * size)

    def _filter_changed(self) -> None:
        self.page_number = 1
        self.refresh()
        if self.stats.value:
            self._show_stats()

    def _sort_changed(self) -> None:
        self.prefs["sort"] = self.sort.value
        self._filter_changed()

    def _clear_filters(self) -> None:
        for select in (self.task, self.engine, self.profile, self.tag):
            select.set_value(ALL)
        self.search.set_value("")
        self.dates.set_value("")
        self.favourites.set_value(False)

    def _page_changed(self) -> None:
        if self.pager.value and self.pager.value != self.page_number:
            self.page_number = self.pager.value
            self.refresh()

    def _page_size_changed(self, e: Any) -> None:
        self.prefs["page_size"] = e.value
        self._filter_changed()

    # -- the list ------------------------------------------------------------------------------------------

    def _page(self) -> HistoryPage | None:
        try:
            page = self.history.list(self._query())
            if not page.items and page.total and self.page_number > 1:  # the last page emptied: step back
                self.page_number = math.ceil(page.total / page.query.limit)
                page = self.history.list(self._query())
        except HistoryError as exc:
            self.message.set_text(str(exc))
            return None
        self.message.set_text("")
        return page

    def refresh(self) -> None:
        page = self._page()
        if page is not None:
            self._render(page)

    def _render(self, page: HistoryPage) -> None:
        self.fresh.set_visibility(False)
        self.shown = signature(page)
        self.list.clear()
        self.rows.clear()
        scores = self.services.evaluation.latest_scores(item.id for item in page.items)
        with self.list:
            if not page.items:
                filtered = page.query != HistoryQuery(sort=page.query.sort, grouped=True, limit=page.query.limit)
                ui.label("Nothing matches these filters." if filtered else
                         "No generations yet. Everything you generate is kept here.").classes(theme.HINT)
            for item in page.items:
                self._row(item, scores.get(item.id, []))
                if item.group_size > 1:
                    self._takes(item)
        pages = max(1, math.ceil(page.total / page.query.limit))
        self.pager.max = pages
        self.pager.set_value(min(self.page_number, pages))
        self.pager.set_visibility(pages > 1)
        self.count.set_text(f"{page.total:,} generation{'s' if page.total != 1 else ''}"
                            + (" (takes grouped)" if any(i.group_size > 1 for i in page.items) else ""))

    def _row(self, item: HistoryItem, scores: list[Score]) -> None:
        actions = RowActions(self._select_item, self._favourite, self._rate, self._edit, self._rerun, self._vary,
                             self._delete, self._keep, self._evaluate)
        self.rows[item.id] = HistoryRow(item, self._engine_name(item.engine_id), actions, item.id in self.selected,
                                        self._profile_name(item.profile_id) or None, scores)

    def _takes(self, item: HistoryItem) -> None:
        others = item.group_size - 1
        with ui.expansion(f"{others} more take{'s' if others != 1 else ''}", icon="layers",
                          value=item.id in self.expanded).classes("w-full -mt-2").mark(f"takes-{item.id}") as panel:
            area = ui.column().classes("w-full gap-3 pl-3 border-l-4 border-primary")

        def show(opened: bool) -> None:
            (self.expanded.add if opened else self.expanded.discard)(item.id)
            area.clear()
            if opened:
                takes = [take for take in self.history.takes(item.id) if take.id != item.id]
                scores = self.services.evaluation.latest_scores(take.id for take in takes)
                with area:
                    for take in takes:
                        self._row(take, scores.get(take.id, []))

        panel.on_value_change(lambda e: show(e.value))
        show(panel.value)

    async def _poll(self) -> None:
        if self.services.evaluation.revision != self.scores_revision:
            self._show_scores()
        if self.history.revision == self.revision:
            return
        self.revision = self.history.revision
        self._update_facets()
        page = self._page()
        if page is None:
            return
        if signature(page) == self.shown:
            for item in page.items:  # changed elsewhere (another tab, the API): update in place
                row = self.rows.get(item.id)
                if row is not None and row.item != item:
                    row.show(item)
            return
        if await self._playing():
            self.fresh.set_visibility(True)  # never cut off what the user is listening to
        else:
            self._render(page)

    def _show_scores(self) -> None:
        """Stored scores changed (an evaluation finished, or was deleted): update the chips in place."""
        self.scores_revision = self.services.evaluation.revision
        scores = self.services.evaluation.latest_scores(self.rows)
        for generation_id, row in self.rows.items():
            row.show_scores(scores.get(generation_id, []))

    async def _playing(self) -> bool:
        try:
            return bool(await ui.run_javascript("[...document.querySelectorAll('audio')].some(a => !a.paused)",
                                                timeout=0.5))
        except TimeoutError:
            return False

    # -- acting on items -----------------------------------------------------------------------------------

    def _changed(self, item: HistoryItem, **changes: Any) -> None:
        try:
            updated = self.history.update(item.id, **changes)
        except HistoryError as exc:
            ui.notify(str(exc), type="negative")
            return
        row = self.rows.get(item.id)
        if row is not None:
            row.show(updated)

    def _favourite(self, item: HistoryItem, value: bool) -> None:
        self._changed(item, favourite=value)

    def _rate(self, item: HistoryItem, stars: int) -> None:
        self._changed(item, rating=stars)

    async def _edit(self, item: HistoryItem) -> None:
        with self.root:
            edited = await edit_tags_and_notes(item)
        if edited is not None:
            self._changed(item, tags=edited[0], notes=edited[1])
            self._update_facets()

    def _queue_take(self, item: HistoryItem, submit: Any, what: str) -> None:
        try:
            self.queued = submit().id
        except (HistoryError, InvalidRequest, EngineNotReady) as exc:
            ui.notify(str(exc), type="negative", multi_line=True)
            return
        self.progress.refresh()
        self.expanded.add(item.group_id)
        ui.notify(f"Queued {what}: it appears here as a new take when it is done.", type="info")

    def _rerun(self, item: HistoryItem) -> None:
        self._queue_take(item, lambda: self.history.rerun(item.id), "a re-run with the same seed")

    async def _vary(self, item: HistoryItem) -> None:
        if item.engine_id not in self.services.registry:
            ui.notify(f"The engine {item.engine_id} is not installed any more.", type="warning")
            return
        with self.root:
            params = await variation_params(self.services.registry.get(item.engine_id), item)
        if params is not None:
            self._queue_take(item, lambda: self.history.vary(item.id, params, new_seed=False), "a variation")

    def _evaluate(self, item: HistoryItem) -> None:
        self._queue_evaluation([item.id], f"“{item.title}”: its scores appear on it when done")

    def _evaluate_selected(self) -> None:
        if len(self.selected) == 1:
            self._evaluate(next(iter(self.selected.values())))
            return
        self._queue_evaluation(list(self.selected), f"{len(self.selected)} generations: their scores appear on "
                                                    "them when done, the whole report on the Evaluation page")

    def _queue_evaluation(self, ids: list[str], what: str) -> None:
        """Every metric that applies to each generation: against its text, and its reference clip if it had one."""
        try:
            self.queued = self.services.evaluation.submit(EvaluationRequest("jobs", jobs=tuple(ids))).id
        except InvalidRequest as exc:
            ui.notify(str(exc), type="negative", multi_line=True)
            return
        self.progress.refresh()
        ui.notify(f"Evaluating {what}.", type="info")

    async def _keep(self, item: HistoryItem) -> None:
        with self.root:
            await keep_as_sample(self.services.library, item.id, item.title, item.duration, item.text)

    async def _delete(self, item: HistoryItem) -> None:
        with self.root:
            confirmed = await confirm_delete(1, item.group_size - 1)
        if confirmed:
            self._deleted(self.history.delete([item.id]))

    def _deleted(self, ids: list[str]) -> None:
        for generation_id in ids:
            self.selected.pop(generation_id, None)
        self._selection_changed()
        ui.notify(f"Deleted {len(ids)} generation{'s' if len(ids) != 1 else ''}.")
        self.refresh()

    # -- selection -----------------------------------------------------------------------------------------

    def _select_item(self, item: HistoryItem, value: bool) -> None:
        if value:
            self.selected[item.id] = item
        else:
            self.selected.pop(item.id, None)
        self._selection_changed()

    def _selection_changed(self) -> None:
        self.bulk.set_visibility(bool(self.selected))
        self.bulk_label.set_text(f"{len(self.selected)} selected")

    def _clear_selection(self) -> None:
        self.selected.clear()
        self._selection_changed()
        self.refresh()

    def _compare_selected(self) -> None:
        add_to_comparison(*(clip_key(GENERATION, generation_id) for generation_id in self.selected))

    async def _export_selected(self) -> None:
        with self.root:
            await download_project(self.services.projects, Selection(generations=tuple(self.selected)))

    async def _import(self) -> None:
        with self.root:
            if await import_project(self.services.projects) is not None:
                self._update_facets()
                self.refresh()

    async def _delete_selected(self) -> None:
        with self.root:
            confirmed = await confirm_delete(len(self.selected))
        if confirmed:
            self._deleted(self.history.delete(list(self.selected)))

    # -- statistics ----------------------------------------------------------------------------------------

    def _show_stats(self) -> None:
        try:
            stats = self.history.stats(self._query())
        except HistoryError:
            return
        self.stats_area.clear()
        with self.stats_area:
            ui.label(summary(stats)).classes("text-body1").mark("stats-summary")
            for figure in stats_figures(stats, self._engine_name, self._profile_name):
                ui.plotly(figure).classes("w-full").mark("stats-chart")


def history_page(services: Services, shortcuts: Shortcuts) -> None:
    HistoryListPage(services)
