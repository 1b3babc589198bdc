"""The project zip on disk: writing one (each file's size and checksum recorded), and reading one that may be hostile.

Reading never trusts the zip: member names must be plain relative paths (no '..', no absolute or drive paths,
no backslashes), links and encrypted members are refused, declared sizes are bounded (per member, in total, and
in how far a member expands), and extraction counts the bytes it really gets and checks them against the
manifest's size and SHA-256. Nothing is extracted anywhere but where the caller says.
"""
from __future__ import annotations

import hashlib
import re
import stat
import time
import zipfile
from pathlib import Path
from typing import BinaryIO

from .errors import ProjectError
from .manifest import MANIFEST, FileRef, Manifest, parse_manifest

MAX_MEMBERS = 200_000
MAX_MEMBER_BYTES = 4 * 1024**3
MAX_TOTAL_BYTES = 32 * 1024**3  # what all members together may expand to
MAX_MANIFEST_BYTES = 256 * 1024**2
MAX_EXPANSION = 200  # a member that expands more than this many times (and past 1 MB) is a zip bomb
CHUNK = 1024 * 1024


def _megabytes(size: int) -> str:
    return f"{size / 1024**3:.1f} GB" if size >= 1024**3 else f"{size / 1024**2:.0f} MB"


class ProjectWriter:
    """Writes a project zip: audio stored as it is, the manifest deflated."""

    def __init__(self, target: Path) -> None:
        self._zip = zipfile.ZipFile(target, "w", allowZip64=True)
        self._stamp = time.localtime()[:6]

    def add_file(self, name: str, source: Path) -> FileRef:
        info = zipfile.ZipInfo(name, self._stamp)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        size = source.stat().st_size
        digest = hashlib.sha256()
        with open(source, "rb") as src, self._zip.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as out:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        return FileRef(path=name, size=info.file_size, sha256=digest.hexdigest())

    def add_manifest(self, manifest: Manifest) -> None:
        info = zipfile.ZipInfo(MANIFEST, self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self._zip.writestr(info, manifest.model_dump_json(indent=1))

    def close(self) -> None:
        self._zip.close()


def unsafe_name(name: str) -> bool:
    """True for a member name that could land outside the folder it is extracted to, or is not a plain path."""
    if not name or len(name) > 512 or "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return True
    if any(ord(ch) < 32 for ch in name):
        return True
    parts = name.rstrip("/").split("/")
    return any(part in ("", ".", "..") for part in parts)


class ProjectReader:
    """An opened project zip whose members were checked; `manifest()` reads and checks the manifest."""

    def __init__(self, source: Path | BinaryIO) -> None:
        try:
            self._zip = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            raise ProjectError("This file is not a zip file (or it is damaged); choose a project exported by "
                               "Amphion Studio.") from None
        try:
            self.members = self._checked_members()
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> ProjectReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def _checked_members(self) -> dict[str, zipfile.ZipInfo]:
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ProjectError(f"The project has {len(infos):,} files; at most {MAX_MEMBERS:,} are accepted.")
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename
            if unsafe_name(name):
                raise ProjectError(f"The project contains an unsafe file name ({name[:80]!r}: an absolute path or "
                                   f"one that leaves its folder); nothing was imported.")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ProjectError(f"The project contains a link ({name[:80]}); nothing was imported.")
            if info.flag_bits & 0x1:
                raise ProjectError(f"The project contains an encrypted file ({name[:80]}); export it again without "
                                   f"a password.")
            if name in members:
                raise ProjectError(f"The project contains {name[:80]} twice; nothing was imported.")
            if info.file_size > MAX_MEMBER_BYTES:
                raise ProjectError(f"{name[:80]} in the project expands to {_megabytes(info.file_size)}; files of at "
                                   f"most {_megabytes(MAX_MEMBER_BYTES)} are accepted.", 413)
            expansion = info.file_size // max(info.compress_size, 1)
            if info.file_size > CHUNK and expansion > MAX_EXPANSION:
                raise ProjectError(f"{name[:80]} in the project expands {expansion:,} times (to "
                                   f"{_megabytes(info.file_size)}): that is a zip bomb, not a project.", 413)
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise ProjectError(f"The project expands to more than {_megabytes(MAX_TOTAL_BYTES)}; split it into "
                                   f"smaller exports.", 413)
            if not name.endswith("/"):
                members[name] = info
        return members

    @property
    def expanded_size(self) -> int:
        return sum(info.file_size for info in self.members.values())

    def manifest(self) -> Manifest:
        info = self.members.get(MANIFEST)
        if info is None:
            raise ProjectError("This zip has no manifest.json: it is not an Amphion Studio project.")
        if info.file_size > MAX_MANIFEST_BYTES:
            raise ProjectError(f"The project's manifest is {_megabytes(info.file_size)}; at most "
                               f"{_megabytes(MAX_MANIFEST_BYTES)} is accepted.", 413)
        manifest = parse_manifest(self._read(info, MAX_MANIFEST_BYTES))
        for ref in manifest.files():
            found = self.members.get(ref.path)
            if found is None or ref.path == MANIFEST:
                raise ProjectError(f"The project is incomplete: {ref.path[:80]} is missing from the zip; export it "
                                   f"again.")
            if found.file_size != ref.size:
                raise ProjectError(f"{ref.path[:80]} in the project is {found.file_size:,} bytes, but the manifest "
                                   f"says {ref.size:,}: the project is damaged; export it again.")
        return manifest

    def _read(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        try:
            with self._zip.open(info) as member:
                data = member.read(limit + 1)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise ProjectError(f"{info.filename[:80]} in the project cannot be read ({exc}); the zip is damaged.") \
                from None
        if len(data) > limit:
            raise ProjectError(f"{info.filename[:80]} in the project is larger than it claims; nothing was imported.",
                               413)
        return data

    def extract(self, ref: FileRef, target: Path) -> None:
        """Write the member `ref` names to `target`, checking its real size and SHA-256 against the manifest."""
        digest = hashlib.sha256()
        written = 0
        try:
            with self._zip.open(self.members[ref.path]) as member, open(target, "xb") as out:
                while chunk := member.read(CHUNK):
                    written += len(chunk)
                    if written > ref.size:
                        raise ProjectError(f"{ref.path[:80]} in the project is larger than it claims; nothing was "
                                           f"imported.", 413)
                    digest.update(chunk)
                    out.write(chunk)
        except (zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
            raise ProjectError(f"{ref.path[:80]} in the project is damaged ({exc}); export the project again.") \
                from None
        if written != ref.size or digest.hexdigest() != ref.sha256:
            raise ProjectError(f"{ref.path[:80]} in the project is damaged (its checksum does not match the "
                               f"manifest); export the project again.")
