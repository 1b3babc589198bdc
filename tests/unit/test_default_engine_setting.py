"""The default_engine setting is the one default speech engine: /api/generate without an engine, OpenAI's model
names, `amphion-studio generate` without -e (the Speech page: tests/ui/test_speech_page.py). A bad value stops the
studio with the engines it could name."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import soundfile as sf

from studio.cli import main
from studio.settings import Settings, SettingsError
from tests.unit.test_api import client  # noqa: F401  (the API on the test's services)

TONE = "test.tone"  # a speech engine of tests/fake_engines, unlike the usual default


@pytest.fixture(autouse=True)
def tone_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before the studio's services start (the API's `client` builds them)."""
    monkeypatch.setenv("STUDIO_DEFAULT_ENGINE", TONE)


async def test_generate_without_an_engine_uses_the_setting(client: httpx.AsyncClient) -> None:  # noqa: F811
    response = await client.post("/api/generate", json={"text": "A tone, please.", "params": {"seconds": 0.5}})
    assert response.status_code == 202, response.text
    assert response.json()["engine_id"] == TONE


async def test_openai_model_names_stand_for_the_setting(client: httpx.AsyncClient) -> None:  # noqa: F811
    assert (await client.get("/v1/audio/voices")).json()["model"] == TONE
    owners = {m["owned_by"] for m in (await client.get("/v1/models")).json()["data"] if m["id"] == "tts-1"}
    assert owners == {f"amphion-studio ({TONE})"}
    speech = await client.post("/v1/audio/speech", json={"model": "tts-1", "input": "Hi.", "voice": "alloy"})
    assert speech.status_code == 404 and "No voice 'alloy' for Test tone" in speech.json()["detail"]


def test_the_command_line_generates_with_the_setting(tmp_path: Path) -> None:
    out = tmp_path / "tone.wav"
    assert main(["generate", "A tone.", "-o", str(out), "-p", "seconds=0.5"]) == 0
    assert sf.info(str(out)).duration == pytest.approx(0.5)


def test_a_default_engine_that_is_not_a_speech_engine_stops_the_studio(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STUDIO_DEFAULT_ENGINE", "builtin.hibar")
    assert main(["generate", "Hello.", "-o", str(tmp_path / "x.wav")]) == 2
    error = capsys.readouterr().err
    assert "default_engine = 'builtin.hibar' is not a speech engine of this studio: use one of" in error
    assert "builtin.hibari" in error and TONE in error
    monkeypatch.setenv("STUDIO_DEFAULT_ENGINE", "Hibari please")
    with pytest.raises(SettingsError, match="a speech engine's id, such as builtin.hibari"):
        Settings.load()
