"""Pages, the API and the studio's own files while an Amphion job works inside the checkout (AMPHION_ROOT)."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from nicegui.testing import User

from tests.conftest import amphion_checkout


@pytest.fixture
def amphion(monkeypatch: pytest.MonkeyPatch) -> Path:
    root = amphion_checkout()
    monkeypatch.setenv("AMPHION_ROOT", str(root))
    return root


async def test_pages_and_api_serve_while_an_amphion_job_works_in_the_checkout(
        amphion: Path, studio_home: Path, user: User) -> None:
    here = os.getcwd()
    client = user.http_client
    response = await client.post("/api/generate", json={"engine": "test.amphion_probe", "params": {"hold_seconds": 3}})
    job_id = response.json()["id"]
    for _ in range(100):  # until the job is inside its Amphion session
        if (await client.get(f"/api/jobs/{job_id}")).json()["stage"] == "Inside the Amphion session":
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the probe never entered its session")
    assert os.getcwd() == here
    await user.open("/models")  # a page renders meanwhile
    await user.should_see("Loaded models")
    health = (await client.get("/api/health")).json()
    assert health["jobs"]["running"] == 1
    for _ in range(200):
        job = (await client.get(f"/api/jobs/{job_id}")).json()
        if job["state"] != "running":
            break
        await asyncio.sleep(0.05)
    assert job["state"] == "succeeded", job["error"]
    extras = job["result"]["extras"]
    assert extras["cwd"] == str(amphion) and extras["config_chars"] > 1000  # the relative open found the checkout
    assert extras["cwd_after"] == here
    assert (studio_home / job["result"]["audio"]).is_file()  # the studio wrote where it always writes
