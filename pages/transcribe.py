"""Transcription: upload, record or pick audio -> transcript with timestamps; copy, or download as text, SRT, JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nicegui import app, ui

from components import theme
from components.audio_input import AudioInputField
from components.engine_picker import EnginePicker
from components.job_progress import JobProgress
from components.library_picker import library_picker
from components.param_form import ParamForm
from engines.contract import Engine, InvalidRequest
from studio.jobs import JobInfo, JobState
from studio.services import Services
from studio.transcription import TRANSCRIBE, Transcript

from .shortcuts import Shortcuts


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:05.2f}"


class TranscribePage:
    def __init__(self, services: Services, shortcuts: Shortcuts) -> None:
        self.services = services
        self.prefs: dict[str, Any] = app.storage.user.setdefault("transcribe", {"engine": None, "params": {}})
        self.shown_job: str | None = None
        self.transcript: Transcript | None = None
        with ui.column().classes(theme.PAGE):
            ui.label("Transcribe").classes("text-h5")
            self.audio = AudioInputField(services.uploads, "Audio", marker="transcribe-audio",
                                         pickers=[library_picker(services.library, services.uploads)],
                                         help="Speech in any language Whisper knows; up to 50 MB.")
            self.picker = EnginePicker(services.registry.for_task("asr"), self.prefs.get("engine"), self._engine_changed)
            self.form_area = ui.column().classes("w-full")
            with ui.row().classes("items-center gap-3"):
                ui.button("Transcribe", icon="subtitles", on_click=self.run).props("size=lg no-caps").mark("transcribe")
                ui.label("Ctrl + Enter").classes(theme.HINT + " gt-sm")
            self.message = ui.label("").classes("text-negative text-body2").mark("transcribe-message")
            self.progress = JobProgress(services.jobs, self._latest, self._job_changed)
            self.result_area = ui.column().classes("w-full")
        self._build_form(self.picker.engine)
        shortcuts.page(run=self.run)

    def _latest(self) -> JobInfo | None:
        jobs = self.services.jobs.list(limit=1, kinds=(TRANSCRIBE,))
        return jobs[0] if jobs else None

    def _engine_changed(self, engine: Engine) -> None:
        self.prefs["engine"] = engine.id
        self._build_form(engine)

    def _build_form(self, engine: Engine) -> None:
        self.form_area.clear()
        with self.form_area:
            self.form = ParamForm(engine.params, self.prefs.setdefault("params", {}).get(engine.id, {}),
                                  on_change=lambda values: self.prefs["params"].__setitem__(engine.id, values))

    def run(self) -> None:
        if self.audio.value is None:
            self.message.set_text("Upload, record or pick the audio to transcribe first.")
            return
        try:
            self.services.transcription.submit(self.audio.value.normalised, self.picker.engine.id,
                                               self.form.values, title=f"Transcribe {self.audio.value.name}")
        except InvalidRequest as exc:
            self.message.set_text(str(exc))
            return
        self.message.set_text("")
        self.progress.refresh()

    def _job_changed(self, job: JobInfo | None) -> None:
        if job is None or job.state != JobState.succeeded or job.id == self.shown_job or not job.result:
            return
        self.shown_job = job.id
        self.transcript = Transcript.from_dict(job.result)
        self._show(self.transcript, Path(job.payload.get("path", "transcript")).parent.name or "transcript")

    def _show(self, transcript: Transcript, stem: str) -> None:
        self.result_area.clear()
        with self.result_area, ui.card().classes("w-full").mark("transcript-card"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.icon("subtitles", color="primary")
                ui.label(f"{transcript.duration:.1f} s").classes("text-subtitle1")
                ui.badge(f"{transcript.language} · {transcript.language_probability:.0%}") \
                    .props("outline color=grey-7").mark("transcript-language")
                ui.space()
                ui.button("Copy", icon="content_copy", on_click=lambda: self._copy(transcript.text)) \
                    .props("outline no-caps").mark("copy-transcript")
                for fmt, label in (("txt", "Text"), ("srt", "SRT"), ("json", "JSON")):
                    ui.button(label, icon="download", on_click=lambda f=fmt: self._download(transcript, stem, f)) \
                        .props("outline no-caps").mark(f"download-{fmt}")
            ui.textarea(value=transcript.text or "(no speech found)").props("readonly autogrow outlined") \
                .classes("w-full").mark("transcript-text")
            if transcript.words:
                with ui.expansion(f"Words with timestamps ({len(transcript.words)})", icon="schedule") \
                        .classes("w-full").mark("transcript-words"):
                    with ui.row().classes("gap-1"):
                        for word in transcript.words:
                            ui.chip(word.word).props("dense outline").tooltip(
                                f"{_clock(word.start)} - {_clock(word.end)}")
            with ui.expansion("Segments", icon="view_list").classes("w-full"):
                for start, end, text in transcript.cues():
                    with ui.row().classes("w-full no-wrap gap-3"):
                        ui.label(f"{_clock(start)} - {_clock(end)}").classes(theme.HINT + " whitespace-nowrap")
                        ui.label(text).classes("text-body2")

    def _copy(self, text: str) -> None:
        ui.clipboard.write(text)
        ui.notify("Copied the transcript")

    @staticmethod
    def _download(transcript: Transcript, stem: str, fmt: str) -> None:
        content = {"txt": transcript.text + "\n", "srt": transcript.to_srt(),
                   "json": json.dumps(transcript.to_dict(), indent=2, ensure_ascii=False)}[fmt]
        ui.download.content(content.encode(), f"transcript-{stem}.{fmt}")


def transcribe_page(services: Services, shortcuts: Shortcuts) -> None:
    TranscribePage(services, shortcuts)
