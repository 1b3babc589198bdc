"""Speech synthesis: the task-page pattern (engine -> inputs -> parameters -> run -> live progress -> result)."""
from __future__ import annotations

from typing import Any

from nicegui import app, ui

from components import theme
from components.engine_picker import EnginePicker
from components.param_form import ParamForm
from components.result_card import ResultCard
from components.voice_slot import VoiceSlotField
from engines.contract import Engine
from studio.jobs import JobInfo
from studio.services import Services

from .shortcuts import Shortcuts
from .task_page import TaskPage

TASK = "tts"
PLACEHOLDER = "Type or paste what the voice should say."


class SpeechPage(TaskPage):
    def __init__(self, services: Services, shortcuts: Shortcuts) -> None:
        self.services = services
        self.prefs: dict[str, Any] = app.storage.user.setdefault("speech", {"engine": None, "draft": "", "params": {}})
        chosen = self.prefs.get("engine")  # the user's last choice, else the default_engine setting
        preferred = chosen if chosen in services.registry else services.settings.default_engine
        with ui.column().classes(theme.PAGE):
            ui.label("Speech").classes("text-h5")
            self.picker = EnginePicker(services.registry.for_task(TASK), preferred, self._engine_changed)
            self.text = ui.textarea("Text", value=self.prefs.get("draft", ""), placeholder=PLACEHOLDER,
                                    on_change=self._text_changed).props('autogrow outlined input-style="min-height: 6rem"').classes("w-full") \
                .mark("speech-text")
            self.counter = ui.label("").classes(theme.HINT + " self-end -mt-3").mark("char-count")
            self.slots_area = ui.column().classes("w-full gap-4")
            self.form_area = ui.column().classes("w-full")
            self._run_area(TASK, "Generate", "play_arrow", "generate", self.generate)
        self._build_form(self.picker.engine)
        self._count()
        self.progress.refresh()
        shortcuts.page(run=self.generate, toggle_play=self._toggle_play)

    @property
    def engine(self) -> Engine:
        return self.picker.engine

    def _engine_changed(self, engine: Engine) -> None:
        self.prefs["engine"] = engine.id
        self._build_form(engine)
        self._count()

    def _build_form(self, engine: Engine) -> None:
        self.slots_area.clear()
        with self.slots_area:
            self.voice_slots = [VoiceSlotField(self.services, engine, slot) for slot in engine.inputs
                                if slot.kind == "audio"]
        self.form_area.clear()
        saved = self.prefs.setdefault("params", {}).get(engine.id, {})
        with self.form_area:
            self.form = ParamForm(engine.params, saved, on_change=self._params_changed)

    def _params_changed(self, values: dict[str, Any]) -> None:
        self.prefs.setdefault("params", {})[self.engine.id] = values

    def _text_changed(self) -> None:
        self.prefs["draft"] = self.text.value  # a reload or a crash keeps the draft
        self._count()

    def _count(self) -> None:
        slot = next((s for s in self.engine.inputs if s.name == "text"), None)
        n = len(self.text.value or "")
        limit = slot.max_chars if slot else None
        self.counter.set_text(f"{n:,} / {limit:,} characters" if limit else f"{n:,} characters")
        self.counter.classes(replace=("text-negative" if limit and n > limit else theme.HINT) + " self-end -mt-3")

    def generate(self) -> None:
        def submit() -> JobInfo:
            params = self.form.values
            voices = {field.slot.name: field.value(params) for field in self.voice_slots}
            return self.services.generation.submit(self.engine.id, {"text": self.text.value, **voices}, params)

        self._submit(submit)

    def _result_card(self, job: JobInfo) -> ResultCard:
        return ResultCard(job, self.services.generation, on_reuse=self._reuse, library=self.services.library)

    def _reuse(self, name: str, value: Any) -> None:
        if name in self.form.values:
            self.form.set(name, value)
            ui.notify(f"{name} set to {value}")


def speech_page(services: Services, shortcuts: Shortcuts) -> None:
    SpeechPage(services, shortcuts)
