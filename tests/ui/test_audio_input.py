"""The audio input component: uploads are checked on the server and shown; pickers plug in other sources."""
from __future__ import annotations

from pathlib import Path

from nicegui import ui
from nicegui.testing import user_simulation

from components.audio_input import AudioInputField, Picker
from studio.services import Services
from tests.unit.test_uploads import tone_file


async def test_upload_shows_the_clip_and_refusals_say_why(services: Services, tmp_path: Path) -> None:
    changes: list = []

    def page() -> None:
        AudioInputField(services.uploads, "Reference", min_seconds=2, max_seconds=10, on_change=changes.append)

    async with user_simulation(root=page) as user:
        await user.open("/")
        upload = user.find(marker="audio-input-upload").elements.pop()
        good = tone_file(tmp_path / "voice.wav", seconds=3.0).read_bytes()
        await upload.handle_uploads([ui.upload.SmallFileUpload("voice.wav", "audio/wav", good)])
        await user.should_see("voice.wav · 3.0 s")
        assert changes[-1].duration == 3.0
        short = tone_file(tmp_path / "short.wav", seconds=1.0).read_bytes()
        await upload.handle_uploads([ui.upload.SmallFileUpload("short.wav", "audio/wav", short)])
        await user.should_see("short.wav is 1.0 s long; at least 2 s is needed.")
        await user.should_see("voice.wav · 3.0 s")  # the accepted clip stays
        user.find(marker="audio-input-clear").click()
        await user.should_not_see("voice.wav · 3.0 s")
        assert changes[-1] is None


async def test_a_picker_fills_the_input(services: Services, tmp_path: Path) -> None:
    chosen = services.uploads.store_file(tone_file(tmp_path / "from-history.wav", seconds=2.5))

    async def pick():  # type: ignore[no-untyped-def]
        return chosen

    def page() -> None:
        AudioInputField(services.uploads, "Source", pickers=[Picker("From history", "history", pick)])

    async with user_simulation(root=page) as user:
        await user.open("/")
        user.find("From history").click()
        await user.should_see("from-history.wav · 2.5 s")
