"""End to end: the real app as a subprocess, driven in headless Debian Chromium through Playwright."""
from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator

import pytest

from tests.live_server import start_studio

CHROMIUM = os.environ.get("STUDIO_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None and os.environ.get("STUDIO_REQUIRE_E2E"):
    raise RuntimeError("STUDIO_REQUIRE_E2E is set but Chromium is not installed (sudo apt install chromium)")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (sudo apt install chromium)"),
]


def open_page(page, url: str) -> None:  # type: ignore[no-untyped-def]
    """Go to `url` and wait for the websocket handshake: before it, the browser holds each event in its own 10 ms
    retry timer, so a key pressed right after typing can reach the server before the text does."""
    page.goto(url)
    page.wait_for_function("() => window.did_handshake === true", timeout=15_000)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start_studio(tmp_path_factory.mktemp("e2e-home"))
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()


def test_type_generate_and_play_in_a_real_browser(studio: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_page(page, studio + "/speech")
    page.locator("textarea").fill("A real browser, a real voice.")
    page.get_by_role("button", name="Generate").click()
    audio = page.locator("audio")
    audio.wait_for(timeout=30_000)
    src = audio.get_attribute("src")
    assert src and src.startswith("/media/generations/")
    # the browser fetched and decoded it: duration known, and it plays
    page.wait_for_function("() => { const a = document.querySelector('audio'); return a && a.readyState >= 1 "
                           "&& a.duration > 1; }", timeout=15_000)
    duration = page.evaluate("() => document.querySelector('audio').duration")
    assert 1.0 < duration < 5.0
    page.evaluate("() => document.activeElement.blur()")  # focus outside any field
    page.keyboard.press("Space")
    page.wait_for_function("() => !document.querySelector('audio').paused", timeout=5_000)
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('audio').paused", timeout=5_000)
    # the file is served with range requests, as players seek
    request = urllib.request.Request(studio + src, headers={"Range": "bytes=0-99"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 206 and len(response.read()) == 100
    assert not errors


def test_ctrl_enter_in_the_text_box_generates(studio: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    open_page(page, studio + "/speech")
    box = page.locator("textarea")
    box.fill("Sent with the keyboard.")
    box.press("Control+Enter")
    page.get_by_text("Hibari: Sent with the keyboard.").first.wait_for(timeout=30_000)
    page.locator("audio").wait_for(timeout=30_000)


def test_a_tablet_in_portrait_gets_a_drawer_and_touch_sized_controls(studio: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 768, "height": 1024}, has_touch=True, is_mobile=True)
    open_page(page, studio + "/speech")
    page.get_by_role("button", name="Generate").wait_for()
    assert not page.get_by_text("Models", exact=True).is_visible()  # the drawer is folded away
    page.get_by_role("button", name="Menu").tap()
    page.get_by_text("Models", exact=True).tap()
    page.get_by_text("Loaded models", exact=True).wait_for()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 768, "nothing overflows the screen sideways"
    small = page.evaluate("""() => [...document.querySelectorAll('button, .q-btn')]
        .filter(b => b.offsetParent !== null)
        .map(b => b.getBoundingClientRect())
        .filter(r => r.height < 40 || r.width < 40).length""")
    assert small == 0, f"{small} visible buttons are smaller than a fingertip"


def _generate(studio: str, text: str) -> dict:
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(studio + "/api/generate?wait=true", data=body,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_history_and_compare_on_a_tablet(studio: str, browser) -> None:  # type: ignore[no-untyped-def]
    first, second = _generate(studio, "Kept for the tablet."), _generate(studio, "Another one for the tablet.")
    page = browser.new_page(viewport={"width": 768, "height": 1024}, has_touch=True, is_mobile=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_page(page, studio + "/history")
    page.get_by_text("Kept for the tablet.").wait_for(timeout=15_000)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 768, "nothing overflows sideways"
    small = page.evaluate("""() => [...document.querySelectorAll('button, .q-btn')]
        .filter(b => b.offsetParent !== null).map(b => b.getBoundingClientRect())
        .filter(r => r.height < 40 || r.width < 40).length""")
    assert small == 0, f"{small} visible buttons are smaller than a fingertip"
    # the list's players stream from /media/generations and play
    player = page.locator(f'audio[src="/media/generations/{first["id"]}.wav"]')
    player.evaluate("a => a.play()")
    page.wait_for_function(f"""() => {{ const a = document.querySelector('audio[src$="{first["id"]}.wav"]');
        return a && !a.paused && a.currentTime > 0; }}""", timeout=10_000)
    player.evaluate("a => a.pause()")
    search = page.get_by_label("Search text, notes, tags")
    search.fill("another tablet")  # other tests share this studio: search for this test's own items
    page.get_by_text("1 generation", exact=True).wait_for(timeout=5_000)
    search.fill("tablet")
    page.get_by_text("2 generations", exact=True).wait_for(timeout=5_000)
    for item in (first, second):
        page.locator(f".q-card:has(audio[src$='{item['id']}.wav'])").get_by_role("button", name="Compare").tap()
    page.get_by_role("button", name="Compare").first.tap()
    page.locator(".js-plotly-plot").wait_for(timeout=15_000)
    assert page.locator("audio").count() == 2
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 768
    assert not errors
