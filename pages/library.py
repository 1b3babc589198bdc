"""The voice library: profiles on one side, the chosen profile's samples (with the doctor and fixes) on the other.

On a tablet in portrait the two stack. Model and CPU work (measuring, transcribing, fixing) runs off the
event loop: adding a sample on the io pool, transcriptions and fixes as jobs the page follows.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from nicegui import app, run, ui

from components import theme
from components.audio_input import AudioInputField
from components.project_dialogs import export_voices, import_project
from components.sample_card import SampleCard
from engines.builtin.whisper_asr import LANGUAGES
from studio.jobs import JobState
from studio.library import MAX_SAMPLE_SECONDS, MIN_SAMPLE_SECONDS, LibraryError, ProfileInfo, SampleInfo
from studio.services import Services
from studio.uploads import StoredAudio

from .shortcuts import Shortcuts

POLL_SECONDS = 0.5


async def confirm(question: str, action: str) -> bool:
    with ui.dialog() as dialog, ui.card():
        ui.label(question).classes("text-body1")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat no-caps")
            ui.button(action, color="negative", on_click=lambda: dialog.submit(True)).props("no-caps") \
                .mark("confirm")
    answer = await dialog
    dialog.delete()
    return bool(answer)


class LibraryPage:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.library = services.library
        self.prefs: dict[str, Any] = app.storage.user.setdefault("library", {"profile": None})
        self.pending: dict[str, str] = {}  # job id -> what it does, in words
        self.working: ui.column | None = None
        with ui.column().classes(theme.PAGE):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label("Voice library").classes("text-h5 grow")
                ui.button("Import", icon="unarchive", on_click=self.import_project).props("outline no-caps") \
                    .mark("import-project")
                ui.button("Export", icon="archive", on_click=self.export_voices).props("outline no-caps") \
                    .mark("export-project")
                ui.button("New voice", icon="person_add", on_click=self.new_profile).props("no-caps") \
                    .mark("new-profile")
            with ui.element("div").classes("row q-col-gutter-md w-full"):
                with ui.element("div").classes("col-12 col-md-4"):
                    self.list_area = ui.column().classes("w-full gap-1").mark("profile-list")
                with ui.element("div").classes("col-12 col-md-8"):
                    self.detail = ui.column().classes("w-full gap-3").mark("profile-detail")
        ui.timer(POLL_SECONDS, self._poll)
        self.refresh()

    @property
    def selected(self) -> str | None:
        return self.prefs.get("profile")

    def refresh(self) -> None:
        profiles = self.library.profiles()
        if self.selected not in {p.id for p in profiles}:
            self.prefs["profile"] = profiles[0].id if profiles else None
        self._show_list(profiles)
        self._show_detail()

    def _show_list(self, profiles: list[ProfileInfo]) -> None:
        self.list_area.clear()
        with self.list_area:
            if not profiles:
                ui.label("No voices yet. Press New voice, then add a clean recording of 5 to 15 seconds.") \
                    .classes(theme.HINT)
                return
            with ui.list().props("bordered separator").classes("w-full rounded-borders"):
                for profile in profiles:
                    with ui.item(on_click=lambda p=profile: self.select(p.id)) \
                            .props("clickable" + (" active" if profile.id == self.selected else "")) \
                            .mark(f"profile-{profile.name}"):
                        with ui.item_section().props("avatar"):
                            ui.icon("record_voice_over")
                        with ui.item_section():
                            ui.item_label(profile.name)
                            ui.item_label(f"{profile.samples} sample{'s' * (profile.samples != 1)}"
                                          + (f" · {profile.language}" if profile.language else "")).props("caption")

    def select(self, profile_id: str) -> None:
        self.prefs["profile"] = profile_id
        self.refresh()

    # -- the chosen profile --------------------------------------------------------------------------------

    def _show_detail(self) -> None:
        self.detail.clear()
        if self.selected is None:
            return
        profile = self.library.profile(self.selected)
        samples = self.library.samples(profile.id)
        with self.detail:
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(profile.name).classes("text-h6 grow").mark("profile-name")
                ui.button("Edit", icon="edit", on_click=lambda: self.edit_profile(profile)).props("outline no-caps") \
                    .mark("edit-profile")
                ui.button("Delete", icon="delete", color="negative",
                          on_click=lambda: self.delete_profile(profile, len(samples))).props("outline no-caps") \
                    .mark("delete-profile")
            if profile.description or profile.language:
                ui.label(" · ".join(x for x in (profile.description, profile.language) if x)).classes(theme.HINT)
            self.sample_input = AudioInputField(
                self.services.uploads, "Add a sample", min_seconds=MIN_SAMPLE_SECONDS, max_seconds=MAX_SAMPLE_SECONDS,
                on_change=self._add_sample, marker="sample-input",
                help=f"Clean speech of one person, {MIN_SAMPLE_SECONDS:g} s to {MAX_SAMPLE_SECONDS / 60:g} min "
                     f"(5-15 s suits most models). It is transcribed if you do not type what it says.")
            self.working = ui.column().classes("w-full gap-1").mark("library-working")
            families: OrderedDict[str, list[SampleInfo]] = OrderedDict()
            for sample in samples:
                families.setdefault(sample.root_id, []).append(sample)
            for family in families.values():
                for version, sample in enumerate(family, 1):
                    with ui.element("div").classes("w-full" + (" pl-4" if version > 1 else "")):
                        SampleCard(sample, self.library.diagnose(sample), version, self._act)
        self._show_working()

    async def _add_sample(self, stored: StoredAudio | None) -> None:
        if stored is None or self.selected is None:
            return
        try:
            source = "recording" if self.sample_input.origin == "recording" else "upload"
            sample = await run.io_bound(self.library.add_upload, self.selected, stored.id, source=source)
        except LibraryError as exc:
            ui.notify(str(exc), type="negative")
            return
        if sample is None:  # the studio is stopping
            return
        self.sample_input.set(None)
        for job in self.services.jobs.list(limit=5, kinds=("library.transcribe",)):
            if job.payload.get("sample_id") == sample.id:
                self.pending[job.id] = f"Transcribing {sample.name}"
        ui.notify(f"Added {sample.name}", type="positive")
        self.refresh()

    async def _act(self, action: str, sample: SampleInfo, **args: Any) -> None:
        try:
            if action == "save_transcript":
                await run.io_bound(self.library.set_transcript, sample.id, args["text"])
                ui.notify("Transcript saved", type="positive")
            elif action == "transcribe":
                job = self.library.transcribe(sample.id)
                self.pending[job.id] = f"Transcribing {sample.name}"
            elif action == "fix":
                job = self.library.fix(sample.id, args["fix"], args.get("params"))
                self.pending[job.id] = job.title
            elif action == "delete":
                if not await confirm(f"Delete “{sample.name}”" + (" (this version)" if sample.is_version else "")
                                     + "? Its file goes too.", "Delete sample"):
                    return
                await run.io_bound(self.library.delete_sample, sample.id)
                ui.notify("Sample deleted")
        except LibraryError as exc:
            ui.notify(str(exc), type="negative")
            return
        self.refresh()

    def _show_working(self) -> None:
        if self.working is None or self.working.is_deleted:
            return
        self.working.clear()
        with self.working:
            for job_id, what in self.pending.items():
                job = self.services.jobs.get(job_id)
                if job is not None and job.active:
                    with ui.row().classes("w-full items-center gap-2 no-wrap"):
                        ui.spinner(size="sm")
                        ui.label(f"{what} · {job.progress:.0%} {job.stage}").classes(theme.HINT)

    def _poll(self) -> None:
        if not self.pending:
            return
        finished = []
        for job_id, what in list(self.pending.items()):
            job = self.services.jobs.get(job_id)
            if job is None or job.active:
                continue
            finished.append(job_id)
            if job.state == JobState.succeeded:
                ui.notify(f"Done: {what}", type="positive")
            else:
                ui.notify(f"{what}: {job.error or job.state.value}", type="negative", multi_line=True)
        for job_id in finished:
            del self.pending[job_id]
        if finished:
            self.refresh()
        else:
            self._show_working()

    # -- projects ------------------------------------------------------------------------------------------

    async def import_project(self) -> None:
        report = await import_project(self.services.projects)
        if report is not None:
            if report.profiles:
                self.prefs["profile"] = report.profiles[0].id
            self.refresh()

    async def export_voices(self) -> None:
        if not self.library.profiles():
            ui.notify("There are no voices to export yet.", type="warning")
            return
        await export_voices(self.library, self.services.projects, self.selected)

    # -- profiles ------------------------------------------------------------------------------------------

    async def new_profile(self) -> None:
        made = await self._profile_dialog(None)
        if made is not None:
            self.select(made.id)

    async def edit_profile(self, profile: ProfileInfo) -> None:
        if await self._profile_dialog(profile) is not None:
            self.refresh()

    async def _profile_dialog(self, profile: ProfileInfo | None) -> ProfileInfo | None:
        languages = {"": "unknown", **{code: name for code, name in LANGUAGES if code != "auto"}}
        if profile is not None and profile.language not in languages:
            languages[profile.language] = profile.language
        with ui.dialog() as dialog, ui.card().classes("w-full max-w-md"):
            ui.label("New voice" if profile is None else f"Edit {profile.name}").classes("text-h6")
            name = ui.input("Name", value=profile.name if profile else "").classes("w-full").mark("profile-name-input")
            description = ui.textarea("Description", value=profile.description if profile else "",
                                      placeholder="Who it is, how it sounds, where the recordings come from") \
                .props("autogrow").classes("w-full").mark("profile-description-input")
            language = ui.select(languages, label="Language", value=profile.language if profile else "") \
                .classes("w-full").mark("profile-language-input")
            problem = ui.label("").classes("text-negative text-body2").mark("profile-problem")

            def save() -> None:
                try:
                    if profile is None:
                        saved = self.library.create_profile(name.value or "", description.value or "",
                                                            language.value or "")
                    else:
                        saved = self.library.update_profile(profile.id, name=name.value or "",
                                                            description=description.value or "",
                                                            language=language.value or "")
                except LibraryError as exc:
                    problem.set_text(str(exc))
                    return
                dialog.submit(saved)

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
                ui.button("Save", icon="save", on_click=save).props("no-caps").mark("save-profile")
        result = await dialog
        dialog.delete()
        return result

    async def delete_profile(self, profile: ProfileInfo, samples: int) -> None:
        if not await confirm(f"Delete the voice “{profile.name}” and its {samples} sample"
                             f"{'s' * (samples != 1)}? This cannot be undone.", "Delete voice"):
            return
        await run.io_bound(self.library.delete_profile, profile.id)
        ui.notify(f"Deleted {profile.name}")
        self.prefs["profile"] = None
        self.refresh()


def library_page(services: Services, shortcuts: Shortcuts) -> None:
    LibraryPage(services)
