"""ProjectService: a selection of the studio exported as one zip, and such a zip imported (all or nothing).

The format, what an export holds and what an import does are described in studio/projects/__init__.py; the
work is done by the Exporter (studio/projects/exporter.py) and the Importer (studio/projects/importer.py,
planning in studio/projects/import_plan.py). Rows are read and written with the tables' own definitions, so
a round trip keeps every column; text is checked on the way in with the rules the library and the history
apply to what a user types.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import Engine as SqlEngine

from ..history import HistoryService
from ..history.compare import Comparisons
from ..history.saved import SavedComparisons
from ..library import LibraryService
from ..storage import Paths
from .exporter import Exporter, ExportSummary, Selection
from .import_plan import ImportReport
from .importer import Importer

MAX_PROJECT_BYTES = 4 * 1024**3  # the largest project zip the studio takes in over HTTP or from the page


class ProjectService:
    def __init__(self, db: SqlEngine, paths: Paths, library: LibraryService, history: HistoryService,
                 comparisons: Comparisons, saved: SavedComparisons,
                 on_import: Callable[[ImportReport], None] = lambda report: None) -> None:
        self._exporter = Exporter(db, paths, library, comparisons, saved)
        self._importer = Importer(db, paths, history)  # undoes what a crash left half imported
        self._on_import = on_import  # e.g. open Compare pages list the comparisons it brought

    @property
    def staging(self) -> Path:
        return self._importer.staging

    def export(self, selection: Selection, target: Path) -> ExportSummary:
        """Write the selection to `target` (atomically) as a project zip."""
        return self._exporter.export(selection, target)

    def export_file(self, selection: Selection) -> ExportSummary:
        """Export for a download: into exports/projects/<token>/ (`exported(token)` finds it; it goes after an
        hour, or when `discard_export` is called once it was sent)."""
        return self._exporter.export_file(selection)

    def exported(self, token: str) -> Path | None:
        """The zip `export_file` made under `token` (its folder's name), or None."""
        return self._exporter.exported(token)

    def discard_export(self, path: Path) -> None:
        self._exporter.discard_export(path)

    def import_project(self, source: Path | BinaryIO) -> ImportReport:
        """Import a project zip (a path or an open binary file): everything in it, or nothing and ProjectError."""
        report = self._importer.import_project(source)
        self._on_import(report)
        return report

    def incoming_path(self) -> Path:
        """Where a page puts an uploaded project before importing it (cleaned at the next start if left)."""
        return self._importer.incoming_path()
