"""The studio's SQLite database (SQLModel, WAL mode)."""
from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import SQLModel, create_engine


# Modules that declare SQLModel tables; importing them registers the tables on SQLModel.metadata.
TABLE_MODULES: tuple[str, ...] = (
    "studio.jobs.table",
    "studio.uploads",
    "studio.library.tables",
    "studio.prompt_cache",
    "studio.history.table",
    "studio.evaluation.table",
)

CHUNK = 500  # ids per IN (...) query


def chunks(values: Iterable[str]) -> Iterator[list[str]]:
    """`values` in lists short enough for one IN (...) query each."""
    values = list(values)
    for i in range(0, len(values), CHUNK):
        yield values[i:i + CHUNK]


def open_database(path: Path) -> SqlEngine:
    """An engine on `path` with WAL and foreign keys on; creates the tables the studio's models declare."""
    for module in TABLE_MODULES:
        importlib.import_module(module)

    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    SQLModel.metadata.create_all(engine)
    return engine
