"""The studio's SQLite database (SQLModel, WAL mode)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import SQLModel, create_engine


def open_database(path: Path) -> SqlEngine:
    """An engine on `path` with WAL and foreign keys on; creates the tables the studio's models declare."""
    from .jobs import table  # noqa: F401  (registers the tables on SQLModel.metadata)

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
