"""Projects on the pages: download a selection as a project zip, import one (with what it added, or why not)."""
from __future__ import annotations

from nicegui import events, run, ui

from studio.api.projects import download_url
from studio.library import LibraryService
from studio.projects import ImportReport, ProjectError, ProjectService, Selection
from studio.projects import service as projects_module

from . import theme
from .history_dialogs import opened

HELP = ("A zip exported by Amphion Studio (Export on the Voices or History page, or `amphion-studio export`). "
        "Everything in it is added to this studio; nothing here is replaced.")


async def download_project(projects: ProjectService, selection: Selection) -> None:
    """Export the selection (off the event loop) and hand the zip to the browser."""
    try:
        summary = await run.io_bound(projects.export_file, selection)
    except ProjectError as exc:
        ui.notify(str(exc), type="negative", multi_line=True)
        return
    if summary is None:  # the studio is stopping
        return
    ui.download.from_url(download_url(summary))
    ui.notify(f"Exported {summary.describe()}.", type="positive")


async def import_project(projects: ProjectService) -> ImportReport | None:
    """A dialog that takes a project zip and imports it; the report, or None when nothing was imported."""
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-lg").mark("import-dialog"):
        ui.label("Import a project").classes(theme.SECTION_TITLE)
        ui.label(HELP).classes(theme.HINT)
        limit = projects_module.MAX_PROJECT_BYTES

        async def received(e: events.UploadEventArguments) -> None:
            upload.reset()
            if e.file.size() > limit:
                problem.set_text(f"{e.file.name} is larger than {limit / 1024**3:g} GB; export a smaller selection.")
                return
            working.set_visibility(True)
            problem.set_text("")
            path = projects.incoming_path()
            try:
                await e.file.save(path)
                report = await run.io_bound(projects.import_project, path)
            except ProjectError as exc:
                problem.set_text(str(exc))
                return
            finally:
                path.unlink(missing_ok=True)
                working.set_visibility(False)
            if report is not None:
                dialog.submit(report)

        upload = ui.upload(auto_upload=True, on_upload=received, max_file_size=limit, label="Project zip",
                           on_rejected=lambda: problem.set_text(f"That file is larger than {limit / 1024**3:g} GB.")) \
            .props('accept=".zip,application/zip" flat bordered').classes("w-full").mark("import-upload")
        with ui.row().classes("items-center gap-2") as working:
            ui.spinner(size="sm")
            ui.label("Checking and importing…").classes(theme.HINT)
        working.set_visibility(False)
        problem = ui.label("").classes("text-negative text-body2 whitespace-pre-line").mark("import-problem")
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=lambda: dialog.submit(None)).props("flat no-caps")
    report = await opened(dialog)
    if report is not None:
        ui.notify(report.describe(), type="positive", multi_line=True)
    return report


async def export_voices(library: LibraryService, projects: ProjectService, chosen: str | None) -> None:
    """Tick voices (the one shown first), then download them as a project."""
    profiles = library.profiles()
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-md").mark("export-dialog"):
        ui.label("Export voices").classes(theme.SECTION_TITLE)
        ui.label("Each voice goes with all its samples, their versions, transcripts and the doctor's measures.") \
            .classes(theme.HINT)
        boxes = {p.id: ui.checkbox(f"{p.name} ({p.samples} sample{'s' * (p.samples != 1)})", value=p.id == chosen)
                 .mark(f"export-{p.name}") for p in profiles}
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
            ui.button("Export", icon="archive",
                      on_click=lambda: dialog.submit([i for i, box in boxes.items() if box.value])) \
                .props("no-caps").mark("export-voices")
    picked = await opened(dialog)
    if picked is not None:
        await download_project(projects, Selection(profiles=tuple(picked)))
