"""Keep a generation as a reference sample of a voice: pick the voice (or name a new one), then the library adds it
(with the generation's text as its transcript, or a transcription when there is none)."""
from __future__ import annotations

from nicegui import run, ui

from studio.library import MAX_SAMPLE_SECONDS, MIN_SAMPLE_SECONDS, LibraryError, LibraryService, SampleInfo

from . import theme
from .history_dialogs import opened

NEW_VOICE = ""  # the option that makes a new voice


async def choose_voice(library: LibraryService, what: str) -> tuple[str, bool] | None:
    """(profile id, whether it was made here) for the voice the user picks or names; None when cancelled."""
    profiles = library.profiles()
    options = {**{p.id: p.name for p in profiles}, NEW_VOICE: "New voice…"}
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-md").mark("keep-dialog"):
        ui.label("Keep as a voice sample").classes(theme.SECTION_TITLE)
        ui.label(what).classes(theme.HINT + " ellipsis w-full")
        choice = ui.select(options, label="Voice", value=profiles[0].id if profiles else NEW_VOICE) \
            .classes("w-full").mark("keep-voice")
        name = ui.input("Name of the new voice").classes("w-full").mark("keep-new-name")
        name.bind_visibility_from(choice, "value", backward=lambda value: value == NEW_VOICE)
        problem = ui.label("").classes("text-negative text-body2").mark("keep-problem")

        def keep() -> None:
            if choice.value != NEW_VOICE:
                dialog.submit((choice.value, False))
                return
            try:
                dialog.submit((library.create_profile(name.value or "").id, True))
            except LibraryError as exc:
                problem.set_text(str(exc))

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
            ui.button("Keep", icon="library_add", on_click=keep).props("no-caps").mark("keep-save")
    return await opened(dialog)


async def keep_as_sample(library: LibraryService, generation_id: str, title: str, duration: float,
                         text: str | None = None) -> SampleInfo | None:
    """Ask for the voice and add the generation to it; says what happened (or why not) in a notification."""
    if not MIN_SAMPLE_SECONDS <= duration <= MAX_SAMPLE_SECONDS:
        ui.notify(f"This clip is {duration:.1f} s long; a voice sample needs {MIN_SAMPLE_SECONDS:g} s to "
                  f"{MAX_SAMPLE_SECONDS / 60:g} min.", type="warning")
        return None
    chosen = await choose_voice(library, title)
    if chosen is None:
        return None
    profile_id, made = chosen
    try:
        sample = await run.io_bound(lambda: library.add_generation(profile_id, job_id=generation_id, transcript=text,
                                                                   name=f"{title[:60]}.wav"))
    except LibraryError as exc:
        if made:
            library.delete_profile(profile_id)  # an empty voice made for this would only be in the way
        ui.notify(str(exc), type="negative", multi_line=True)
        return None
    if sample is not None:
        voice = library.profile(profile_id).name
        ui.notify(f"Kept as a sample of {voice}" + ("" if sample.transcript else "; transcribing it") + ".",
                  type="positive")
    return sample


def keep_button(library: LibraryService, generation_id: str, title: str, duration: float,
                text: str | None = None) -> ui.button:
    return ui.button("Keep as sample", icon="library_add",
                     on_click=lambda: keep_as_sample(library, generation_id, title, duration, text)) \
        .props("outline no-caps").mark(f"keep-{generation_id}")
