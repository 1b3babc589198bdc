"""Audio given to an engine's slots by reference: an upload, a library sample or profile, ...

A request names each audio slot's clip as `{"upload": "<id>"}` (or just the id, which means an upload),
`{"sample": id}`, `{"profile": id or name}`; areas register their kinds with `AudioRefs.register`. A resolver
gets the engine and the slot (the library picks a profile's best sample for them). The resolved value that goes
into the job's payload keeps the reference next to the file it pointed to, plus what the resolver knows
(`{"profile": ..., "sample": ..., "path": ..., "name": ..., "duration": ..., "transcript": ...}`), so a retry
resolves it again — through the most specific kind first, so a profile's chosen sample stays the same — and
says so when the clip was deleted; pages and the history can show what was used.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.contract import Engine, InputSlot, InvalidRequest

from .uploads import UploadService


@dataclass(frozen=True)
class ResolvedAudio:
    path: Path  # the file engines read (mono; a normalised copy for uploads)
    name: str  # what the user calls it
    duration: float  # seconds
    transcript: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # kept in the payload: which profile, which sample, ...


class MissingAudio(InvalidRequest):
    """A reference to a clip that does not exist (any more): an unknown or deleted upload, sample, ..."""


# (engine, slot, the reference's id) -> the clip, or None when there is no such clip (any more)
Resolver = Callable[[Engine, InputSlot, str], ResolvedAudio | None]

DEFAULT_KIND = "upload"
VOICE_SLOTS = ("reference", "enrolment")  # audio slots that take the voice to speak with (or to keep)


class AudioRefs:
    def __init__(self) -> None:
        self._resolvers: dict[str, Resolver] = {}

    def register(self, kind: str, resolver: Resolver) -> None:
        """Add a kind; kinds registered earlier win when a resolved value carries several (sample before profile)."""
        self._resolvers[kind] = resolver

    def resolve(self, engine: Engine, inputs: dict[str, Any]) -> dict[str, Any]:
        """`inputs` with every audio slot's reference resolved and its duration checked against the slot."""
        resolved = dict(inputs)
        for slot in engine.inputs:
            value = inputs.get(slot.name)
            if slot.kind != "audio" or value is None or value == "":
                continue
            reference = {DEFAULT_KIND: value} if isinstance(value, str) else value
            kind = next((k for k in self._resolvers if k in reference), None) if isinstance(reference, dict) else None
            if kind is None:
                if isinstance(reference, dict) and "path" in reference:
                    continue  # already a file (internal callers)
                raise InvalidRequest(f"{slot.label}: give the audio as an upload id "
                                     f"(or one of: {', '.join(self._resolvers) or 'none'}).")
            audio = self._resolvers[kind](engine, slot, str(reference[kind]))
            if audio is None:
                raise MissingAudio(f"{slot.label}: the {kind} {reference[kind]!r} does not exist (any more). "
                                   f"Add the audio again.")
            check_duration(engine, slot, audio)
            transcript = reference.get("transcript") or audio.transcript
            if slot.transcript_needed() and not transcript:  # the clip named (engine.validate checks again)
                raise InvalidRequest(f"{slot.label}: {engine.name} needs the transcript of “{audio.name}”; type it, "
                                     f"or transcribe the clip first.")
            resolved[slot.name] = {kind: str(reference[kind]), **audio.details, "path": str(audio.path),
                                   "name": audio.name, "duration": audio.duration, "transcript": transcript}
        return resolved


def reference_slot(engine: Engine) -> InputSlot | None:
    """The slot a voice profile fills: the engine's first reference-voice slot, or None when it takes no voice."""
    return next((s for s in engine.inputs if s.kind == "audio" and s.name in VOICE_SLOTS), None)


def check_duration(engine: Engine, slot: InputSlot, audio: ResolvedAudio) -> None:
    if slot.min_seconds is not None and audio.duration < slot.min_seconds:
        raise InvalidRequest(f"{slot.label}: {audio.name} is {_told_apart(audio.duration, slot.min_seconds)} long; "
                             f"{engine.name} needs at least {slot.min_seconds:g} s.")
    if slot.max_seconds is not None and audio.duration > slot.max_seconds:
        raise InvalidRequest(f"{slot.label}: {audio.name} is {_told_apart(audio.duration, slot.max_seconds)} long; "
                             f"{engine.name} takes at most {_duration(slot.max_seconds)}. Cut it shorter, or convert "
                             f"it in parts.")


def _duration(seconds: float, places: int = 1) -> str:
    """'12.5 s' under two minutes, else minutes and seconds: '20:00', '20:00.5'."""
    if seconds < 120:
        return f"{seconds:.{places}f} s"
    minutes, rest = divmod(round(seconds, places), 60)
    return f"{int(minutes)}:" + f"{rest:0{3 + places}.{places}f}".rstrip("0").rstrip(".")


def _told_apart(seconds: float, limit: float) -> str:
    """`seconds` as _duration writes it, with as many decimals as it takes (up to three) to differ from `limit`, so
    that a clip just over or under a limit is not said to be as long as the limit."""
    for places in (1, 2, 3):
        text = _duration(seconds, places)
        if text != _duration(limit, places):
            break
    return text


def upload_resolver(uploads: UploadService) -> Resolver:
    def resolve(engine: Engine, slot: InputSlot, upload_id: str) -> ResolvedAudio | None:
        stored = uploads.get(upload_id)
        return None if stored is None else ResolvedAudio(stored.normalised, stored.name, stored.duration)
    return resolve
