"""A reference sample as a card: player, editable transcript, the doctor's report with one-click fixes, versions."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from studio.library import SampleInfo
from studio.library.doctor import Report
from studio.library.fixes import FIXES

from . import theme

VERDICT = {"ok": ("Good reference", "positive", "verified"), "warn": ("Could be better", "warning", "info"),
           "bad": ("Needs work", "negative", "error")}
FIT = {"sweet": ("positive", "in its sweet spot"), "ok": ("primary", "usable"), "too_short": ("negative", "too short"),
       "too_long": ("negative", "too long")}
SOURCE = {"upload": "uploaded", "recording": "recorded", "generation": "from a generation", "fix": "fixed"}
TRANSCRIPT_SOURCE = {"user": "typed", "cut": "cut with the audio", "": "none yet"}


def sample_url(sample: SampleInfo) -> str:
    return f"/media/library/{sample.id}/{sample.normalised.name}"


def measures_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    snr = m.get("snr_db")
    loudness = m.get("loudness_lufs")
    return [
        ("Duration", f"{m['duration']:.1f} s"),
        ("Speech", f"{m['speech_ratio']:.0%} of the clip"),
        ("Silence before / after", f"{m['leading_silence']:.2f} s / {m['trailing_silence']:.2f} s"),
        ("Clipping", f"{m['clipping_ratio']:.2%} of samples"),
        ("Noise (SNR)", "no noise floor" if snr is not None and snr >= 100 else
         (f"{snr:.0f} dB" if snr is not None else "no speech to compare")),
        ("Loudness", f"{loudness:.1f} LUFS" if loudness is not None and loudness > -100 else "silent"),
        ("Sample rate", f"{m['sample_rate'] / 1000:g} kHz"),
    ]


class SampleCard:
    """`act(name, sample, **args)` performs what the user asked: save_transcript, transcribe, fix, delete, rename."""

    def __init__(self, sample: SampleInfo, report: Report, version: int,
                 act: Callable[..., Awaitable[None]]) -> None:
        self.sample = sample
        self._act = act
        label, color, icon = VERDICT[report.verdict]
        with ui.card().classes("w-full gap-2").mark(f"sample-{sample.id}") as self.card:
            with ui.row().classes("w-full items-center gap-2"):
                ui.icon(icon, color=color)
                ui.label(sample.name).classes("text-subtitle1 ellipsis")
                ui.badge(f"v{version}" if version > 1 else "original").props("outline color=grey-7")
                ui.badge(f"{sample.duration:.1f} s").props("outline color=grey-7")
                ui.badge(SOURCE.get(sample.source, sample.source)).props("outline color=grey-7")
                ui.badge(label, color=color).mark(f"verdict-{report.verdict}")
                ui.space()
                ui.button(icon="delete", on_click=lambda: self._act("delete", sample)) \
                    .props('flat round color=negative aria-label="Delete this sample"').mark("delete-sample")
            if sample.fix:
                ui.label(sample.fix).classes(theme.HINT)
            ui.audio(sample_url(sample)).classes("w-full").mark("sample-player")
            self.transcript = ui.textarea("Transcript", value=sample.transcript,
                                          placeholder="What is said in the clip, word for word.") \
                .props("autogrow outlined").classes("w-full").mark("sample-transcript")
            with ui.row().classes("w-full items-center gap-2"):
                ui.button("Save transcript", icon="save", on_click=self._save).props("outline no-caps") \
                    .mark("save-transcript")
                ui.button("Transcribe", icon="subtitles", on_click=lambda: self._act("transcribe", sample)) \
                    .props("outline no-caps").mark("transcribe-sample")
                source = TRANSCRIPT_SOURCE.get(sample.transcript_source, f"by {sample.transcript_source}")
                ui.label(f"Transcript: {source}" + (f" · {len(sample.words)} timed words" if sample.words else "")) \
                    .classes(theme.HINT)
            ui.label(report.summary).classes("text-body2").mark("doctor-summary")
            with ui.row().classes("w-full items-center gap-2"):
                for name, (title, _) in FIXES.items():
                    if name == "best_window":
                        continue
                    recommended = name in report.fixes
                    ui.button(title, icon="auto_fix_high", on_click=lambda n=name: self._act("fix", sample, fix=n)) \
                        .props("no-caps" + ("" if recommended else " outline")).mark(f"fix-{name}")
                seconds = ui.number("Seconds", value=10, min=2, max=60, step=1).props("dense outlined") \
                    .classes("w-24").mark("window-seconds")
                ui.button(FIXES["best_window"][0], icon="content_cut",
                          on_click=lambda: self._act("fix", sample, fix="best_window",
                                                     params={"seconds": float(seconds.value or 10)})) \
                    .props("no-caps" + ("" if "best_window" in report.fixes else " outline")).mark("fix-best_window")
            with ui.expansion("Doctor's report", icon="monitor_heart").classes("w-full").mark("doctor-report"):
                self._report(report)

    @staticmethod
    def _report(report: Report) -> None:
        with ui.grid(columns=2).classes("w-full gap-x-4 gap-y-1"):
            for name, value in measures_rows(report.measures):
                ui.label(name).classes(theme.HINT)
                ui.label(value).classes("text-body2")
        for finding in report.findings:
            color = "negative" if finding.severity == "bad" else "warning"
            with ui.row().classes("items-start no-wrap gap-2"):
                ui.icon("error" if finding.severity == "bad" else "info", color=color)
                ui.label(finding.message).classes("text-body2")
        if report.fits:
            ui.label("Length for each engine").classes("text-subtitle2")
            with ui.row().classes("gap-1"):
                for fit in report.fits:
                    color, word = FIT[fit.fit]
                    ui.chip(f"{fit.engine_name}: {word}", color=color).props("outline dense") \
                        .tooltip(fit.describe).mark(f"fit-{fit.engine_id}")

    async def _save(self) -> None:
        await self._act("save_transcript", self.sample, text=self.transcript.value or "")
