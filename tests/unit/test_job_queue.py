"""The job queue: ordering, cancellation, failure and retry, and a real crash-and-restart on one database."""
from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.db import open_database
from studio.jobs import BATCH, INTERACTIVE, JobContext, JobQueue, JobState

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[JobQueue]:
    q = JobQueue(open_database(tmp_path / "jobs.db"))
    yield q
    q.stop()


def test_jobs_run_one_at_a_time_interactive_before_batch_then_in_order(queue: JobQueue) -> None:
    gate = threading.Event()
    order: list[str] = []
    active = [0]
    overlap = [False]

    def handler(ctx: JobContext) -> dict:
        active[0] += 1
        overlap[0] |= active[0] > 1
        if ctx.payload["name"] == "first":
            gate.wait(10)
        order.append(ctx.payload["name"])
        active[0] -= 1
        return {}

    queue.register("t", handler)
    queue.start()
    first = queue.submit("t", {"name": "first"})
    deadline = time.monotonic() + 10
    while queue.get(first.id).state != JobState.running:  # the others are queued while it holds the worker
        assert time.monotonic() < deadline, "the first job never started"
        time.sleep(0.01)
    batch_a = queue.submit("t", {"name": "batch a"}, priority=BATCH)
    batch_b = queue.submit("t", {"name": "batch b"}, priority=BATCH)
    urgent = queue.submit("t", {"name": "urgent"}, priority=INTERACTIVE)
    gate.set()
    for job in (first, batch_a, batch_b, urgent):
        assert queue.wait(job.id, 10).state == JobState.succeeded
    assert order == ["first", "urgent", "batch a", "batch b"]
    assert not overlap[0]


def test_cancel_while_running_stops_the_job_at_its_next_progress_report(queue: JobQueue) -> None:
    steps_done = [0]

    def handler(ctx: JobContext) -> dict:
        for i in range(1000):
            ctx.progress(i / 1000, f"step {i}")
            steps_done[0] += 1
            time.sleep(0.005)
        return {}

    queue.register("slow", handler)
    queue.start()
    job = queue.submit("slow", {})
    while (queue.get(job.id).progress or 0) < 0.01:
        time.sleep(0.01)
    assert queue.get(job.id).state == JobState.running
    assert queue.cancel(job.id)
    ended = queue.wait(job.id, 5)
    assert ended.state == JobState.cancelled and ended.error == "Cancelled."
    assert steps_done[0] < 1000
    assert not queue.cancel(job.id)  # already ended


def test_cancel_a_queued_job_means_it_never_runs(queue: JobQueue) -> None:
    ran: list[str] = []
    gate = threading.Event()
    queue.register("t", lambda ctx: (gate.wait(10) if ctx.payload["n"] == 1 else None, ran.append(ctx.payload["n"]))
                   and {})
    queue.start()
    blocker = queue.submit("t", {"n": 1})
    waiting = queue.submit("t", {"n": 2})
    assert queue.cancel(waiting.id)
    gate.set()
    queue.wait(blocker.id, 10)
    assert queue.get(waiting.id).state == JobState.cancelled
    assert ran == [1]


def test_failure_keeps_a_readable_message_and_retry_reruns_the_same_inputs(
        queue: JobQueue, caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[dict] = []

    def flaky(ctx: JobContext) -> dict:
        attempts.append(dict(ctx.payload))
        if len(attempts) == 1:
            raise ValueError("the reference clip is 0.2 s long\nsecond line of detail")
        return {"ok": True}

    queue.register("flaky", flaky)
    queue.start()
    with caplog.at_level(logging.ERROR):
        failed = queue.wait(queue.submit("flaky", {"text": "hello", "seed": 7}).id, 5)
    assert failed.state == JobState.failed
    assert failed.error.startswith("Unexpected error (ValueError: the reference clip is 0.2 s long)")
    assert "Traceback" not in failed.error and "second line" not in failed.error
    assert "Traceback" in caplog.text  # the full report went to the log
    retried = queue.wait(queue.retry(failed.id).id, 5)
    assert retried.state == JobState.succeeded and retried.retry_of == failed.id
    assert attempts[0] == attempts[1] == {"text": "hello", "seed": 7}


def test_a_second_reader_sees_live_progress_of_the_running_job(queue: JobQueue) -> None:
    release = threading.Event()

    def handler(ctx: JobContext) -> dict:
        ctx.progress(0.42, "Synthesising")
        release.wait(10)
        return {}

    queue.register("t", handler)
    queue.start()
    job = queue.submit("t", {})
    seen = {}

    def other_tab() -> None:
        for _ in range(500):
            info = queue.get(job.id)
            if info.stage == "Synthesising":
                seen["job"] = info
                return
            time.sleep(0.01)

    reader = threading.Thread(target=other_tab)
    reader.start()
    reader.join(10)
    release.set()
    assert seen["job"].progress == pytest.approx(0.42) and seen["job"].state == JobState.running
    assert queue.counts()["running"] == 1 or queue.wait(job.id).state == JobState.succeeded


def test_stopping_the_studio_cancels_the_running_job_and_records_why(tmp_path: Path) -> None:
    queue = JobQueue(open_database(tmp_path / "jobs.db"))

    def handler(ctx: JobContext) -> dict:
        while True:
            ctx.progress(None, "working")
            time.sleep(0.01)

    queue.register("forever", handler)
    queue.start()
    job = queue.submit("forever", {})
    while queue.running() is None:
        time.sleep(0.01)
    assert queue.stop(timeout=5)
    ended = queue.get(job.id)
    assert ended.state == JobState.cancelled
    assert "studio was stopped" in ended.error


CRASHING_PROCESS = textwrap.dedent("""
    import os, sys, time
    from studio.db import open_database
    from studio.jobs import JobQueue
    from pathlib import Path
    queue = JobQueue(open_database(Path(sys.argv[1])))
    def handler(ctx):
        ctx.progress(0.3, "halfway through something long")
        print("RUNNING", ctx.job.id, flush=True)
        time.sleep(3600)
    queue.register("long", handler)
    queue.start()
    queue.submit("long", {"text": "keep me"})
    queue.submit("long", {"text": "I was still waiting"})
    time.sleep(3600)
""")


def test_a_job_running_when_the_process_died_is_interrupted_after_restart_and_can_be_rerun(tmp_path: Path) -> None:
    db_path = tmp_path / "jobs.db"
    process = subprocess.Popen([sys.executable, "-c", CRASHING_PROCESS, str(db_path)], cwd=REPO,
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("RUNNING"), line
    finally:
        process.kill()  # the process dies without any chance to clean up
        process.wait()
    crashed_id = line.split()[1]

    queue = JobQueue(open_database(db_path))
    ran: list[str] = []
    queue.register("long", lambda ctx: ran.append(ctx.payload["text"]) or {"done": True})
    queue.start()
    try:
        crashed = queue.get(crashed_id)
        assert crashed.state == JobState.interrupted
        assert "stopped while this job was running" in crashed.error
        rerun = queue.wait(queue.retry(crashed_id).id, 10)
        assert rerun.state == JobState.succeeded and rerun.payload == {"text": "keep me"}
        assert "I was still waiting" in ran  # the job that was queued at the crash still runs
    finally:
        queue.stop()


def test_retrying_a_job_that_has_not_ended_is_refused(queue: JobQueue) -> None:
    gate = threading.Event()
    queue.register("t", lambda ctx: gate.wait(10) and {})
    queue.start()
    job = queue.submit("t", {})
    with pytest.raises(ValueError, match="has not ended"):
        queue.retry(job.id)
    gate.set()
    queue.wait(job.id)


def test_a_job_queued_while_the_worker_looks_does_not_start_before_it_was_queued(tmp_path: Path) -> None:
    """The worker looks for work while another connection is queueing a job (it holds the write lock): the job it
    then finds starts after it was queued, so its wall time holds nothing of the submitter's work."""
    queue = JobQueue(open_database(tmp_path / "jobs.db"))
    queue.register("t", lambda ctx: {})
    queue.start()
    submitter = sqlite3.connect(tmp_path / "jobs.db", timeout=30)
    try:
        submitter.execute("BEGIN IMMEDIATE")
        queue._wake.set()  # the worker looks now, and waits for the lock
        time.sleep(0.2)
        queued_at = time.time()
        submitter.execute("INSERT INTO jobs (id, kind, title, payload, state, priority, progress, stage, created_at) "
                          "VALUES ('j1', 't', '', '{}', 'queued', 0, 0.0, '', ?)", (queued_at,))
        submitter.commit()
        job = queue.wait("j1", 10)
    finally:
        submitter.close()
        queue.stop()
    assert job.state == JobState.succeeded
    assert job.started_at >= queued_at, f"started {queued_at - job.started_at:.3f} s before it was queued"
