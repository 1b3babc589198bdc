"""An audio input for a page: upload a clip (checked on the server), record one from the microphone, or pick
one from another source.

Other areas plug in their own sources (the library's samples, the history's generations) as `Picker`s: a
label, an icon and an async function that returns a StoredAudio or None. Recording runs in the browser
(studio/assets/js/recorder.js, loaded by the shell): the recording is POSTed to /api/uploads and only its id comes
back over the websocket.
"""
from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from nicegui import background_tasks, events, ui

from studio.uploads import ACCEPT_ATTRIBUTE, MAX_UPLOAD_BYTES, StoredAudio, UploadError, UploadService

from . import theme


@dataclass(frozen=True)
class Picker:
    label: str
    icon: str
    pick: Callable[[], Awaitable[StoredAudio | None]]


INSECURE_MESSAGE = ("This browser only allows the microphone on a secure page: open the studio over HTTPS (see "
                    "'Recording on a tablet' in the README) or at http://localhost on the studio's own computer. "
                    "You can still upload a recording made in another app.")
MAX_RECORDING_SECONDS = 300


def media_url(upload: StoredAudio, home_uploads_route: str = "/media/uploads") -> str:
    """Where the browser plays it: an upload's normalised copy, or the `url` a picked clip brings."""
    return getattr(upload, "url", "") or f"{home_uploads_route}/{upload.id}/{upload.normalised.name}"


class AudioInputField:
    def __init__(self, uploads: UploadService, label: str, *,
                 on_change: Callable[[StoredAudio | None], None] | None = None, min_seconds: float | None = None,
                 max_seconds: float | None = None, pickers: Sequence[Picker] = (), help: str = "",
                 marker: str = "audio-input", record: bool = True) -> None:
        self.uploads = uploads
        self.value: StoredAudio | None = None
        self.origin = ""  # where the current value came from: upload, recording or a picker's label
        self._on_change = on_change
        self._limits = {"min_seconds": min_seconds, "max_seconds": max_seconds}
        self._marker = marker
        with ui.column().classes("w-full gap-1").mark(marker) as self.root:
            ui.label(label).classes("text-subtitle2")
            if help:
                ui.label(help).classes(theme.HINT)
            with ui.row().classes("w-full items-center gap-2"):
                self.upload = ui.upload(auto_upload=True, on_upload=self._uploaded, max_file_size=MAX_UPLOAD_BYTES,
                                        on_rejected=self._rejected, label="Upload audio or video") \
                    .props(f'accept="{ACCEPT_ATTRIBUTE}" flat bordered').classes("grow").mark(f"{marker}-upload")
                if record:
                    self.record_button = ui.button("Record", icon="mic").props("outline no-caps") \
                        .mark(f"{marker}-record")
                    options = {**self._limits, "maxSeconds": min(max_seconds or MAX_RECORDING_SECONDS,
                                                                 MAX_RECORDING_SECONDS)}
                    self.record_button.on("click", js_handler=f"() => StudioRecorder.toggle("
                                                              f"{self.record_button.id}, {json.dumps(options)})")
                    self.record_button.on("recorder", self._recorder)
                for picker in pickers:
                    ui.button(picker.label, icon=picker.icon, on_click=lambda p=picker: self._pick(p)) \
                        .props("outline no-caps")
            self.recording = ui.label("").classes(theme.HINT).mark(f"{marker}-recording")
            self.current = ui.row().classes("w-full items-center gap-2 no-wrap").mark(f"{marker}-current")
            self.error = ui.label("").classes("text-negative text-body2").mark(f"{marker}-error")
        self._show()

    async def _uploaded(self, e: events.UploadEventArguments) -> None:
        try:
            stored = await self.uploads.store_stream(e.file.name, e.file.iterate(), **self._limits)
        except UploadError as exc:
            self._fail(str(exc))
            return
        finally:
            self.upload.reset()
        self.set(stored)

    def _recorder(self, e: events.GenericEventArguments) -> None:
        """What the browser's recorder reports: recording, uploading, done (with the upload's id) or an error."""
        detail = e.args if isinstance(e.args, dict) else {}
        state = detail.get("state")
        recording = state == "recording"
        self.record_button.props(f"color={'negative' if recording else 'primary'}")
        self.record_button.set_text("Stop" if recording else "Record")
        self.record_button.props(f"icon={'stop' if recording else 'mic'}")
        self.recording.set_text({"recording": "Recording… press Stop when you are done.",
                                 "uploading": "Saving the recording…"}.get(state, ""))
        if recording:
            self.error.set_text("")
        elif state == "done":
            stored = self.uploads.get(str(detail.get("upload_id")))
            if stored is None:
                self._fail("The recording did not reach the studio; record it again.")
            else:
                self.set(stored, origin="recording")
        elif state == "error":
            insecure = detail.get("reason") == "insecure"
            self._fail(INSECURE_MESSAGE if insecure else str(detail.get("message") or "Recording failed."))

    def _rejected(self) -> None:
        self._fail(f"That file is larger than {MAX_UPLOAD_BYTES // 2**20} MB; trim or compress it first.")

    async def _pick(self, picker: Picker) -> None:
        picked = await picker.pick()
        if picked is not None:
            self.set(picked, origin=picker.label)

    def _fail(self, message: str) -> None:
        self.error.set_text(message)
        ui.notify(message, type="negative")

    def set(self, stored: StoredAudio | None, origin: str = "upload") -> None:
        self.value = stored
        self.origin = origin if stored is not None else ""
        self.error.set_text("")
        self._show()
        if self._on_change:
            result = self._on_change(stored)
            if inspect.isawaitable(result):
                background_tasks.create(self._in_slot(result), name="audio input changed")

    async def _in_slot(self, awaitable: Awaitable[None]) -> None:
        with self.root:  # so the handler can notify and build UI from its own task
            await awaitable

    def _show(self) -> None:
        self.current.clear()
        if self.value is None:
            return
        with self.current:
            ui.icon("audio_file", color="primary")
            ui.label(f"{self.value.name} · {self.value.duration:.1f} s").classes("text-body2 ellipsis")
            ui.audio(media_url(self.value)).classes("grow")
            ui.button(icon="close", on_click=lambda: self.set(None)) \
                .props('flat round aria-label="Remove this audio"').mark(f"{self._marker}-clear")
