"""Evaluation: score one clip, a reference/generated pair, or two sets (zips matched by file name) with every metric,
as a job with live progress; results as tables, charts and CSV / JSON."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from nicegui import app, events, run, ui

from components import theme
from components.audio_input import AudioInputField
from components.evaluation_results import EvaluationResults
from engines.contract import InvalidRequest
from studio.evaluation import EvaluationRequest
from studio.evaluation.inputs import accept_zip, audio_files
from studio.jobs import JobInfo, JobState
from studio.metrics import METRICS
from studio.metrics.base import Options
from studio.metrics.speaker import ENCODERS as SPEAKER_MODELS
from studio.services import Services

from .shortcuts import Shortcuts
from .task_page import TaskPage

TASK = "evaluation"
MODES = {"clip": "One clip", "pair": "Pair", "set": "Sets", "jobs": "Generations"}
RECENT_GENERATIONS = 200


class ZipSlot:
    """A set as a zip of clips, unpacked and checked on the server; `path` is the set's folder.

    (Single clips use the shared AudioInputField; a zip of many is this page's own need.)
    """

    def __init__(self, services: Services, label: str, marker: str) -> None:
        self.services = services
        self.path: Path | None = None
        self.name = ""
        with ui.column().classes("gap-1 grow min-w-[16rem]") as self.box:
            ui.label(label).classes("text-subtitle2")
            self.upload = ui.upload(label="A .zip of audio files", on_upload=self._received, auto_upload=True,
                                    max_files=1).props('accept=".zip" flat bordered').classes("w-full") \
                .mark(f"{marker}-zip")
            self.status = ui.label("No zip yet.").classes(theme.HINT).mark(f"{marker}-zip-status")

    async def _received(self, event: events.UploadEventArguments) -> None:
        self.path, self.name = None, Path(event.file.name).stem
        try:
            target = self.services.evaluation.zip_path(event.file.name)
            await event.file.save(target)
            self.path = await run.io_bound(accept_zip, target)
        except InvalidRequest as exc:
            self.status.set_text(str(exc))
            self.status.classes(replace="text-negative text-body2")
            ui.notify(str(exc), type="negative")
        else:
            count = len(audio_files(self.path))
            self.status.set_text(f"{event.file.name} · {count} clip{'s' if count != 1 else ''}")
            self.status.classes(replace="text-positive text-body2")
        self.upload.reset()


class EvaluationPage(TaskPage):
    def __init__(self, services: Services) -> None:
        self.services = services
        self.prefs: dict[str, Any] = app.storage.user.setdefault("evaluation", {"mode": "pair", "metrics": [],
                                                                               "options": {}})
        defaults = Options().to_dict()
        options = {**defaults, **{k: v for k, v in self.prefs.get("options", {}).items() if k in defaults}}
        with ui.column().classes(theme.PAGE):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label("Evaluation").classes("text-h5 grow")
                self.recent = ui.select({}, label="Open an earlier evaluation", on_change=self._pick_recent) \
                    .classes("w-80 max-w-full").mark("evaluation-recent")
            ui.label("Score generated audio: one clip on its own, against a reference, or two sets matched by file "
                     "name. Metrics and units follow Amphion's, so numbers compare with papers.").classes(theme.HINT)
            self.mode = ui.toggle(MODES, value=self.prefs.get("mode", "pair"), on_change=self._mode_changed) \
                .props("no-caps").mark("evaluation-mode")
            with ui.row().classes("w-full gap-4 no-wrap max-sm:flex-wrap") as self.clips:
                with ui.column().classes("grow basis-0 min-w-[16rem]") as self.reference_box:
                    self.reference = AudioInputField(services.uploads, "Reference", marker="reference",
                                                     help="What the generated clip should match.")
                with ui.column().classes("grow basis-0 min-w-[16rem]"):
                    self.generated = AudioInputField(services.uploads, "Generated", marker="generated",
                                                     help="The clip to score.")
            with ui.row().classes("w-full gap-4") as self.sets:
                self.reference_set = ZipSlot(services, "Reference set", "reference")
                self.generated_set = ZipSlot(services, "Generated set", "generated")
            self.generations = ui.select({}, multiple=True, label="Generations to score (each against its text, "
                                         "its source and its target voice)").props("use-chips outlined clearable") \
                .classes("w-full").mark("evaluation-generations")
            self.text = ui.textarea("What the generated clip should say (for WER / CER; optional)") \
                .props("autogrow outlined").classes("w-full").mark("evaluation-text")
            self.set_hint = ui.label("Sets: a name.txt beside a clip in the zip gives its text for WER / CER; files "
                                     "without a partner are listed with a message.").classes(theme.HINT)
            self.metrics = ui.select({k: f"{m.label}{f' ({m.unit})' if m.unit else ''} · {k}"
                                      for k, m in METRICS.items()}, multiple=True,
                                     value=[k for k in self.prefs.get("metrics", []) if k in METRICS],
                                     label="Metrics (none chosen: every metric that applies)",
                                     on_change=lambda: self.prefs.update(metrics=list(self.metrics.value))) \
                .props("use-chips outlined clearable").classes("w-full").mark("evaluation-metrics")
            with ui.expansion("Options", icon="tune").classes("w-full"):
                self.options = self._options(options)
            self._run_area(TASK, "Evaluate", "analytics", "evaluate", self.evaluate)
        self._mode_changed()
        self._fill_recent()

    def _options(self, values: dict[str, Any]) -> dict[str, Any]:
        speaker = {e: self._engine_label(e) for e in SPEAKER_MODELS if e in self.services.registry}
        fields: dict[str, Any] = {}
        with ui.grid().classes("w-full grid-cols-1 sm:grid-cols-2 gap-2"):
            fields["f0_method"] = ui.select({"parselmouth": "Praat (as Amphion)", "pyworld": "WORLD"},
                                            value=values["f0_method"], label="F0 extractor")
            fields["align"] = ui.select({"dtw": "DTW on MFCCs", "cut": "Cut to the shorter"}, value=values["align"],
                                        label="Frames of clips of different lengths")
            fields["periodicity_model"] = ui.select({"auto": "CREPE full on CUDA, tiny on a CPU",
                                                     "full": "CREPE full (as Amphion; slow on a CPU)",
                                                     "tiny": "CREPE tiny (fast)"},
                                                    value=values["periodicity_model"], label="Periodicity model")
            fields["speaker_model"] = ui.select(speaker, value=values["speaker_model"], label="Speaker encoder") \
                .mark("evaluation-speaker-model")
            fields["fad_model"] = ui.select({"auto": "VGGish when downloaded, else CLAP",
                                             "vggish": "VGGish (as Amphion)", "clap": "LAION-CLAP"},
                                            value=values["fad_model"], label="FAD embeddings (sets)") \
                .mark("evaluation-fad-model")
            fields["energy_db"] = ui.switch("Energy in dB", value=values["energy_db"])
        for name, element in fields.items():
            element.on_value_change(lambda e, n=name: self.prefs.setdefault("options", {}).update({n: e.value}))
        return fields

    def _engine_label(self, engine_id: str) -> str:
        engine = self.services.registry.get(engine_id)
        readiness = engine.check()
        return engine.name if readiness.ready else f"{engine.name} · {readiness.label}"

    def _mode_changed(self) -> None:
        mode = self.mode.value
        self.prefs["mode"] = mode
        self.clips.set_visibility(mode in ("clip", "pair"))
        self.sets.set_visibility(mode == "set")
        self.reference_box.set_visibility(mode == "pair")
        self.generations.set_visibility(mode == "jobs")
        self.text.set_visibility(mode in ("clip", "pair"))
        if mode == "jobs":
            done = self.services.jobs.list(limit=RECENT_GENERATIONS, kinds=("generate",), states=(JobState.succeeded,))
            self.generations.set_options({j.id: f"{dt.datetime.fromtimestamp(j.created_at):%d %b %H:%M} · {j.title}"
                                          for j in done}, value=[v for v in self.generations.value or []
                                                                 if v in {j.id for j in done}])
        self.set_hint.set_visibility(mode == "set")

    def evaluate(self) -> None:
        self._submit(lambda: self.services.evaluation.submit(self._request()))

    def _request(self) -> EvaluationRequest:
        """What the form asks for; InvalidRequest when an input is missing."""
        mode = self.mode.value
        metrics = tuple(self.metrics.value) or None
        options = {name: element.value for name, element in self.options.items()}
        if mode == "jobs":
            if not self.generations.value:
                raise InvalidRequest("Pick at least one generation to evaluate.")
            return EvaluationRequest("jobs", jobs=tuple(self.generations.value), metrics=metrics, options=options)
        if mode == "set":
            generated, reference = self.generated_set, self.reference_set
            if generated.path is None or reference.path is None:
                raise InvalidRequest("Upload both sets as zips first (the reference and the generated clips).")
            return EvaluationRequest("set", str(generated.path), str(reference.path), metrics=metrics,
                                     options=options, title=f"Set: {generated.name} vs {reference.name}")
        clip, ref = self.generated.value, self.reference.value
        if clip is None:
            raise InvalidRequest("Upload the generated audio first.")
        if mode == "pair" and ref is None:
            raise InvalidRequest("Upload the reference as well (or pick “One clip” to score without one).")
        name = Path(clip.name).stem
        return EvaluationRequest(
            mode, str(clip.original), str(ref.original) if mode == "pair" and ref else None, self.text.value or None,
            metrics=metrics, options=options, name=name,
            title=f"Pair: {Path(ref.name).stem} vs {name}" if mode == "pair" and ref else f"Clip: {name}")

    def _result_card(self, job: JobInfo) -> Any:  # called by TaskPage once an evaluate job succeeded
        self._fill_recent()
        return self._results(job.id)

    def _results(self, evaluation_id: str) -> EvaluationResults | None:
        report = self.services.evaluation.report(evaluation_id)
        if report is None:
            ui.label("This evaluation was deleted.").classes(theme.HINT)
            return None
        return EvaluationResults(report)

    def _fill_recent(self) -> None:
        rows = self.services.evaluation.list(30)
        self.recent.set_options({r.id: f"{dt.datetime.fromtimestamp(r.created_at):%d %b %H:%M} · {r.title}"
                                 for r in rows})

    def _pick_recent(self) -> None:
        if self.recent.value and self.recent.value != self.shown_job:
            self.shown_job = self.recent.value
            self.result_area.clear()
            with self.result_area:
                self._results(self.recent.value)


def evaluation_page(services: Services, shortcuts: Shortcuts) -> None:
    page = EvaluationPage(services)
    shortcuts.page(run=page.evaluate)
