"""What an evaluation compares: files and folders matched by name, transcripts beside them, uploaded zips, and
the inputs of a generation (by what its engine declares the result keeps of each).

Sets are matched by file name without its extension (`a.wav` pairs with `a.flac`), relative to each folder, so
sub-folders work too. Every file without a partner becomes an item of its own with a message saying so.
"""
from __future__ import annotations

import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from engines.contract import InputSlot, InvalidRequest

from ..uploads import safe_name

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".webm"})
TEXT_SUFFIXES = (".txt", ".lab")  # a transcript beside a clip: a.wav + a.txt
MAX_ZIP_FILES = 20_000
MAX_ZIP_BYTES = 8 * 1024**3  # uncompressed


@dataclass(frozen=True)
class Source:
    """One item before its audio is read."""

    name: str
    generated: Path | None
    reference: Path | None = None  # a clip with the generated one's content (a conversion's source)
    text: str | None = None
    source_job: str | None = None
    problem: str | None = None  # known before reading: the file has no partner in the other set
    voice: Path | None = None  # the clip of the voice it should have, when not the reference (a target, a prompt)
    notes: tuple[str, ...] = ()  # what was chosen to compare with, and why


def generation_source(name: str, audio: Path, job_id: str, slots: Sequence[InputSlot], inputs: dict[str, Any],
                      home: Path) -> Source:
    """A generation as an item: compared with the input whose content it keeps (a conversion's source), its speaker
    with the input whose voice it should have (a target voice, a TTS prompt), its words with its text (else its
    source's transcript). Input paths are relative to `home` unless absolute."""
    content, voice = compared_inputs(slots, inputs)
    notes = [f"{use} its input “{slot.label}” ({Path(inputs[slot.name]['path']).name})."
             for slot, use in ((content, "Metrics that need a reference compare it with"),
                               (voice, "Speaker similarity compares it with")) if slot is not None]
    text = inputs.get("text") if isinstance(inputs.get("text"), str) else None
    transcript = inputs[content.name].get("transcript") if content is not None else None
    if not text and isinstance(transcript, str) and transcript.strip():
        text = transcript
    return Source(name, audio, home / inputs[content.name]["path"] if content else None, text, job_id,
                  voice=home / inputs[voice.name]["path"] if voice and voice is not content else None,
                  notes=tuple(notes))


def compared_inputs(slots: Sequence[InputSlot], inputs: dict[str, Any]) -> tuple[InputSlot | None, InputSlot | None]:
    """Of a generation's filled audio inputs, the one whose content the result keeps and the one whose voice it
    should have (by what each slot `carries`). A slot that carries the voice alone (a timbre reference) wins over one
    that carries a style as well."""
    filled = [s for s in slots if s.kind == "audio" and isinstance(inputs.get(s.name), dict)
              and inputs[s.name].get("path")]
    content = next((s for s in filled if "content" in s.carries), None)
    voices = sorted((s for s in filled if "voice" in s.carries), key=lambda s: len(s.carries))
    return content, voices[0] if voices else None


def audio_files(folder: Path) -> dict[str, Path]:
    """Audio files under `folder` by name (relative path without extension); hidden files are skipped."""
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES and \
                not any(part.startswith(".") or part == "__MACOSX" for part in relative.parts):
            found.setdefault(relative.with_suffix("").as_posix(), path)
    return found


def sidecar_text(audio: Path) -> str | None:
    for suffix in TEXT_SUFFIXES:
        path = audio.with_suffix(suffix)
        if path.is_file():
            return path.read_text(encoding="utf-8", errors="replace").strip() or None
    return None


def read_transcripts(path: Path) -> dict[str, str]:
    """Amphion's transcript file: one `name|text` line per clip (the name may keep its extension)."""
    texts: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        name, sep, text = line.partition("|")
        if not sep:
            raise InvalidRequest(f"{path.name}, line {number}: write each line as name|text.")
        name = name.strip()
        stem = PurePosixPath(name).with_suffix("").as_posix() if PurePosixPath(name).suffix.lower() in AUDIO_SUFFIXES \
            else name
        texts[stem] = text.strip()
    return texts


def pair_folders(reference: Path | None, generated: Path, texts: dict[str, str] | None = None) -> list[Source]:
    """Items of a set: generated clips matched by name with reference clips (when a reference folder is given)."""
    generated_files = audio_files(generated)
    reference_files = audio_files(reference) if reference is not None else {}
    if not generated_files:
        raise InvalidRequest(f"No audio files in {generated.name or generated}: put .wav, .flac, .mp3 or .ogg files "
                             "in the generated folder (or zip).")
    if reference is not None and not reference_files:
        raise InvalidRequest(f"No audio files in the reference folder {reference.name or reference}.")
    texts = texts or {}
    sources = []
    for name, path in generated_files.items():
        partner = reference_files.get(name)
        problem = None
        if reference is not None and partner is None:
            problem = f"No reference named “{name}” (the reference set has no file with this name): " \
                      "only the metrics that need no reference were computed."
        text = texts.get(name) or sidecar_text(path) or (sidecar_text(partner) if partner else None)
        sources.append(Source(name, path, partner, text, problem=problem))
    for name, path in reference_files.items():
        if name not in generated_files:
            sources.append(Source(name, None, path, problem=f"No generated clip named “{name}”: nothing to score."))
    return sources


def extract_zip(archive: Path, destination: Path) -> Path:
    """Unpack the audio and transcripts of `archive` safely; the folder to treat as the set (a lone top folder is
    entered). InvalidRequest when it is not a zip, holds no audio, or is too big."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_FILES:
                raise InvalidRequest(f"{archive.name} holds {len(members):,} files; the limit is {MAX_ZIP_FILES:,}.")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise InvalidRequest(f"{archive.name} unpacks to more than {MAX_ZIP_BYTES / 1024**3:.0f} GB.")
            destination.mkdir(parents=True, exist_ok=True)
            extracted = 0
            for member in members:
                relative = PurePosixPath(member.filename.replace("\\", "/"))
                if relative.is_absolute() or ".." in relative.parts or \
                        relative.suffix.lower() not in AUDIO_SUFFIXES | set(TEXT_SUFFIXES):
                    continue  # unsafe names and other files are skipped, never written
                target = destination.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1024 * 1024)
                extracted += relative.suffix.lower() in AUDIO_SUFFIXES
    except zipfile.BadZipFile:
        raise InvalidRequest(f"{archive.name} is not a valid zip file.") from None
    if not extracted:
        raise InvalidRequest(f"{archive.name} holds no audio files (.wav, .flac, .mp3, .ogg, ...).")
    folder = destination
    while True:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
        if len(entries) != 1 or not entries[0].is_dir():
            return folder
        folder = entries[0]


def check_zip_name(filename: str) -> None:
    """Sets arrive as zips; single clips go through the studio's uploads (studio/uploads.py)."""
    if PurePosixPath(filename).suffix.lower() != ".zip":
        raise InvalidRequest(f"{safe_name(filename)}: upload a .zip of audio files for a set.")


def accept_zip(saved: Path) -> Path:
    """An uploaded zip, unpacked beside it; the folder of the set. InvalidRequest (and the file is removed) when it
    is not a zip of audio."""
    try:
        check_zip_name(saved.name)
        return extract_zip(saved, saved.with_suffix(""))  # uploads/evaluation/<id>/name.zip -> .../<id>/name/
    except InvalidRequest:
        saved.unlink(missing_ok=True)
        raise
