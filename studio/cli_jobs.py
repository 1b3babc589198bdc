"""One job from the shell: start the studio's services, submit, wait, show the result; messages, not tracebacks."""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from .settings import Settings

if TYPE_CHECKING:
    from .jobs import JobInfo
    from .services import Services


def run_job(settings: Settings, submit: Callable[[Services], JobInfo], show: Callable[[Services, JobInfo], None],
            timeout: float) -> int:
    """0 when the job succeeded and `show` printed it, 1 when the job failed, 2 for input refused before or after."""
    from engines.contract import EngineError

    from .services import build_services

    services = build_services(settings)
    services.jobs.start()
    try:
        job = services.jobs.wait(submit(services).id, timeout=timeout)
        if job.error:
            print(f"amphion-studio: {job.error}", file=sys.stderr)
            return 1
        show(services, job)
        return 0
    except (EngineError, ValueError) as exc:
        print(f"amphion-studio: {exc}", file=sys.stderr)
        return 2
    finally:
        services.stop()
