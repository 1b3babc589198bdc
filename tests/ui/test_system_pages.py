"""The shell, the Models page and the Jobs page with NiceGUI's User fixture."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from nicegui import app, ui
from nicegui.testing import User
from sqlmodel import Session

from engines.requirements import format_bytes
from studio.db import open_database
from studio.jobs.table import Job, JobState
from studio.model_manager import AUTO_BUDGET_FRACTION
from studio.services import Services, build_services
from studio.settings import Settings


async def test_navigation_groups_and_dark_mode_is_remembered(user: User) -> None:
    await user.open("/")
    for label in ("Create", "System"):
        await user.should_see(label)
    user.find(marker="nav-Models").click()
    await user.should_see("Loaded models")
    user.find(marker="nav-Jobs").click()
    await user.should_see("No jobs yet")
    user.find(marker="dark-toggle").click()
    assert app.storage.user["dark"] is True
    await user.open("/speech")
    (dark,) = user.find(ui.dark_mode).elements
    assert dark.value is True


async def test_models_page_lists_readiness_loads_pins_and_unloads(user: User) -> None:
    await user.open("/models")
    with user.scope(marker="engine-builtin.hibari"):
        await user.should_see("ready")
        await user.should_see("Apache-2.0")
    with user.scope(marker="engine-test.missing"):
        await user.should_see("missing dependency")
        await user.should_see("pip install no-such-package")
        (load,) = user.find(marker="load-test.missing").elements
        assert not load.enabled
    await user.should_see("No model is loaded")
    user.find(marker="load-test.hog").click()
    await user.should_see("test.hog[megabytes=64]", retries=60)
    await user.should_see(marker="memory-chart")
    (models_memory,) = user.find(marker="models-memory").elements
    assert models_memory.text.startswith("Models: ") and " MB of a " in models_memory.text
    user.find(marker="pin-test.hog").click()
    await user.should_see(marker="loaded-test.hog")
    user.find(marker="unload-test.hog").click()
    await user.should_see("Unloaded test.hog[megabytes=64]: freed", retries=30)
    await user.should_see("No model is loaded", retries=30)


async def test_unload_all_empties_the_models_page_and_reports_what_was_freed(user: User) -> None:
    await user.open("/models")
    user.find(marker="load-test.hog").click()
    await user.should_see(marker="loaded-test.hog", retries=60)
    user.find(marker="load-test.tone").click()
    await user.should_see(marker="loaded-test.tone", retries=60)
    user.find(marker="unload-all").click()
    await user.should_see("Unloaded test.hog[megabytes=64]: freed", retries=30)
    await user.should_see("Unloaded test.tone: freed")
    await user.should_see("No model is loaded", retries=30)
    await user.should_not_see(marker="loaded-test.hog")
    (models_memory,) = user.find(marker="models-memory").elements
    assert models_memory.text.startswith("Models: 0 B of a ")


async def test_the_header_gauge_shows_the_loaded_models_against_the_budget(user: User) -> None:
    await user.open("/models")
    budget = format_bytes(int(psutil.virtual_memory().total * AUTO_BUDGET_FRACTION))
    (gauge,) = user.find(marker="memory-gauge-text").elements
    assert gauge.text == f"0 B / {budget}"
    user.find(marker="load-test.hog").click()  # a 64 MB torch layer
    await user.should_see(marker="loaded-test.hog", retries=60)
    for _ in range(40):  # the gauge polls every 2 s
        if not gauge.text.startswith("0 B"):
            break
        await asyncio.sleep(0.1)
    models, shown_budget = gauge.text.split(" / ")
    assert models.endswith(" MB") and 60 <= float(models.removesuffix(" MB")) <= 80, gauge.text
    assert shown_budget == budget


async def test_the_budget_is_applied_and_saved(user: User, studio_home: Path) -> None:
    await user.open("/models")
    user.find("Automatic budget (85 % of the device)").click()
    user.find(marker="budget-input").type("12")
    user.find(marker="apply-budget").click()
    await user.should_see("Budget set to 12 GB")
    assert 'memory_budget_gb = 12' in (studio_home / "config.toml").read_text()


@pytest.fixture
def crashed_job(studio_home: Path) -> str:
    """What a crash leaves in the database before the studio starts again: a row still marked running."""
    with Session(open_database(studio_home / "studio.db")) as session:
        session.add(Job(id="crashed00001", kind="generate", task="tts", engine_id="builtin.hibari",
                        title="Hibari: Before the power cut.", state=JobState.running.value, created_at=time.time(),
                        payload={"engine_id": "builtin.hibari", "inputs": {"text": "Before the power cut."},
                                 "params": {"voice": "heart", "speed": 1.0, "seed": 3}}))
        session.commit()
    return "crashed00001"


async def test_jobs_page_offers_rerun_of_a_job_interrupted_by_a_crash(crashed_job: str, user: User) -> None:
    await user.open("/jobs")  # the studio started on this database: the job is now interrupted
    await user.should_see("interrupted")
    await user.should_see("The studio stopped while this job was running")
    user.find(marker="retry-crashed00001").click()
    await user.should_see("succeeded", retries=100)
    await user.open("/speech")
    await user.should_see(marker="result-card", retries=100)
    await user.should_see("Hibari: Before the power cut.")


@pytest.fixture
def submitter(studio_home: Path) -> Iterator[Services]:
    """Services on the studio's database that queue jobs without running them: the studio's own worker runs them."""
    services = build_services(Settings.load())
    yield services
    services.stop()


async def test_a_running_jobs_cancel_button_stays_put_while_its_progress_moves(user: User,
                                                                               submitter: Services) -> None:
    await user.open("/jobs")
    job = submitter.generation.submit("test.tone", {"text": "Slowly, please."}, {"steps": 200, "step_seconds": 0.05})
    await user.should_see(marker=f"progress-{job.id}", retries=50)  # running (from queued, the card is rebuilt)
    (cancel,) = user.find(marker=f"cancel-{job.id}").elements
    shown = set()
    for _ in range(100):
        (progress,) = user.find(marker=f"progress-{job.id}").elements
        shown.add(progress.text)
        if len(shown) >= 3:
            break
        await asyncio.sleep(0.1)
    assert len(shown) >= 3, f"progress did not move: {shown}"
    assert user.find(marker=f"cancel-{job.id}").elements == {cancel}  # the same button, not a rebuilt one
    user.find(marker=f"cancel-{job.id}").click()
    await user.should_see(marker="job-state-cancelled", retries=50)
