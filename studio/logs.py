"""Logging: to stderr (journald under systemd) and to a rotating file under STUDIO_HOME/logs."""
from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(log_dir: Path, level: str = "INFO") -> Path:
    """Idempotent: a second call (tests build the services many times) replaces the studio's file handler."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "studio.log"
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "studio", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    stream_handler = logging.StreamHandler()
    for handler in (file_handler, stream_handler):
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.studio = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    return path
