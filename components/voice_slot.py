"""An engine's reference-audio slot on a page: a voice from the library, or a clip given right here.

For a clip, the transcript is asked for when the engine needs one (with a button that transcribes it). For a clip
and for a library voice's chosen sample alike, the reference doctor's findings show before anything is queued, with
how the length suits this engine when it is outside the engine's sweet spot.
"""
from __future__ import annotations

import asyncio
from typing import Any

from nicegui import background_tasks, run, ui

from engines.contract import Engine, InputSlot, InvalidRequest
from studio.jobs import JobState
from studio.library import doctor
from studio.services import Services
from studio.uploads import StoredAudio

from . import theme
from .audio_input import AudioInputField
from .library_picker import library_picker

TRANSCRIBE_WAIT_SECONDS = 300


def _unless(engine: Engine, slot: InputSlot) -> str:
    """" unless <switch> is on" when a switch lifts the slot's need for a transcript."""
    return f" unless {engine.param(slot.transcript_optional_with).title} is on" if slot.transcript_optional_with else ""


def transcript_need(engine: Engine, slot: InputSlot) -> str:
    return f"required{_unless(engine, slot)}" if slot.needs_transcript else "optional"


def limits_text(engine: Engine, slot: InputSlot) -> str:
    parts = []
    if slot.sweet_spot:
        parts.append(f"best {slot.sweet_spot[0]:g}–{slot.sweet_spot[1]:g} s")
    if slot.min_seconds is not None or slot.max_seconds is not None:
        parts.append(f"takes {slot.min_seconds or 0:g}–{slot.max_seconds or '∞'} s")
    if slot.needs_transcript:
        parts.append(f"needs its transcript{_unless(engine, slot)}")
    return ", ".join(parts)


def doctor_text(report: doctor.Report, engine: Engine, slot: InputSlot) -> str:
    """The doctor's summary, then how the clip's length suits `engine`'s `slot` when outside its sweet spot."""
    fit = next((f for f in report.fits if f.engine_id == engine.id and f.slot == slot.name), None)
    if fit is None or fit.fit == "sweet":
        return report.summary
    verdict = {"too_short": "is too short: it will be refused", "too_long": "is too long: it will be refused",
               "ok": "works, but is outside its sweet spot"}[fit.fit]
    return f"{report.summary} For {engine.name}: {report.measures['duration']:.1f} s {verdict} ({fit.describe})."


class VoiceSlotField:
    def __init__(self, services: Services, engine: Engine, slot: InputSlot) -> None:
        self.services, self.engine, self.slot = services, engine, slot
        self.clip: StoredAudio | None = None
        profiles = services.library.profiles()
        with ui.column().classes("w-full gap-2").mark(f"slot-{slot.name}"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(slot.label).classes("text-subtitle1")
                ui.label(limits_text(engine, slot)).classes(theme.HINT)
            self.mode = ui.toggle({"profile": "Library voice", "clip": "Reference clip"},
                                  value="profile" if profiles else "clip", on_change=self._show_mode) \
                .props("no-caps").mark(f"slot-{slot.name}-mode")
            with ui.column().classes("w-full gap-1") as self.profile_area:
                self.profile = ui.select({p.id: f"{p.name} ({p.samples} samples)" for p in profiles},
                                         label="Voice", value=profiles[0].id if profiles else None,
                                         on_change=self._show_profile_choice).classes("w-full") \
                    .mark(f"slot-{slot.name}-profile")
                if not profiles:
                    ui.label("The library has no voices yet: add one on the Voices page, or use a clip.") \
                        .classes(theme.HINT)
                self.profile_note = ui.label("").classes("text-body2").mark(f"slot-{slot.name}-profile-note")
            with ui.column().classes("w-full gap-1") as self.clip_area:
                self.clip_input = AudioInputField(
                    services.uploads, "Clip", min_seconds=slot.min_seconds, max_seconds=slot.max_seconds,
                    pickers=[library_picker(services.library, services.uploads)], on_change=self._clip_changed,
                    marker=f"slot-{slot.name}-clip")
                with ui.row().classes("w-full items-end gap-2 no-wrap"):
                    self.transcript = ui.textarea(f"What the clip says ({transcript_need(engine, slot)})") \
                        .props("autogrow outlined").classes("grow").mark(f"slot-{slot.name}-transcript")
                    self.transcribe_button = ui.button("Transcribe", icon="subtitles", on_click=self._transcribe) \
                        .props("outline no-caps").mark(f"slot-{slot.name}-transcribe")
                self.doctor_note = ui.label("").classes("text-body2").mark(f"slot-{slot.name}-doctor")
        self._show_mode()
        background_tasks.create(self._show_profile_choice(), name=f"voice slot {slot.name}")

    def _show_mode(self) -> None:
        self.profile_area.set_visibility(self.mode.value == "profile")
        self.clip_area.set_visibility(self.mode.value == "clip")

    async def _show_profile_choice(self) -> None:
        if not self.profile.value:
            self.profile_note.set_text("")
            return
        try:
            sample = await run.io_bound(self.services.library.best_sample, self.profile.value, self.engine, self.slot)
            report = await run.io_bound(self.services.library.report, sample.id)
        except InvalidRequest as exc:
            self.profile_note.set_text(str(exc))
            return
        self.profile_note.set_text(f"Uses “{sample.name}” ({sample.duration:.1f} s): "
                                   f"{doctor_text(report, self.engine, self.slot)}")

    async def _clip_changed(self, stored: StoredAudio | None) -> None:
        self.clip = stored
        self.doctor_note.set_text("")
        if stored is None:
            return
        self.doctor_note.set_text("Checking the clip…")
        report = await run.io_bound(self._diagnose, stored)
        self.doctor_note.set_text(doctor_text(report, self.engine, self.slot))

    def _diagnose(self, stored: StoredAudio) -> doctor.Report:
        from studio.audio.io import read_audio

        audio, rate = read_audio(stored.normalised)
        return doctor.diagnose(doctor.measure(audio, rate), [self.engine])

    async def _transcribe(self) -> None:
        if self.clip is None:
            ui.notify("Give a clip first.", type="warning")
            return
        job = self.services.transcription.submit(self.clip.normalised, title=f"Transcribe {self.clip.name}")
        self.transcribe_button.props("loading")
        try:
            for _ in range(int(TRANSCRIBE_WAIT_SECONDS / 0.25)):
                current = self.services.jobs.get(job.id)
                if current is not None and not current.active:
                    break
                await asyncio.sleep(0.25)
        finally:
            self.transcribe_button.props(remove="loading")
        if current is None or current.state != JobState.succeeded:
            ui.notify(f"Transcription did not finish: {current.error if current else 'no job'}", type="negative")
            return
        self.transcript.set_value(current.result["text"])

    def value(self, params: dict[str, Any]) -> dict[str, Any]:
        """What the request carries for this slot with these params; InvalidRequest says what is missing."""
        if self.mode.value == "profile":
            if not self.profile.value:
                raise InvalidRequest(f"{self.slot.label}: pick a voice from the library, or give a clip.")
            return {"profile": self.profile.value}
        if self.clip is None:
            raise InvalidRequest(f"{self.slot.label}: upload, record or pick a clip.")
        transcript = (self.transcript.value or "").strip()
        if self.slot.transcript_needed(params) and not transcript:
            raise InvalidRequest(f"{self.slot.label}: {self.engine.name} needs the clip's transcript; type it or "
                                 f"press Transcribe.")
        return {"upload": self.clip.id, "transcript": transcript or None}
