"""Voice conversion, and (with another ConversionTask) singing voice conversion: the task-page pattern with
audio inputs. Engine -> source and target clips (and any other slot the engine declares) -> parameters -> run
-> live progress -> the result beside its source."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nicegui import app, ui

from components import theme
from components.audio_input import AudioInputField, Picker
from components.conversion_card import ConversionCard
from components.engine_picker import EnginePicker
from components.generation_picker import history_picker
from components.library_picker import library_clip, library_picker, voice_picker
from components.param_form import ParamForm
from components.upload_picker import recent_uploads_picker
from engines.contract import Engine, InputSlot
from studio.conversion import SOURCE_SLOT
from studio.jobs import JobInfo
from studio.services import Services
from studio.uploads import StoredAudio

from .shortcuts import Shortcuts
from .task_page import TaskPage


@dataclass(frozen=True)
class ConversionTask:
    task: str  # "vc", "svc", "enhance" or "codec"
    title: str
    intro: str
    note_names: bool  # label the pitch plot with notes (singing) or Hz (speech)
    action: str = "Convert"  # the run button's label


VOICE = ConversionTask("vc", "Voice conversion",
                       "Say it in another voice: the source's words and timing, the target's voice.", False)


def audio_pickers(services: Services, engine: Engine, slot: InputSlot) -> list[Picker]:
    """Where a slot's clip can come from besides an upload: a recent upload, a library sample, a generation from
    the history, and for a target voice a whole library voice. A picked object with a `ref` attribute (e.g.
    {"profile": id}) is sent as that reference instead of an upload id (see studio/audio_refs.py). The source is
    always copied as an upload: the voice a conversion is recorded under is its target's."""
    target = slot.name != SOURCE_SLOT
    pickers = [recent_uploads_picker(services.uploads),
               library_picker(services.library, services.uploads, by_reference=target),
               history_picker(services.history, services.uploads)]
    return pickers + ([voice_picker(services.library, engine, slot)] if target else [])


def audio_ref(value: StoredAudio) -> dict[str, Any]:
    return getattr(value, "ref", None) or {"upload": value.id}


class ConversionPage(TaskPage):
    def __init__(self, services: Services, shortcuts: Shortcuts, spec: ConversionTask) -> None:
        self.services = services
        self.spec = spec
        self.prefs: dict[str, Any] = app.storage.user.setdefault(
            f"conversion-{spec.task}", {"engine": None, "params": {}, "inputs": {}, "texts": {}})
        self.audio_fields: dict[str, AudioInputField] = {}
        self.text_fields: dict[str, Any] = {}
        engines = services.conversion.engines(spec.task)
        preferred = self.prefs.get("engine") or services.conversion.default_engine(spec.task).id
        with ui.column().classes(theme.PAGE):
            ui.label(spec.title).classes("text-h5")
            ui.label(spec.intro).classes(theme.HINT)
            self.picker = EnginePicker(engines, preferred, self._engine_changed)
            self.inputs_area = ui.column().classes("w-full gap-4")
            self.form_area = ui.column().classes("w-full")
            self._run_area(spec.task, spec.action, "transform", "convert", self.convert)
        self._build(self.picker.engine)
        self.progress.refresh()
        shortcuts.page(run=self.convert, toggle_play=self._toggle_play)

    @property
    def engine(self) -> Engine:
        return self.picker.engine

    def _engine_changed(self, engine: Engine) -> None:
        self.prefs["engine"] = engine.id
        self._build(engine)

    # -- inputs and parameters, from the engine's declarations ---------------------------------------------

    def _build(self, engine: Engine) -> None:
        self.inputs_area.clear()
        self.audio_fields, self.text_fields = {}, {}
        slots = sorted(engine.inputs, key=lambda s: s.name != SOURCE_SLOT)  # the source first
        with self.inputs_area:
            for slot in slots:
                if slot.kind == "audio":
                    self._audio_field(slot)
                else:
                    self._text_field(slot)
        self.form_area.clear()
        with self.form_area:
            self.form = ParamForm(engine.params, self.prefs.setdefault("params", {}).get(engine.id, {}),
                                  on_change=self._params_changed)

    def _audio_field(self, slot: InputSlot) -> None:
        label = slot.label + ("" if slot.required else " (optional)")
        field = AudioInputField(self.services.uploads, label, min_seconds=slot.min_seconds,
                                max_seconds=slot.max_seconds, help=_slot_help(slot),
                                pickers=audio_pickers(self.services, self.engine, slot), marker=f"slot-{slot.name}",
                                on_change=lambda value, name=slot.name: self._audio_changed(name, value))
        saved = self.prefs.setdefault("inputs", {}).get(slot.name)
        if isinstance(saved, dict):
            stored = self.services.uploads.get(saved["upload"]) if "upload" in saved \
                else library_clip(self.services.library, saved, self.engine, slot)
            if stored is not None:
                field.set(stored)
        self.audio_fields[slot.name] = field
        if slot.needs_transcript:
            self._text_field(slot, transcript=True)

    def _text_field(self, slot: InputSlot, transcript: bool = False) -> None:
        key = f"{slot.name}.transcript" if transcript else slot.name
        label = f"Transcript of {slot.label.lower()}" if transcript else slot.label
        self.text_fields[key] = ui.textarea(label, value=self.prefs.setdefault("texts", {}).get(key, ""),
                                            on_change=lambda e, k=key: self.prefs["texts"].__setitem__(k, e.value)) \
            .props("autogrow outlined").classes("w-full").mark(f"slot-{key}")
        if slot.help and not transcript:
            ui.label(slot.help).classes(theme.HINT + " -mt-3")

    def _audio_changed(self, slot: str, value: StoredAudio | None) -> None:
        inputs = self.prefs.setdefault("inputs", {})
        if value is None:
            inputs.pop(slot, None)
        else:
            inputs[slot] = audio_ref(value)

    def _params_changed(self, values: dict[str, Any]) -> None:
        self.prefs.setdefault("params", {})[self.engine.id] = values

    def _request_inputs(self) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        for slot in self.engine.inputs:
            if slot.kind == "text":
                inputs[slot.name] = self.text_fields[slot.name].value
                continue
            field = self.audio_fields[slot.name]
            if field.value is None:
                continue
            reference = dict(audio_ref(field.value))
            if slot.needs_transcript:
                reference["transcript"] = self.text_fields[f"{slot.name}.transcript"].value or None
            inputs[slot.name] = reference
        return inputs

    # -- running and showing -------------------------------------------------------------------------------

    def convert(self) -> None:
        inputs = self._request_inputs()
        self._submit(lambda: self.services.conversion.submit(
            self.spec.task, inputs.pop(SOURCE_SLOT, None), engine_id=self.engine.id, inputs=inputs,
            params=self.form.values))

    def _result_card(self, job: JobInfo) -> ConversionCard:
        return ConversionCard(job, self.services.generation, self.services.conversion,
                              note_names=self.spec.note_names, library=self.services.library)


def _slot_help(slot: InputSlot) -> str:
    parts = [slot.help] if slot.help else []
    if slot.sweet_spot:
        parts.append(f"Works best with {slot.sweet_spot[0]:g} to {slot.sweet_spot[1]:g} s.")
    return " ".join(parts)


def conversion_page(services: Services, shortcuts: Shortcuts) -> None:
    ConversionPage(services, shortcuts, VOICE)
