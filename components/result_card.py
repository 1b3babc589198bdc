"""The result card: a player streaming the file from disk, the clip's plots, downloads in four formats, metadata,
a button that sets the result aside for the A/B comparison, and (given the library) one that keeps it as a voice
sample."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nicegui import background_tasks, run, ui

from studio.audio.analysis import F0_METHODS
from studio.audio.io import EXPORT_FORMATS
from studio.generation import GenerationService
from studio.history.compare import GENERATION, clip_key
from studio.jobs import JobInfo
from studio.library import LibraryService

from . import theme
from .audio_plots import clip_figure
from .compare_tray import compare_button
from .keep_sample import keep_button

MEDIA_ROUTE = "/media"  # STUDIO_HOME/generations is served at /media/generations, with range requests


def media_url(job: JobInfo) -> str:
    return f"{MEDIA_ROUTE}/{job.result['audio']}" if job.result else ""


def file_url(path: Path, home: Path) -> str | None:
    """The media URL of a file under STUDIO_HOME's generations or uploads (None for files elsewhere)."""
    try:
        relative = path.resolve().relative_to(home.resolve())
    except ValueError:
        return None
    return f"{MEDIA_ROUTE}/{relative.as_posix()}" if relative.parts[0] in ("generations", "uploads") else None


def download_url(job: JobInfo, fmt: str) -> str:
    return f"/api/jobs/{job.id}/audio?format={fmt}"


class ResultCard:
    def __init__(self, job: JobInfo, generation: GenerationService,
                 on_reuse: Callable[[str, Any], None] | None = None, library: LibraryService | None = None) -> None:
        self.job = job
        self.generation = generation
        result: dict[str, Any] = job.result or {}
        engine = generation.registry.get(job.engine_id) if job.engine_id in generation.registry else None
        with ui.card().classes(theme.CARD).mark("result-card"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.icon("graphic_eq", color="primary", size="sm")
                ui.label(job.title).classes("text-subtitle1 grow ellipsis")
            with ui.row().classes("gap-2"):
                for text in (f"{result.get('duration', 0):.2f} s", f"{result.get('sample_rate', 0) / 1000:g} kHz",
                             f"RTF {result['rtf']:.3f}" if result.get("rtf") else None,
                             engine.name if engine else job.engine_id):
                    if text:
                        ui.badge(text).props("outline color=grey-7")
            self.player = ui.audio(media_url(job)).classes("w-full").mark("result-player")
            self._extra()
            with ui.row().classes("w-full items-center gap-2"):
                for fmt in EXPORT_FORMATS:
                    ui.button(fmt.upper(), icon="download").props(
                        f'outline no-caps type=a href="{download_url(job, fmt)}" download').mark(f"download-{fmt}")
                compare_button(clip_key(GENERATION, job.id))
                self._actions()
                if library is not None:
                    keep_button(library, job.id, job.title, float(result.get("duration") or 0))
                ui.space()
                self.f0_method = ui.toggle({m: "F0: WORLD" if m == "pyworld" else "F0: Praat" for m in F0_METHODS},
                                           value="pyworld", on_change=lambda: self._plot()).props("dense no-caps")
            self.plot_area = ui.column().classes("w-full")
            with ui.expansion("Parameters and details", icon="info").classes("w-full"):
                self._details(engine, on_reuse)
        background_tasks.create(self._plot(), name=f"plot {job.id}")

    def _extra(self) -> None:
        """Subclasses add rows under the player here (a conversion shows its source)."""

    def _actions(self) -> None:
        """Subclasses add buttons next to Compare here."""

    def _figure(self, path: Path, f0_method: str, columns: int) -> dict[str, Any]:
        """The plot of the result (runs off the event loop); subclasses may show more than the clip."""
        return clip_figure(path, f0_method, columns)

    def _details(self, engine: Any, on_reuse: Callable[[str, Any], None] | None) -> None:
        params = self.job.payload.get("params", {})
        rows = [{"name": k, "value": str(v)} for k, v in params.items()]
        result = self.job.result or {}
        rows += [
            {"name": "engine time", "value": f"{result.get('engine_seconds', 0):.2f} s"},
            {"name": "created", "value": dt.datetime.fromtimestamp(self.job.created_at).strftime("%Y-%m-%d %H:%M:%S")},
            {"name": "job", "value": self.job.id},
        ]
        ui.table(columns=[{"name": "name", "label": "", "field": "name", "align": "left"},
                          {"name": "value", "label": "", "field": "value", "align": "left"}],
                 rows=rows).props("dense flat hide-header").classes("w-full")
        if on_reuse and "seed" in params:
            ui.button(f"Use seed {params['seed']} again", icon="casino",
                      on_click=lambda: on_reuse("seed", params["seed"])).props("flat no-caps").mark("reuse-seed")

    async def _plot(self) -> None:
        path = self.generation.audio_path(self.job)
        self.plot_area.clear()
        with self.plot_area:
            spinner = ui.spinner(size="lg")
        if path is None or not path.exists():
            spinner.delete()
            with self.plot_area:
                ui.label("The audio file is missing.").classes("text-negative")
            return
        figure = await run.io_bound(self._figure, path, self.f0_method.value, await self._plot_columns())
        if self.plot_area.is_deleted:
            return
        self.plot_area.clear()
        with self.plot_area:
            ui.plotly(figure).classes("w-full").mark("result-plot")

    async def _plot_columns(self) -> int:
        """Two envelope columns per pixel of the plot's width in this browser (1200 when it cannot tell)."""
        try:
            width = await self.plot_area.client.run_javascript(
                f"getHtmlElement({self.plot_area.id}).clientWidth", timeout=0.5)
            return int(min(max(2 * float(width), 200), 4000))
        except (TimeoutError, TypeError, ValueError):
            return 1200

    def toggle_play(self) -> None:
        ui.run_javascript(f"const a = getHtmlElement({self.player.id}); if (a) {{ a.paused ? a.play() : a.pause(); }}")
