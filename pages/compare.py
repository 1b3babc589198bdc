"""Compare: clips side by side on one time axis, what differs highlighted; blind rounds that end in a vote."""
from __future__ import annotations

import random
from typing import Any

from nicegui import app, background_tasks, run, ui

from components import theme
from components.audio_input import AudioInputField
from components.audio_plots import ARRANGEMENTS, VIEWS, comparison_figure
from components.compare_tray import compared, set_compared
from components.evaluation_results import score_chips
from components.generation_picker import pick_generations
from components.names import engine_name, profile_names
from components.saved_comparisons import SavedComparisonsPanel
from studio.history import HistoryError
from studio.history.compare import GENERATION, LABELS, MAX_CLIPS, UPLOAD, Clip, Tally, clip_key, differences
from studio.services import Services
from studio.uploads import StoredAudio

from .shortcuts import Shortcuts

PLOT_COLUMNS = 1200
POLL_SECONDS = 1.0


class ComparePage:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.prefs: dict[str, Any] = app.storage.user.setdefault("compare_view", {"view": "waveform",
                                                                                "arrangement": "overlay"})
        self.clips: list[Clip] = []
        self.order: list[str] = []  # the clips' keys in the order shown: shuffled in a blind round
        self.blind = False
        self.revealed = False
        self.chosen: str | None = None
        self.plot_token = 0
        self.score_rows: dict[str, ui.row] = {}  # generation id -> the chips of its stored scores
        self.scores_revision = services.evaluation.revision
        with ui.column().classes(theme.PAGE):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label("Compare").classes("text-h5")
                ui.space()
                ui.button("Add from history", icon="history", on_click=self._add_from_history) \
                    .props("outline no-caps").mark("add-from-history")
                ui.button("Save", icon="bookmark_add", on_click=lambda: self.saved.save()) \
                    .props("outline no-caps").mark("save-comparison")
                ui.button("Remove all", icon="clear_all", on_click=lambda: self._set([])).props("flat no-caps") \
                    .mark("remove-all")
            self.saved = SavedComparisonsPanel(services.saved_comparisons, compared, self._open_saved)
            with ui.expansion("Add an upload (a recording, another tool's output)", icon="upload_file") \
                    .classes("w-full").mark("upload-panel"):
                self.upload = AudioInputField(services.uploads, "Audio or video with sound", on_change=self._uploaded,
                                              marker="compare-upload")
            with ui.row().classes("w-full items-center gap-4"):
                self.blind_switch = ui.switch("Blind test", on_change=lambda e: self._set_blind(e.value)) \
                    .mark("blind-mode")
                self.blind_hint = ui.label("Names hidden and order shuffled: listen, vote, then see which was which.") \
                    .classes(theme.HINT)
            self.cards = ui.grid().classes("w-full grid-cols-1 sm:grid-cols-2 lg:grid-cols-3 gap-3") \
                .mark("compare-clips")
            self.voting = ui.column().classes("w-full gap-2").mark("voting")
            with ui.row().classes("w-full items-center gap-2"):
                self.view = ui.toggle(VIEWS, value=self.prefs["view"], on_change=self._plot_changed) \
                    .props("no-caps").mark("plot-view")
                self.arrangement = ui.toggle(ARRANGEMENTS, value=self.prefs["arrangement"],
                                             on_change=self._plot_changed).props("no-caps").mark("plot-arrangement")
            self.plot_area = ui.column().classes("w-full").mark("compare-plot-area")
            self.differences = ui.column().classes("w-full gap-1").mark("differences")
            self.only_differences = True
            self.tally_area = ui.column().classes("w-full gap-2").mark("tally")
        self.render()
        ui.timer(POLL_SECONDS, self._poll_scores)

    # -- which clips ---------------------------------------------------------------------------------------

    def _set(self, keys: list[str]) -> None:
        set_compared(keys)
        self.revealed, self.chosen = False, None
        self.render()

    def _open_saved(self, keys: list[str]) -> None:
        if self.blind:
            self.blind_switch.set_value(False)  # a saved set opens with its names shown
        self._set(keys)

    async def _add_from_history(self) -> None:
        room = MAX_CLIPS - len(self.clips)
        if room <= 0:
            ui.notify(f"At most {MAX_CLIPS} clips: remove one first.", type="warning")
            return
        shown = {clip.id for clip in self.clips if clip.kind == GENERATION}
        picked = await pick_generations(self.services.history, "Add generations to compare", exclude=shown)
        if picked:
            self._set(compared() + [clip_key(GENERATION, item.id) for item in picked][:room])

    def _uploaded(self, upload: StoredAudio | None) -> None:
        if upload is not None:
            self.upload.set(None)
            self._set(compared() + [clip_key(UPLOAD, upload.id)])

    def _load(self) -> None:
        clips, gone = [], []
        for key in compared():
            try:
                clips.append(self.services.comparisons.clip(key))
            except HistoryError:
                gone.append(key)
        if gone:
            set_compared([k for k in compared() if k not in gone])
            ui.notify(f"{len(gone)} clip{'s were' if len(gone) != 1 else ' was'} deleted and left the comparison.")
        self.clips = clips
        keys = [c.key for c in clips]
        if not self.blind or sorted(self.order) != sorted(keys):
            self.order = random.sample(keys, len(keys)) if self.blind else keys

    # -- blind rounds --------------------------------------------------------------------------------------

    def _set_blind(self, value: bool) -> None:
        if value and len(compared()) < 2:
            ui.notify("A blind test needs at least two clips.", type="warning")
            self.blind_switch.set_value(False)
            return
        self.blind, self.revealed, self.chosen = value, False, None
        self.order = []
        self.render()

    def _new_round(self) -> None:
        self.revealed, self.chosen, self.order = False, None, []
        self.render()

    def _vote(self, chosen: str | None) -> None:
        try:
            self.services.comparisons.vote(self.order, chosen)
        except HistoryError as exc:
            ui.notify(str(exc), type="negative")
            return
        self.chosen, self.revealed = chosen, True
        ui.notify("Vote saved.", type="positive")
        self.render()

    def _reveal(self) -> None:
        self.revealed = True
        self.render()

    @property
    def hidden(self) -> bool:
        return self.blind and not self.revealed

    # -- showing -------------------------------------------------------------------------------------------

    def render(self) -> None:
        self._load()
        shown = [next(c for c in self.clips if c.key == key) for key in self.order]
        self.blind_hint.set_visibility(self.blind)
        self.cards.clear()
        self.score_rows.clear()
        with self.cards:
            if len(shown) < 2:
                ui.label("Add at least two clips: the Compare button of a result or of an item in the History, "
                         "“Add from history” above, or an upload.").classes(theme.HINT + " col-span-full")
            for i, clip in enumerate(shown):
                self._card(LABELS[i], clip)
        self._show_scores()
        self._voting(shown)
        self._differences(shown)
        self._tally()
        background_tasks.create(self._plot(shown), name="compare plot")

    def _media(self, clip: Clip) -> str:
        return "/media/" + clip.path.relative_to(self.services.paths.home).as_posix()

    def _card(self, label: str, clip: Clip) -> None:
        chosen = self.revealed and clip.key == self.chosen
        with ui.card().classes("w-full gap-1" + (" ring-4 ring-amber-400" if chosen else "")).mark(f"clip-{label}"):
            with ui.row().classes("w-full items-center no-wrap gap-2"):
                ui.badge(label, color=theme.CLIP_COLORS[LABELS.index(label) % len(theme.CLIP_COLORS)]) \
                    .classes("text-subtitle1 px-2")
                ui.label("Hidden until you vote" if self.hidden else clip.name) \
                    .classes("text-body1 grow ellipsis" + (" text-grey-6 italic" if self.hidden else ""))
                if chosen:
                    ui.icon("emoji_events", color="amber").mark("winner")
                if not self.blind:
                    ui.button(icon="close", on_click=lambda k=clip.key: self._set([x for x in compared() if x != k])) \
                        .props(f'flat round aria-label="Remove {label}"').mark(f"remove-{label}")
            ui.audio(self._media(clip)).props("preload=metadata").classes("w-full").mark(f"player-{label}")
            if not self.hidden:
                facts = [clip.details.get("engine", clip.details.get("source", "")), f"{clip.duration:.2f} s"]
                ui.label(" · ".join(f for f in facts if f)).classes(theme.HINT)
                if clip.kind == GENERATION:
                    self.score_rows[clip.id] = ui.row().classes("items-center gap-1").mark(f"scores-{label}")

    def _show_scores(self) -> None:
        """Each shown generation's stored scores (the newest value of each metric); hidden in a blind round."""
        self.scores_revision = self.services.evaluation.revision
        scores = self.services.evaluation.latest_scores(self.score_rows)
        for generation_id, row in self.score_rows.items():
            row.clear()
            with row:
                score_chips(scores.get(generation_id, []))
            row.set_visibility(generation_id in scores)

    def _poll_scores(self) -> None:
        if self.services.evaluation.revision != self.scores_revision:
            self._show_scores()

    def _voting(self, shown: list[Clip]) -> None:
        self.voting.clear()
        if not self.blind or len(shown) < 2:
            return
        with self.voting:
            if self.hidden:
                ui.label("Which sounds better?").classes(theme.SECTION_TITLE)
                with ui.row().classes("gap-2"):
                    for i, clip in enumerate(shown):
                        ui.button(f"{LABELS[i]} is better", icon="thumb_up",
                                  on_click=lambda k=clip.key: self._vote(k)).props("no-caps").mark(f"vote-{LABELS[i]}")
                    ui.button("No preference", icon="balance", on_click=lambda: self._vote(None)) \
                        .props("outline no-caps").mark("vote-none")
                    ui.button("Reveal without voting", icon="visibility", on_click=self._reveal) \
                        .props("flat no-caps").mark("reveal")
            else:
                winner = next((f"{LABELS[i]}: {c.name}" for i, c in enumerate(shown) if c.key == self.chosen), None)
                ui.label(f"You preferred {winner}." if winner else "No vote in this round.").classes("text-body1") \
                    .mark("verdict")
                ui.button("New round", icon="shuffle", on_click=self._new_round).props("no-caps").mark("new-round")

    def _differences(self, shown: list[Clip]) -> None:
        self.differences.clear()
        if len(shown) < 2 or self.hidden:
            return
        rows = [d for d in differences(shown) if d.differs or not self.only_differences]
        with self.differences:
            with ui.row().classes("w-full items-center"):
                ui.label("What differs").classes(theme.SECTION_TITLE)
                ui.space()
                ui.switch("Only differences", value=self.only_differences, on_change=self._only_differences) \
                    .mark("only-differences")
            with ui.element("div").classes("w-full overflow-x-auto"):
                with ui.grid(columns=len(shown) + 1).classes("min-w-full gap-0 text-body2"):
                    ui.label("")
                    for i in range(len(shown)):
                        ui.label(LABELS[i]).classes("font-bold px-2 py-1")
                    for row in rows:
                        cell = "px-2 py-1 break-words" + (" diff-cell" if row.differs else "")
                        ui.label(row.name).classes(cell + " text-grey-7").mark(f"difference-{row.name}")
                        for value in row.values:
                            ui.label(value or "—").classes(cell)
            if not rows:
                ui.label("Nothing differs but the audio itself.").classes(theme.HINT)

    def _only_differences(self, e: Any) -> None:
        self.only_differences = e.value
        self._differences([next(c for c in self.clips if c.key == key) for key in self.order])

    def _tally(self) -> None:
        tally: Tally = self.services.comparisons.tally()
        self.tally_area.clear()
        if not tally.rounds:
            return
        profiles = profile_names(self.services, [r.key for r in tally.by_profile])
        with self.tally_area:
            ui.label(f"Blind votes: {tally.rounds} round{'s' if tally.rounds != 1 else ''}"
                     + (f", {tally.no_preference} without a preference" if tally.no_preference else "")) \
                .classes(theme.SECTION_TITLE)
            columns = [{"name": n, "label": label, "field": n, "align": "left"}
                       for n, label in (("key", ""), ("wins", "Wins"), ("appearances", "Heard"), ("rate", "Win rate"))]
            groups = (("By engine", tally.by_engine, lambda k: engine_name(self.services, k) or "uploads"),
                      ("By profile", tally.by_profile, lambda k: profiles.get(k or "", "none")))
            for title, rows, name in groups:
                ui.label(title).classes("text-subtitle2")
                ui.table(columns=columns, rows=[
                    {"key": name(r.key),
                     "wins": r.wins, "appearances": r.appearances, "rate": f"{r.win_rate:.0%}"} for r in rows],
                    row_key="key").props("dense flat").classes("w-full").mark(f"tally-{title.split()[-1]}")

    def _plot_changed(self) -> None:
        self.prefs.update(view=self.view.value, arrangement=self.arrangement.value)
        background_tasks.create(self._plot([next(c for c in self.clips if c.key == k) for k in self.order]),
                                name="compare plot")

    async def _plot(self, shown: list[Clip]) -> None:
        self.plot_token += 1
        token = self.plot_token
        self.plot_area.clear()
        if len(shown) < 2:
            return
        with self.plot_area:
            ui.spinner(size="lg")
        labels = [LABELS[i] if self.hidden else f"{LABELS[i]} · {c.name[:28]}" for i, c in enumerate(shown)]
        figure = await run.io_bound(comparison_figure, list(zip(labels, [c.path for c in shown])), self.view.value,
                                    self.arrangement.value, "pyworld", PLOT_COLUMNS)
        if figure is None or token != self.plot_token or self.plot_area.is_deleted:
            return  # shutting down, or a newer plot was asked for while this one was analysed
        self.plot_area.clear()
        with self.plot_area:
            ui.plotly(figure).classes("w-full").mark("compare-plot")


def compare_page(services: Services, shortcuts: Shortcuts) -> None:
    ComparePage(services)
