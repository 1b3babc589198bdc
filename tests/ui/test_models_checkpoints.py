"""The Models page's checkpoints of your own: add one from an archive (refused in words when the engine cannot
use it), see it listed, remove it."""
from __future__ import annotations

from pathlib import Path

from nicegui import ui
from nicegui.testing import User

from tests.unit.test_checkpoints import experiment, zipped


async def test_a_checkpoint_archive_is_added_listed_and_removed(user: User, tmp_path: Path) -> None:
    await user.open("/models")
    with user.scope(marker="checkpoints-amphion.vits_svc"):
        await user.should_see("None yet.")
    upload = user.find(marker="checkpoint-upload-amphion.vits_svc").elements.pop()
    wrong = zipped(experiment(tmp_path / "como", model_type="DiffComoSVC"), tmp_path / "como.zip", prefix="como")
    await upload.handle_uploads([ui.upload.SmallFileUpload("como.zip", "application/zip", wrong.read_bytes())])
    await user.should_see("como is a DiffComoSVC checkpoint, not VitsSVC.")
    good = zipped(experiment(tmp_path / "tenor"), tmp_path / "tenor.zip", prefix="tenor")
    await upload.handle_uploads([ui.upload.SmallFileUpload("tenor.zip", "application/zip", good.read_bytes())])
    await user.should_see("Added tenor to VitsSVC.")
    with user.scope(marker="checkpoints-amphion.vits_svc"):
        await user.should_see("tenor")
    user.find(marker="remove-checkpoint-tenor").click()
    await user.should_see(marker="confirm-remove")
    user.find(marker="confirm-remove").click()
    await user.should_see("Removed tenor", retries=20)
    with user.scope(marker="checkpoints-amphion.vits_svc"):
        await user.should_see("None yet.")
