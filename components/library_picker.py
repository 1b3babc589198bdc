"""`Picker`s for the audio input from the voice library: a sample (as an upload of its normalised audio, or by
reference), or a whole voice for an engine's slot (the library then uses the sample that suits the engine best).

A picked reference is a `LibraryClip`: it shows and plays like an upload, and its `ref` ({"sample": id} or
{"profile": id}) is what the page sends (see studio/audio_refs.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nicegui import run, ui

from engines.contract import Engine, InputSlot, InvalidRequest
from studio.library import LibraryService, NotFound, SampleInfo
from studio.uploads import StoredAudio, UploadService

from .audio_input import Picker
from .sample_card import sample_url


@dataclass(frozen=True)
class LibraryClip(StoredAudio):
    ref: dict[str, str] = field(default_factory=dict)
    url: str = ""


def sample_clip(sample: SampleInfo, name: str, ref: dict[str, str]) -> LibraryClip:
    return LibraryClip(sample.id, name, sample.original, sample.normalised, sample.duration, sample.sample_rate,
                       sample.channels, 0, sample.created_at, ref=ref, url=sample_url(sample))


def voice_clip(library: LibraryService, profile_id: str, engine: Engine, slot: InputSlot) -> LibraryClip | None:
    """The voice as a clip for this slot, playing the sample the library would use; None when it cannot be used."""
    try:
        profile = library.profile(profile_id)
        sample = library.best_sample(profile.id, engine, slot)
    except (NotFound, InvalidRequest):  # gone, or no samples yet
        return None
    return sample_clip(sample, f"{profile.name} (voice: uses {sample.name})", {"profile": profile.id})


def library_clip(library: LibraryService, ref: dict[str, Any], engine: Engine, slot: InputSlot) -> LibraryClip | None:
    """A saved reference ({"sample": id} or {"profile": id}) as a clip again, or None when it is gone."""
    if ref.get("profile") and not ref.get("sample"):
        return voice_clip(library, str(ref["profile"]), engine, slot)
    try:
        sample = library.sample(str(ref.get("sample")))
    except NotFound:
        return None
    return sample_clip(sample, _sample_label(library, sample), {"sample": sample.id})


def _sample_label(library: LibraryService, sample: SampleInfo) -> str:
    return f"{library.profile(sample.profile_id).name} · {sample.name}"


async def _choose(title: str, options: dict[str, str], marker: str, empty: str) -> str | None:
    if not options:
        ui.notify(empty, type="warning")
        return None
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-lg"):
        ui.label(title).classes("text-h6")
        choice = ui.select(options, value=next(iter(options))).classes("w-full").mark(marker)
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
            ui.button("Use it", on_click=lambda: dialog.submit(choice.value)).props("no-caps").mark("library-use")
    chosen = await dialog
    dialog.delete()
    return chosen or None


def library_picker(library: LibraryService, uploads: UploadService, by_reference: bool = False) -> Picker:
    """One sample of the library: copied as an upload (the clip stands on its own), or `by_reference`, so the
    generation records which voice it used."""
    async def pick() -> StoredAudio | None:
        options = {s.id: f"{p.name} · {s.name} · {s.duration:.1f} s"
                   for p in library.profiles() for s in library.samples(p.id)}
        chosen = await _choose("Pick a sample from the library", options, "library-pick",
                               "The voice library has no samples yet.")
        if chosen is None:
            return None
        sample = library.sample(chosen)
        if by_reference:
            return sample_clip(sample, _sample_label(library, sample), {"sample": sample.id})
        return await run.io_bound(uploads.store_file, sample.normalised, f"{Path(sample.name).stem}.wav")

    return Picker("From the library", "library_music", pick)


def voice_picker(library: LibraryService, engine: Engine, slot: InputSlot) -> Picker:
    """A voice of the library for this slot: the request names the profile, and the library picks its sample."""
    async def pick() -> StoredAudio | None:
        options = {p.id: f"{p.name} ({p.samples} sample{'s' * (p.samples != 1)})"
                   for p in library.profiles() if p.samples}
        chosen = await _choose("Use a voice from the library", options, "voice-pick",
                               "The voice library has no voices with samples yet.")
        return await run.io_bound(voice_clip, library, chosen, engine, slot) if chosen else None

    return Picker("Library voice", "record_voice_over", pick)
