"""The Models page's weights: download with live progress, cancel, resume, what is on disk, delete."""
from __future__ import annotations

import numpy as np
from nicegui.testing import User

from tests.fake_engines import TINY_BYTES, TINY_REPO
from tests.hub_server import FakeHub

MODEL = np.random.default_rng(1).bytes(TINY_BYTES)


async def test_download_shows_live_progress_cancels_resumes_and_deletes(fake_hub: FakeHub, user: User) -> None:
    fake_hub.add_repo(TINY_REPO, {"config.json": b"{}", "model.bin": MODEL})
    fake_hub.bytes_per_second = 1_000_000
    await user.open("/models")
    with user.scope(marker="engine-test.download"):
        await user.should_see("needs download (3.0 MB)")
        await user.should_see("not downloaded (3.0 MB)")
    user.find(marker="download-test.download-0").click()
    await user.should_see("s left", retries=50)  # "Downloading Needs a download: model.bin · 1.2 MB of 3.0 MB · ..."
    (stage,) = user.find(marker="download-stage-test.download").elements
    assert "model.bin" in stage.text and "of 3.0 MB" in stage.text and "B/s" in stage.text
    user.find(marker="cancel-download-test.download").click()
    await user.should_see("partly downloaded", retries=50)
    await user.should_see(marker="download-test.download-0", retries=50)  # offered again once the job has ended
    fake_hub.bytes_per_second = None
    user.find(marker="download-test.download-0").click()
    await user.should_see("on disk (3.0 MB)", retries=100)
    await user.should_see("Weights on disk: 3.0 MB for 2 engine(s)", retries=20)  # the twin shares the config
    user.find(marker="delete-test.download-0").click()
    user.find(marker="confirm-delete").click()
    await user.should_see("Deleted Tiny model: freed 3.0 MB", retries=50)
    await user.should_see("not downloaded (3.0 MB)", retries=20)
