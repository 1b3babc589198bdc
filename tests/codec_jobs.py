"""A clip through a codec engine as the Codecs page sends it: a 'codec' conversion job, waited for, its audio read."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from studio.jobs import JobInfo, JobState
from studio.services import Services


def encode_decode(services: Services, source: Path, engine_id: str | None = None, timeout: float = 300,
                  **params: Any) -> tuple[JobInfo, np.ndarray, int]:
    """The finished job, the decoded audio and its sample rate (the job must succeed)."""
    job = services.conversion.submit("codec", {"path": str(source)}, engine_id=engine_id, params=params)
    done = services.jobs.wait(job.id, timeout)
    assert done.state == JobState.succeeded, done.error
    audio, rate = sf.read(str(services.generation.audio_path(done)), dtype="float32")
    return done, audio, rate
