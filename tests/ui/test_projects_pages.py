"""Projects and keeping generations as voice samples on the pages (User fixture, real engines): export a history
selection and library voices, import a project, keep a history item or a result as a sample. The `services`
fixture fills the studio's data folder before the page opens (it must come before `user`)."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from studio.history import HistoryItem
from studio.projects import Selection
from studio.services import Services, build_services
from studio.settings import Settings
from tests.ui.test_speech_page import generate
from tests.unit.test_uploads import tone_file

JOB_WAIT = 150
LONG = "A sentence long enough to be kept as a reference sample of a voice."


def spoken(services: Services, *texts: str) -> list[HistoryItem]:
    return [services.history.wait(services.generation.submit("builtin.hibari", {"text": t}).id, 30) for t in texts]


def manifest_of(content: bytes) -> dict:
    return json.loads(zipfile.ZipFile(io.BytesIO(content)).read("manifest.json"))


async def upload_project(user: User, name: str, data: bytes) -> None:
    await user.should_see(marker="import-dialog")
    upload = user.find(marker="import-upload").elements.pop()
    await upload.handle_uploads([ui.upload.SmallFileUpload(name, "application/zip", data)])


async def test_the_history_selection_is_exported_as_a_project(services: Services, user: User) -> None:
    first, second, third = spoken(services, "One for the project.", "Two for the project.", "Three stays home.")
    await user.open("/history")
    for item in (first, second):
        user.find(marker=f"select-{item.id}").click()
    await user.should_see("2 selected")
    user.find(marker="export-selected").click()
    response = await user.download.next(timeout=10)
    assert response.status_code == 200
    manifest = manifest_of(response.content)
    assert sorted(g["text"] for g in manifest["generations"]) == ["One for the project.", "Two for the project."]
    await user.should_see("Exported 2 generations.")


async def test_a_project_is_imported_from_the_history_page_and_a_bad_file_says_why(services: Services, user: User,
                                                                                  tmp_path: Path) -> None:
    other = build_services(Settings.load(home=tmp_path / "other"))
    other.start()
    try:
        made = spoken(other, "Made in another studio.")[0]
        other.projects.export(Selection(generations=(made.id,)), tmp_path / "other.zip")
    finally:
        other.stop()
    await user.open("/history")
    await user.should_see("No generations yet")
    user.find(marker="import-project").click()
    await upload_project(user, "notes.zip", b"not a zip")
    await user.should_see("This file is not a zip file")
    await upload_project(user, "other.zip", (tmp_path / "other.zip").read_bytes())
    await user.should_see("Imported 1 generation.")
    await user.should_not_see(marker="import-dialog")
    await user.should_see("1 generation")
    await user.should_see(marker=f"history-{made.id}")


async def test_a_history_item_is_kept_as_a_sample_of_a_new_or_existing_voice(services: Services, user: User) -> None:
    long, short = spoken(services, LONG, "Too short.")
    narrator = services.library.create_profile("Narrator")
    await user.open("/history")
    user.find(marker=f"keep-{short.id}").click()
    await user.should_see("a voice sample needs 2 s to 5 min")
    user.find(marker=f"keep-{long.id}").click()
    await user.should_see(marker="keep-dialog")
    user.find(marker="keep-voice").elements.pop().set_value("")  # "New voice…"
    user.find(marker="keep-new-name").type("narrator")
    user.find(marker="keep-save").click()
    await user.should_see("A voice called “Narrator” already exists")
    user.find(marker="keep-new-name").clear().type("Reader")
    user.find(marker="keep-save").click()
    await user.should_see("Kept as a sample of Reader.", retries=50)
    reader = services.library.profile_by_name("Reader")
    (sample,) = services.library.samples(reader.id)
    assert (sample.transcript, sample.source, sample.source_ref) == (LONG, "generation", long.id)
    assert sample.duration == pytest.approx(long.duration, abs=0.01)

    user.find(marker=f"keep-{long.id}").click()
    await user.should_see(marker="keep-dialog")
    user.find(marker="keep-voice").elements.pop().set_value(narrator.id)
    user.find(marker="keep-save").click()
    await user.should_see("Kept as a sample of Narrator.", retries=50)
    assert len(services.library.samples(narrator.id)) == 1


async def test_voices_are_exported_and_imported_on_the_library_page(services: Services, user: User,
                                                                   tmp_path: Path) -> None:
    for name in ("Anna", "Bob"):
        voice = services.library.create_profile(name)
        services.library.add_file(voice.id, tone_file(tmp_path / f"{name}.wav", seconds=2.5), transcript="hum",
                              transcribe=False)
    await user.open("/library")
    await user.should_see(marker="profile-Anna")
    user.find(marker="export-project").click()
    await user.should_see(marker="export-dialog")
    user.find(marker="export-Bob").click()  # Anna, shown first, is ticked already
    user.find(marker="export-voices").click()
    response = await user.download.next(timeout=10)
    assert [p["name"] for p in manifest_of(response.content)["profiles"]] == ["Anna", "Bob"]

    user.find(marker="import-project").click()
    await upload_project(user, "voices.zip", response.content)
    await user.should_see("Names already taken: “Anna” as “Anna (imported)”, “Bob” as “Bob (imported)”.",
                          retries=20)
    await user.should_see(marker="profile-Anna (imported)")
    await user.should_see(marker="profile-Bob (imported)")
    with user.scope(marker="profile-detail"):
        await user.should_see("Anna (imported)")
    assert [p.samples for p in services.library.profiles()] == [1, 1, 1, 1]


async def test_a_speech_result_is_kept_as_a_sample(services: Services, user: User) -> None:
    services.library.create_profile("Narrator")
    await user.open("/speech")
    await generate(user, LONG)
    await user.should_see(marker="result-card", retries=JOB_WAIT)
    with user.scope(marker="result-card"):
        user.find("Keep as sample").click()
    await user.should_see(marker="keep-dialog")
    user.find(marker="keep-save").click()
    await user.should_see("Kept as a sample of Narrator.", retries=50)
    (sample,) = services.library.samples(services.library.profile_by_name("Narrator").id)
    assert sample.transcript == LONG and sample.source == "generation"
