"""What the exporter and the importer both use: rows looked up by many ids, a generation's audio references,
removing a leftover, and counts said in words."""
from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Table, select
from sqlalchemy.engine import Connection, Row

from ..db import chunks


def rows_where(connection: Connection, table: Table, column: Column[Any], values: Iterable[str]) -> list[Row[Any]]:
    """The rows of `table` whose `column` is one of `values`."""
    return [row for chunk in chunks(values) for row in connection.execute(select(table).where(column.in_(chunk)))]


def existing(connection: Connection, column: Column[Any], values: Iterable[str],
             path_of: Callable[[str], Path] | None = None) -> set[str]:
    """Which of `values` this studio already uses: as a row, or (with `path_of`) as a file or folder."""
    values = list(values)
    found = {v for chunk in chunks(values) for v in connection.execute(
        select(column).where(column.in_(chunk))).scalars()}
    return found | ({v for v in values if path_of(v).exists()} if path_of else set())


def references_in(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """A generation's audio inputs that are references ({"profile": ..., "sample": ...}, {"upload": ...})."""
    return [value for value in inputs.values() if isinstance(value, dict)]


def counted(*counts: tuple[str, int]) -> str:
    """("voice", 2), ("sample", 1) -> "2 voices and 1 sample" (nothing said of a zero)."""
    parts = [f"{n} {what}{'s' if n != 1 else ''}" for what, n in counts if n]
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] if parts else ""


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
