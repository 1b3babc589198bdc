"""The weight manager against a local stand-in for the hub: progress, cancel mid-file, resume, offline, delete."""
from __future__ import annotations

import hashlib
import importlib.resources
import time
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import constants, hf_hub_download, scan_cache_dir

from engines.contract import Cancelled, EngineError, Progress, Weights
from engines.weights import downloads
import engines.weights as weight_manager
from studio.cli import main
from studio.jobs import JobState
from studio.services import Services
from tests.fake_engines import TINY_BYTES, TINY_REPO
from tests.hub_server import FakeHub, silent_endpoint

MODEL = np.random.default_rng(0).bytes(TINY_BYTES)
CONFIG = b'{"hidden": 8}'


@pytest.fixture
def tiny_repo(fake_hub: FakeHub) -> FakeHub:
    fake_hub.add_repo(TINY_REPO, {"config.json": CONFIG, "model.bin": MODEL})
    return fake_hub


def wait_for(condition, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_a_download_job_reports_bytes_speed_and_time_left_and_lands_in_the_standard_cache(
        services: Services, tiny_repo: FakeHub) -> None:
    engine = services.registry.get("test.download")
    assert engine.check().state == "needs_download" and engine.check().label == "needs download (3.0 MB)"
    tiny_repo.bytes_per_second = 4_000_000
    job = services.weights.submit_download("test.download")
    stages = set()

    def seen_progress() -> bool:
        current = services.jobs.get(job.id)
        if current.state == JobState.running and " of " in current.stage:
            stages.add(current.stage)
        return not current.active

    wait_for(seen_progress)
    finished = services.jobs.get(job.id)
    assert finished.state == JobState.succeeded, finished.error
    assert finished.result["downloaded_bytes"] == TINY_BYTES + len(CONFIG)
    assert any("B/s" in s and "left" in s and "model.bin" in s for s in stages), stages
    # exactly where and how huggingface_hub itself would have put it
    path = hf_hub_download(TINY_REPO, "model.bin", local_files_only=True)
    assert hashlib.sha256(Path(path).read_bytes()).digest() == hashlib.sha256(MODEL).digest()
    (repo,) = [r for r in scan_cache_dir(constants.HF_HUB_CACHE).repos if r.repo_id == TINY_REPO]
    assert repo.size_on_disk == TINY_BYTES + len(CONFIG)
    assert engine.check().ready
    usage = services.weights.on_disk()
    assert usage["test.download"] == TINY_BYTES + len(CONFIG)
    assert usage["test.download_twin"] == len(CONFIG)  # the twin's set is that repository's config.json
    assert services.weights.disk_usage() == (TINY_BYTES + len(CONFIG), len(usage))  # what both use, counted once


def test_a_download_cancelled_mid_file_keeps_its_bytes_and_resumes_with_a_range_request(
        services: Services, tiny_repo: FakeHub) -> None:
    tiny_repo.bytes_per_second = 1_500_000
    job = services.weights.submit_download("test.download")
    wait_for(lambda: services.jobs.get(job.id).progress > 0.25)
    services.jobs.cancel(job.id)
    assert services.jobs.wait(job.id, 30).state == JobState.cancelled
    (found,) = services.weights.status("test.download")[:1]
    assert found.status == "partial" and 0.25 * TINY_BYTES < found.bytes_on_disk < TINY_BYTES
    readiness = services.registry.get("test.download").check()
    assert readiness.state == "needs_download" and "partly downloaded; it resumes" in readiness.message

    kept = found.bytes_on_disk - len(CONFIG)  # the config arrived whole before the cancel
    tiny_repo.bytes_per_second = None
    tiny_repo.requests.clear()
    again = services.jobs.wait(services.weights.submit_download("test.download").id, 30)
    assert again.state == JobState.succeeded, again.error
    assert again.result["downloaded_bytes"] == TINY_BYTES - kept
    ranges = [r for method, path, r in tiny_repo.requests if method == "GET" and path.endswith("model.bin")]
    assert ranges == [f"bytes={kept}-"]
    assert Path(hf_hub_download(TINY_REPO, "model.bin", local_files_only=True)).read_bytes() == MODEL


def test_a_stop_between_two_files_still_reads_as_partly_downloaded(tiny_repo: FakeHub) -> None:
    engine_weights = Weights("hub", TINY_REPO, size_bytes=TINY_BYTES)
    calls = []

    def cancel_after_first_file(fraction: float | None, stage: str) -> None:
        calls.append(stage)
        if "config.json" in stage:
            raise Cancelled()

    with pytest.raises(Cancelled):
        weight_manager.download([engine_weights], Progress(cancel_after_first_file))
    assert weight_manager.state(engine_weights).status == "partial"


def test_offline_and_not_cached_says_so_at_once(services: Services) -> None:
    job = services.jobs.wait(services.weights.submit_download("test.download").id, 10)
    assert job.state == JobState.failed
    assert job.error.startswith("Tiny model (3.0 MB) is not on this machine, and the studio is offline")


def test_an_unreachable_hub_fails_with_a_plain_message_instead_of_hanging(
        services: Services, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "READ_TIMEOUT", 1.0)
    with silent_endpoint() as url:
        monkeypatch.setattr(constants, "ENDPOINT", url)
        job = services.jobs.wait(services.weights.submit_download("test.download").id, 30)
    assert job.state == JobState.failed
    assert f"Could not reach {url} to download Tiny model (3.0 MB): no answer in time" in job.error


def test_weights_on_disk_work_offline_and_delete_frees_them(
        services: Services, tiny_repo: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    assert services.jobs.wait(services.weights.submit_download("test.download").id, 30).state == JobState.succeeded
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    tiny_repo.repos.clear()  # nothing left to fetch: the job must run from the cache
    job = services.jobs.wait(services.generation.submit("test.download", {}, {}).id, 30)
    assert job.state == JobState.succeeded and job.result["extras"]["weights_bytes"] == TINY_BYTES

    services.models.unload_all()
    report = services.weights.delete("test.download")
    assert report.freed == TINY_BYTES + len(CONFIG)
    assert report.shared_with == ("Shares a download",)
    assert "Also used by Shares a download" in report.message
    assert not weight_manager.repo_dir(TINY_REPO).exists()
    assert services.registry.get("test.download").check().state == "needs_download"


def test_deleting_one_file_set_keeps_the_files_another_set_of_the_repository_uses(tiny_repo: FakeHub) -> None:
    everything = Weights("hub", TINY_REPO, label="all")
    config_only = Weights("hub", TINY_REPO, files=("config.json",), label="config")
    weight_manager.download([everything], Progress())
    weights_only = Weights("hub", TINY_REPO, files=("*.bin",), label="weights")
    assert weight_manager.delete(weights_only) == TINY_BYTES
    assert weight_manager.state(config_only).status == "present"
    assert weight_manager.state(weights_only).status == "missing"
    assert not Path(hf_hub_download(TINY_REPO, "config.json", local_files_only=True)).read_bytes() == MODEL


def test_a_variant_downloads_on_first_use_inside_the_generation_job(services: Services, fake_hub: FakeHub) -> None:
    fake_hub.add_repo(TINY_REPO + "-large", {"config.json": CONFIG, "model.bin": MODEL, "model_2.bin": MODEL,
                                             "README.md": b"not needed"})
    job = services.jobs.wait(services.generation.submit("test.download", {}, {"variant": "large"}).id, 30)
    assert job.state == JobState.succeeded, job.error
    assert job.result["extras"]["weights_bytes"] == 2 * TINY_BYTES
    snapshot = weight_manager.locate(services.registry.get("test.download").weights[1])
    assert sorted(p.name for p in snapshot.iterdir()) == ["config.json", "model.bin", "model_2.bin"]


@pytest.mark.parametrize(("cache", "path", "where"), [
    ("torch", "hub/checkpoints/hubert.pth", "torch/hub/checkpoints/hubert.pth"),  # TORCH_HOME, as torch.hub
    ("whisper", "medium.pt", "xdg/whisper/medium.pt"),  # XDG_CACHE_HOME/whisper, as openai-whisper
])
def test_files_other_libraries_fetch_land_where_those_libraries_look(
        fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: str, path: str, where: str) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    fake_hub.files["model.pt"] = MODEL
    extra = Weights("url", url=f"{fake_hub.url}/files/model.pt", path=path, cache=cache, size_bytes=TINY_BYTES,
                    label="Extra model")
    assert weight_manager.state(extra).status == "missing"
    found = weight_manager.ensure(extra, Progress())
    assert found == tmp_path / where and found.read_bytes() == MODEL
    assert weight_manager.delete(extra) == TINY_BYTES and not found.exists()


def test_hibari_fetches_an_extra_voice_through_the_weight_manager(services: Services, fake_hub: FakeHub) -> None:
    voice = Path(str(importlib.resources.files("hibari") / "assets" / "hibari.onnx")).read_bytes()
    fake_hub.add_repo("maureesewilliams/hibari", {"voices/bf_emma.int8.onnx": voice, "voices/am_fenrir_v2.int8.onnx":
                                                  b"another voice", "README.md": b"voices"})
    assert services.registry.get("builtin.hibari").check().ready  # the default voice needs nothing
    job = services.jobs.wait(services.generation.submit("builtin.hibari", {"text": "Good evening."},
                                                        {"voice": "emma", "seed": 2}).id, 60)
    assert job.state == JobState.succeeded, job.error
    assert job.result["duration"] > 0.5
    states = {s.weights.title: s.status for s in services.weights.status("builtin.hibari")}
    assert states["Voice emma"] == "present" and states["Voice fenrir"] == "missing"


def test_cli_download_and_delete(tiny_repo: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", "test.download"]) == 0
    out = capsys.readouterr().out
    assert "Downloading Needs a download" in out and "3.0 MB downloaded; ready: ready." in out
    assert main(["download", "test.download"]) == 0
    assert "already on disk" in capsys.readouterr().out
    assert main(["download", "test.download", "-p", "variant=huge"]) == 1
    assert "huge" in capsys.readouterr().err
    assert main(["delete", "test.download"]) == 0
    assert "freed 3.0 MB" in capsys.readouterr().out


def test_api_lists_downloads_and_deletes(services: Services, tiny_repo: FakeHub) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from studio.api.weights import build_router

    app = FastAPI()
    app.include_router(build_router(services))
    client = TestClient(app)
    assert client.get("/api/weights/test.download").json()[0]["status"] == "missing"
    tiny_repo.bytes_per_second = 2_000_000
    job = client.post("/api/weights/test.download/download", json={"params": {"variant": "small"}}).json()
    live = wait_for(lambda: client.get("/api/weights").json()["downloads"].get(job["id"], {}).get("done"))
    assert live > 0 and client.get("/api/weights").json()["downloads"][job["id"]]["total"] == TINY_BYTES + len(CONFIG)
    assert services.jobs.wait(job["id"], 30).state == JobState.succeeded
    assert client.get("/api/weights").json()["downloads"] == {}
    assert client.get("/api/weights").json()["engines"]["test.download"] == TINY_BYTES + len(CONFIG)
    assert client.post("/api/weights/test.download/download", json={}).status_code == 409
    assert client.post("/api/weights/test.download/download", json={"params": {"nope": 1}}).status_code == 400
    assert client.delete("/api/weights/test.download").json()["freed"] == TINY_BYTES + len(CONFIG)
    assert client.get("/api/weights/nope").status_code == 404


def test_readiness_of_a_missing_download_names_size_and_command() -> None:
    from engines.registry import Registry

    readiness = Registry(extra_packages=["tests.fake_engines"]).get("test.download").check()
    assert readiness.hints == ("amphion-studio download test.download", "or press Download on the Models page")
    assert readiness.download_bytes == TINY_BYTES and "Tiny model (3.0 MB)" in readiness.message
    with pytest.raises(EngineError, match="offline"):
        weight_manager.ensure(Weights("hub", TINY_REPO, label="Tiny model"), Progress())
