"""The projects API over HTTP: export a selection as a zip download, import it into another studio, and every
refusal with its status and a detail that says what to do."""
from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from studio.api import mount
from studio.projects import exporter
from studio.projects import service as projects_module
from studio.services import Services, build_services
from studio.settings import Settings
from tests.unit.test_api import client  # noqa: F401  (the API on the test's services)
from tests.unit.test_uploads import tone_file


@pytest.fixture
async def other(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API of a second, empty studio."""
    services = build_services(Settings.load(home=tmp_path / "other-home"))
    services.start()
    app = FastAPI()
    mount(app, services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://other") as api:
        yield api
    services.stop()


async def test_export_then_import_into_another_studio(client: httpx.AsyncClient, other: httpx.AsyncClient,  # noqa: F811
                                                      services: Services, tmp_path: Path) -> None:
    voice = (await client.post("/api/profiles", json={"name": "Anna", "language": "en"})).json()
    with open(tone_file(tmp_path / "anna.wav", seconds=2.5), "rb") as f:
        added = await client.post(f"/api/profiles/{voice['id']}/samples", files={"file": ("anna.wav", f)},
                                  data={"transcript": "a tone", "transcribe": "false"})
    assert added.status_code == 201
    made = await client.post("/api/generate", params={"wait": True}, json={"text": "From one studio to another."})
    generation = made.json()

    exported = await client.post("/api/projects/export", json={"profiles": ["anna"], "generations": [generation["id"]]})
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    assert exported.headers["content-disposition"].startswith('attachment; filename="amphion-studio-project-')
    assert exported.headers["x-studio-project"] == "1 voice, 1 sample and 1 generation"
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert "manifest.json" in names and f"generations/{generation['id']}.wav" in names
    assert not any((services.paths.exports / exporter.EXPORTS).iterdir())  # sent, then removed

    imported = await other.post("/api/projects/import", files={"file": ("p.zip", exported.content, "application/zip")})
    assert imported.status_code == 201, imported.text
    assert imported.json()["message"] == "Imported 1 voice, 1 sample and 1 generation."
    kept = (await other.get(f"/api/history/{generation['id']}")).json()
    assert {k: kept[k] for k in ("text", "seed", "params", "duration")} == \
        {k: generation[k] for k in ("text", "seed", "params", "duration")}
    audio = await other.get(kept["audio_url"])
    assert audio.content == (await client.get(generation["audio_url"])).content
    (anna,) = (await other.get("/api/profiles")).json()
    assert (anna["id"], anna["name"], anna["samples"]) == (voice["id"], "Anna", 1)

    again = (await other.post("/api/projects/import", files={"file": ("p.zip", exported.content)})).json()
    assert again["profiles"][0]["name"] == "Anna (imported)" and again["new_ids"] == 3
    everything = await other.post("/api/projects/export", json={"everything": True})
    assert everything.headers["x-studio-project"] == "2 voices, 2 samples and 2 generations"

    second = (await client.post("/api/generate", params={"wait": True}, json={"text": "A second take."})).json()
    clips = [f"generation:{generation['id']}", f"generation:{second['id']}"]
    saved = (await client.post("/api/compare/comparisons", json={"name": "Two takes", "clips": clips})).json()
    compared = await client.post("/api/projects/export", json={"comparisons": [saved["id"]]})
    assert compared.headers["x-studio-project"] == "2 generations and 1 comparison"
    brought = await other.post("/api/projects/import", files={"file": ("c.zip", compared.content)})
    assert brought.json()["message"].startswith("Imported 2 generations and 1 comparison.")
    (copy,) = [c for c in (await other.get("/api/compare/comparisons")).json() if c["name"] == "Two takes"]
    opened = (await other.get(f"/api/compare/comparisons/{copy['id']}")).json()
    assert len(opened["items"]) == 2 and opened["missing"] == []


async def test_refusals_say_what_to_do(client: httpx.AsyncClient,  # noqa: F811
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    nothing = await client.post("/api/projects/export", json={})
    assert nothing.status_code == 400 and nothing.json()["detail"].startswith("Choose what to export")
    unknown = await client.post("/api/projects/export", json={"profiles": ["Nobody"]})
    assert unknown.status_code == 404 and "no voice profile 'Nobody'" in unknown.json()["detail"]
    missing = await client.post("/api/projects/export", json={"generations": ["nope"]})
    assert missing.status_code == 404
    no_comparison = await client.post("/api/projects/export", json={"comparisons": ["nope"]})
    assert no_comparison.status_code == 404 and no_comparison.json()["detail"] == "No saved comparison nope."

    text = await client.post("/api/projects/import", files={"file": ("p.zip", b"not a zip at all")})
    assert text.status_code == 400 and text.json()["detail"].startswith("This file is not a zip file")
    nothing = await client.post("/api/projects/import")
    assert nothing.status_code == 400 and nothing.json()["detail"] == "file is required."
    monkeypatch.setattr(projects_module, "MAX_PROJECT_BYTES", 1000)
    big = await client.post("/api/projects/import", files={"file": ("p.zip", bytes(70_000))})
    assert big.status_code == 413 and "Projects are limited to" in big.json()["detail"]
    medium = await client.post("/api/projects/import", files={"file": ("p.zip", bytes(5000))})
    assert medium.status_code == 413  # past the limit, though within the multipart allowance
