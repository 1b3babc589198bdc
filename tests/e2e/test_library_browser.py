"""The microphone recorder end to end: Chromium's fake microphone, MediaRecorder, the HTTP upload, the new sample."""
from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.e2e.test_browser import CHROMIUM, open_page, pytestmark, studio  # noqa: F401  (the same running studio fixture)

FAKE_MICROPHONE = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", *FAKE_MICROPHONE])
        yield browser
        browser.close()


def api(url: str, body: dict | None = None) -> object:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def test_record_from_the_microphone_into_a_voice(studio: str, browser) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    voice = api(studio + "/api/profiles", {"name": "Microphone"})
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_page(page, studio + "/library")
    page.get_by_text("Microphone", exact=True).first.wait_for()
    record = page.get_by_role("button", name="Record")
    record.click()
    page.get_by_text("Recording… press Stop when you are done.").wait_for(timeout=10_000)
    time.sleep(3.0)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Added recording-").first.wait_for(timeout=30_000)
    (sample,) = api(f"{studio}/api/profiles/{voice['id']}/samples")  # type: ignore[index]
    assert sample["source"] == "recording" and sample["name"].startswith("recording-")
    assert 2.5 <= sample["duration"] <= 6.0  # the fake microphone's beeps, as long as we recorded
    assert sample["original"].endswith((".webm", ".ogg", ".m4a"))  # what MediaRecorder made, kept as it came
    uploads = api(studio + "/api/uploads")
    assert any(u["name"] == sample["name"] for u in uploads)  # it travelled by HTTP POST /api/uploads
    assert not errors


def test_without_a_microphone_api_the_page_says_why(studio: str, browser) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    api(studio + "/api/profiles", {"name": "Plain HTTP"})
    page = browser.new_page()
    # what a tablet gets on http://192.168.x.y: no navigator.mediaDevices at all
    page.add_init_script("Object.defineProperty(navigator, 'mediaDevices', {value: undefined});")
    open_page(page, studio + "/library")
    page.get_by_role("button", name="Record").first.click()
    page.get_by_text("only allows the microphone on a secure page", exact=False).first.wait_for(timeout=10_000)


def test_the_library_fits_a_tablet_in_portrait(studio: str, browser) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    voice = api(studio + "/api/profiles", {"name": "Tablet", "description": "A long description " * 8})
    generated = api(studio + "/api/generate", {"text": "A sample for the tablet layout.", "params": {"seed": 1}})
    deadline = time.monotonic() + 30
    while api(f"{studio}/api/jobs/{generated['id']}")["state"] != "succeeded":  # type: ignore[index]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    api(f"{studio}/api/profiles/{voice['id']}/samples/from-generation", {"job_id": generated["id"]})  # type: ignore[index]
    page = browser.new_page(viewport={"width": 768, "height": 1024}, has_touch=True, is_mobile=True)
    open_page(page, studio + "/library")
    page.get_by_text("Tablet", exact=True).first.tap()
    page.get_by_role("button", name="Cut the best window").wait_for()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 768, "nothing overflows sideways"
