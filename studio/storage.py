"""Where the studio keeps things (all absolute, all under STUDIO_HOME) and how it writes them (atomically)."""
from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def _assets() -> Path:
    """The web pages' CSS, JS and icons: `assets/` of the checkout, or `studio/assets` where a wheel put them."""
    here = Path(__file__).resolve().parent
    packaged = here / "assets"
    return packaged if packaged.is_dir() else here.parent / "assets"


ASSETS = _assets()


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def database(self) -> Path:
        return self.home / "studio.db"

    @property
    def generations(self) -> Path:
        return self.home / "generations"

    @property
    def exports(self) -> Path:
        return self.home / "exports"

    @property
    def uploads(self) -> Path:
        return self.home / "uploads"

    @property
    def library(self) -> Path:
        return self.home / "library"

    @property
    def prompt_cache(self) -> Path:
        return self.home / "prompt_cache"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def nicegui(self) -> Path:
        return self.home / "nicegui"

    @property
    def secret_file(self) -> Path:
        return self.home / "secret"

    def ensure(self) -> Paths:
        for path in (self.home, self.generations, self.exports, self.uploads, self.library, self.prompt_cache, self.logs,
                     self.nicegui):
            path.mkdir(parents=True, exist_ok=True)
        return self

    def storage_secret(self) -> str:
        """The cookie-signing secret, created once and kept private to the studio's user."""
        if not self.secret_file.exists():
            atomic_write_text(self.secret_file, secrets.token_urlsafe(32), mode=0o600)
        return self.secret_file.read_text().strip()


def atomic_write(path: Path, write: Callable[[Path], None], mode: int = 0o600) -> Path:
    """Call `write(tmp)` on a temporary file next to `path` (created empty with `mode`), then rename it into place.

    A crash leaves either the old file or the new one, never half of one.
    """
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:16]}{path.suffix}.part")
    try:
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileNotFoundError:  # its folder is not there yet
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.close(descriptor)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), mode)
