"""A conversion's result card: the converted clip with its source, what the engine changed, and one plot with
both F0 contours overlaid in semitones over both spectrograms (note names for singing)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nicegui import background_tasks, run, ui

from studio.conversion import SOURCE_SLOT, ConversionService, voice_name
from studio.generation import GenerationService
from studio.history.compare import GENERATION, UPLOAD, clip_key
from studio.jobs import JobInfo
from studio.library import LibraryService
from studio.metrics import MetricError

from . import theme
from .audio_plots import conversion_figure
from .compare_tray import add_to_comparison
from .result_card import ResultCard, file_url


def compared_clips(job: JobInfo) -> list[str]:
    """The clip keys to hear a conversion against: its source, the converted clip, and the target when it was an
    upload (library voices are not clips of the comparison)."""
    inputs = job.payload.get("inputs", {})

    def upload(value: Any) -> str | None:
        return clip_key(UPLOAD, value["upload"]) if isinstance(value, dict) and value.get("upload") else None

    others = [upload(value) for slot, value in inputs.items() if slot != SOURCE_SLOT]
    return [key for key in (upload(inputs.get(SOURCE_SLOT)), clip_key(GENERATION, job.id), *others) if key]


def change_summary(extras: dict[str, Any]) -> list[str]:
    """What an engine reports it changed, in words; engines use these extras keys by convention."""
    parts = []
    if extras.get("semitones_applied") is not None:
        parts.append(f"pitch {extras['semitones_applied']:+.1f} st")
    if extras.get("range_scale") not in (None, 1, 1.0):
        parts.append(f"range ×{extras['range_scale']:.2f}")
    if extras.get("formant_ratio") is not None:
        parts.append(f"formants ×{extras['formant_ratio']:.2f}")
    if (extras.get("blocks") or 1) > 1:
        parts.append(f"{extras['blocks']} blocks")
    if extras.get("bitrate_kbps") is not None:  # codecs
        parts.append(f"{extras['bitrate_kbps']:.2f} kbit/s")
    if extras.get("codebooks") is not None:
        parts.append(f"{extras['codebooks']} codebooks at {extras['frame_rate']:g} Hz")
    return parts


class ConversionCard(ResultCard):
    def __init__(self, job: JobInfo, generation: GenerationService, conversion: ConversionService, *,
                 note_names: bool = False, on_reuse: Callable[[str, Any], None] | None = None,
                 library: LibraryService | None = None) -> None:
        self.conversion = conversion
        self.note_names = note_names
        self.source = conversion.source_path(job)
        super().__init__(job, generation, on_reuse, library)

    def _actions(self) -> None:
        clips = compared_clips(self.job)
        if len(clips) > 1:
            ui.button("Compare with source", icon="compare", on_click=lambda: add_to_comparison(*clips)) \
                .props("outline no-caps").mark("compare-with-source")

    def _extra(self) -> None:
        inputs = self.job.payload.get("inputs", {})
        extras = (self.job.result or {}).get("extras", {})
        with ui.row().classes("w-full items-center gap-2 no-wrap").mark("source-player"):
            ui.label("Source").classes("text-body2 min-w-[4.5rem]")
            url = file_url(self.source, self.generation.paths.home) if self.source else None
            if url:
                ui.audio(url).classes("grow")
            else:
                ui.label("The source clip was deleted.").classes(theme.HINT)
        target = self._target_name(inputs)
        summary = change_summary(extras) + ([f"toward {target}"] if target else [])
        if summary:
            ui.label(" · ".join(summary)).classes("text-body2").mark("conversion-summary")
        for note in extras.get("notes", []):
            with ui.row().classes("items-center gap-1 no-wrap"):
                ui.icon("info", size="xs", color="info")
                ui.label(note).classes(theme.HINT).mark("conversion-note")
        if self.conversion.similarity is not None:
            self.similarity_row = ui.row().classes("items-center gap-2").mark("similarity")
            background_tasks.create(self._similarity(), name=f"similarity {self.job.id}")

    def _target_name(self, inputs: dict[str, Any]) -> str | None:
        engine = self.generation.registry.get(self.job.engine_id) if self.job.engine_id in self.generation.registry \
            else None
        slot = self.conversion.target_slot(engine) if engine else None
        return voice_name(inputs.get(slot)) if slot else None

    async def _similarity(self) -> None:
        """Speaker similarity of the result to the target and to the source (when the metric is installed)."""
        converted = self.generation.audio_path(self.job)
        engine = self.generation.registry.get(self.job.engine_id)
        slot = self.conversion.target_slot(engine)
        pairs = [("target", self.conversion.input_path(self.job, slot) if slot else None), ("source", self.source)]
        for label, other in pairs:
            if other is None or converted is None:
                continue
            try:
                score = await run.io_bound(self.conversion.similarity, converted, other)  # type: ignore[arg-type]
            except MetricError as exc:
                if not self.similarity_row.is_deleted:
                    with self.similarity_row:
                        ui.label(f"No similarity to the {label}: {exc}").classes(theme.HINT) \
                            .mark(f"similarity-{label}-missing")
                continue
            if self.similarity_row.is_deleted:
                return
            with self.similarity_row:
                ui.badge(f"similarity to {label} {score:.2f}").props("outline color=primary") \
                    .tooltip("Cosine similarity of speaker embeddings: 1 = the same voice.").mark(f"similarity-{label}")

    def _figure(self, path: Path, f0_method: str, columns: int) -> dict[str, Any]:
        if self.source is None:
            return super()._figure(path, f0_method, columns)
        return conversion_figure(self.source, path, f0_method, note_names=self.note_names)
