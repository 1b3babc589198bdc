"""The speech page with NiceGUI's User fixture, on the real default engine."""
from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from tests.conftest import SENTENCE

RESULT_WAIT = 150  # retries of 0.1 s


async def generate(user: User, text: str) -> None:
    user.find(marker="speech-text").type(text)
    user.find(marker="generate").click()


async def test_typing_and_generating_shows_a_result_card_with_player_and_downloads(user: User) -> None:
    await user.open("/")
    await user.should_see("Speech")
    await user.should_see("Hibari · ready")
    await generate(user, SENTENCE)
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    with user.scope(marker="result-card"):
        (player,) = user.find(ui.audio).elements
        assert player.props["src"].startswith("/media/generations/") and player.props["src"].endswith(".wav")
        for fmt in ("WAV", "MP3", "FLAC", "OGG"):
            await user.should_see(fmt)
    (download,) = user.find(marker="download-mp3").elements
    assert "format=mp3" in download.props["href"]
    await user.should_see(marker="result-plot", retries=RESULT_WAIT)
    await user.should_see("succeeded")


async def test_the_character_count_follows_the_text_and_warns_past_the_limit(user: User) -> None:
    await user.open("/speech")
    user.find(marker="speech-text").type("Hello")
    await user.should_see("5 / 20,000 characters")
    user.find(marker="speech-text").clear().type("x" * 20_001)
    await user.should_see("20,001 / 20,000 characters")
    user.find(marker="generate").click()
    await user.should_see("20,001 characters is more than this engine takes at once")


async def test_empty_text_gets_a_message_and_no_job(user: User) -> None:
    await user.open("/speech")
    user.find(marker="generate").click()
    await user.should_see("Text: enter some text first.")
    await user.should_not_see(marker="result-card")


async def test_an_engine_that_is_not_ready_says_how_to_fix_it(user: User) -> None:
    await user.open("/speech")
    user.find(marker="engine-picker").click()
    user.find("Needs a missing module · missing dependency").click()
    await user.should_see("pip install no-such-package")
    user.find(marker="speech-text").type("hello")
    user.find(marker="generate").click()
    await user.should_see("Needs a missing module is not ready")


async def test_progress_is_live_and_cancel_stops_the_job(user: User) -> None:
    await user.open("/speech")
    user.find(marker="engine-picker").click()
    user.find("Test tone · ready").click()
    user.find("Advanced (2)").click()
    await user.should_see(marker="param-steps")
    with user.scope(marker="param-steps"):
        user.find(ui.number).type("600")
    await generate(user, "a slow one")
    await user.should_see("% · Step ", retries=50)
    user.find(marker="cancel-job").click()
    await user.should_see("Cancelled.", retries=50)
    await user.should_see("cancelled")
    user.find(marker="retry-job").click()
    await user.should_see("% · Step ", retries=50)
    await user.should_see(marker="job-indicator", retries=20)


async def test_a_failed_job_shows_what_went_wrong_and_can_be_retried(user: User) -> None:
    await user.open("/speech")
    await generate(user, "ᴀ ɐ")  # Latin letters pass the check before queueing; the model reads neither
    await user.should_see("Nothing in the text can be spoken", retries=RESULT_WAIT)
    await user.should_see("failed")
    await user.should_see(marker="retry-job")


async def refused_before_queueing(user: User, *messages: str) -> None:
    """The page says each message, and no job was queued."""
    for message in messages:
        await user.should_see(message)
    await user.open("/jobs")
    await user.should_see("No jobs yet.")


async def test_text_with_nothing_to_speak_is_refused_before_a_job_is_queued(user: User) -> None:
    await user.open("/speech")
    await generate(user, "🙂🎉")
    await refused_before_queueing(
        user, "Nothing in the text can be spoken: Hibari reads English words and numbers, not 🙂, 🎉.")


async def test_a_voice_that_cannot_be_downloaded_offline_is_refused_with_the_command(user: User) -> None:
    await user.open("/speech")
    with user.scope(marker="param-voice"):
        user.find(ui.select).elements.pop().set_value("emma")
    await generate(user, "Hello there.")
    await refused_before_queueing(user, "Voice emma (7.9 MB), which is not on this machine, and the studio is offline",
                                  "`amphion-studio download builtin.hibari -p voice=emma`")


async def test_reset_to_defaults_and_reusing_a_seed(user: User) -> None:
    await user.open("/speech")
    with user.scope(marker="param-seed"):
        user.find(ui.number).type("123")
    await generate(user, "Seeds are kept.")
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    user.find("Parameters and details").click()
    await user.should_see("Use seed 123 again")
    user.find(marker="reset-params").click()
    with user.scope(marker="param-seed"):
        (seed,) = user.find(ui.number).elements
        assert seed.value is None  # random again
    user.find(marker="reuse-seed").click()
    with user.scope(marker="param-seed"):
        assert user.find(ui.number).elements.pop().value == 123


async def test_ctrl_enter_generates_and_question_mark_lists_the_shortcuts(user: User) -> None:
    await user.open("/speech")
    user.find(marker="speech-text").type("Keyboard driven.")
    user.find(marker="keyboard-run").trigger("key", {"action": "keydown", "key": "Enter", "code": "Enter",
                                                     "ctrlKey": True, "shiftKey": False, "altKey": False,
                                                     "metaKey": False, "repeat": False, "location": 0})
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    user.find(marker="keyboard").trigger("key", {"action": "keydown", "key": "?", "code": "Slash", "ctrlKey": False,
                                                 "shiftKey": True, "altKey": False, "metaKey": False,
                                                 "repeat": False, "location": 0})
    await user.should_see(marker="shortcut-help")
    await user.should_see("Play or pause the current result")


async def test_a_second_tab_sees_the_same_job_and_result(user: User, create_user) -> None:  # type: ignore[no-untyped-def]
    await user.open("/speech")
    await generate(user, "Two tabs, one studio.")
    await user.should_see(marker="result-card", retries=RESULT_WAIT)
    other: User = create_user()
    await other.open("/speech")
    await other.should_see("Two tabs, one studio.", retries=RESULT_WAIT)
    await other.should_see(marker="result-card", retries=RESULT_WAIT)


async def test_the_draft_survives_a_reload(user: User) -> None:
    await user.open("/speech")
    user.find(marker="speech-text").type("Do not lose me.")
    await user.open("/speech")
    assert user.find(marker="speech-text").elements.pop().value == "Do not lose me."


@pytest.fixture
def tone_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_DEFAULT_ENGINE", "test.tone")


async def test_the_picker_starts_on_the_default_engine_setting_then_keeps_the_users_choice(
        tone_by_default: None, user: User) -> None:
    await user.open("/speech")
    await user.should_see("Test tone · ready")
    user.find(marker="engine-picker").click()
    user.find("Hibari · ready").click()
    await user.open("/speech")
    await user.should_see("Hibari · ready")
    await user.should_not_see("Test tone · ready")
