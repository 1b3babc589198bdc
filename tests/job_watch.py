"""Following a job in tests: poll it to its end and collect the stages it reported on the way."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from engines.contract import Engine, Progress
from studio.jobs import JobInfo
from studio.services import Services


def watch(services: Services, job_id: str, timeout: float = 180) -> tuple[JobInfo, list[str]]:
    """The finished job and the distinct stages seen while it ran (short ones may pass between two polls)."""
    stages: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = services.jobs.get(job_id)
        if current.stage and (not stages or stages[-1] != current.stage):
            stages.append(current.stage)
        if not current.active:
            return current, stages
        time.sleep(0.01)
    raise AssertionError(f"job still {services.jobs.get(job_id).state} after {timeout} s; stages {stages}")


def cancel_at(services: Services, job_id: str, stage: str, timeout: float = 180) -> tuple[JobInfo, list[str]]:
    """Follow the job until it reports a stage containing `stage`, cancel it there, and follow it to its end: the
    ended job and the distinct stages seen, in order (the last ones after the cancel)."""
    stages: list[str] = []
    deadline = time.monotonic() + timeout
    while stage not in (current := services.jobs.get(job_id)).stage:
        if current.stage and (not stages or stages[-1] != current.stage):
            stages.append(current.stage)
        assert current.active, f"the job ended ({current.state}: {current.error}) before {stage!r}; stages {stages}"
        assert time.monotonic() < deadline, f"no stage {stage!r} after {timeout} s; stages {stages}"
        time.sleep(0.005)
    stages.append(current.stage)
    services.jobs.cancel(job_id)
    ended, after = watch(services, job_id, timeout)
    return ended, stages + [s for s in after if s != stages[-1]]


@contextmanager
def stages_reported(engine: Engine) -> Iterator[list[str]]:
    """Every stage `engine` reports while it loads and runs, recorded as it reports them (polling the job can miss a
    short one between two looks)."""
    stages: list[str] = []
    load, run = engine.load, engine.run

    def spy(progress: Progress) -> Progress:
        return Progress(lambda fraction, stage: (stages.append(stage), progress(fraction, stage)),
                        lambda: progress.cancelled)

    engine.load = lambda device, progress, *args, **kwargs: load(device, spy(progress), *args, **kwargs)  # type: ignore[method-assign]
    engine.run = lambda model, request, progress: run(model, request, spy(progress))  # type: ignore[method-assign]
    try:
        yield stages
    finally:
        del engine.load, engine.run
