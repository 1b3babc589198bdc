"""The studio as systemd runs it: SIGTERM stops it cleanly, and the job it was running is recorded as cancelled."""
from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

from studio.db import open_database
from studio.jobs import JobQueue, JobState
from tests.live_server import start_studio


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_sigterm_cancels_the_running_job_records_it_and_exits(tmp_path: Path) -> None:
    process, base = start_studio(tmp_path / "home", STUDIO_ENGINE_PACKAGES="tests.fake_engines")
    try:
        job = _post(base + "/api/generate", {"engine": "test.tone", "text": "long",
                                             "params": {"steps": 1000, "step_seconds": 0.05}})
        for _ in range(100):
            with urllib.request.urlopen(f"{base}/api/jobs/{job['id']}") as response:
                if json.loads(response.read())["state"] == "running":
                    break
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal: systemd counts that as a clean stop
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
    queue = JobQueue(open_database(tmp_path / "home" / "studio.db"))
    stopped = queue.get(job["id"])
    assert stopped.state == JobState.cancelled
    assert stopped.error == "The studio was stopped while this job ran. Retry it."
