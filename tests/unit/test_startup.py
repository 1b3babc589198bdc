"""Start-up stays light: on a machine without a GPU, starting the studio and speaking with the default engine never
imports torch (about 4 s and 500 MB), and the memory reports still name the device."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio import memory

REPO = Path(__file__).resolve().parents[2]
STUDIO_SESSION = """
import json, sys, time
from studio.services import build_services
from studio.settings import Settings
from tests.job_watch import watch

services = build_services(Settings.load())
services.start()
while not services.models.history:  # the memory sampler has run
    time.sleep(0.05)
sampled = "torch" in sys.modules
job, _ = watch(services, services.generation.submit("builtin.hibari", {"text": "Hello."}, {"seed": 1}).id, 60)
print(json.dumps({"torch_at_start": sampled, "torch_after_speaking": "torch" in sys.modules, "job": job.state.value,
                  "device": services.models.snapshot().device.device, "loaded_on": services.models.models()[0].device}))
services.stop()
"""


@pytest.mark.skipif(memory.gpu_present(), reason="this machine has a GPU, so 'auto' rightly asks torch")
def test_starting_and_speaking_with_the_default_engine_never_imports_torch(studio_home: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "STUDIO_DEVICE": "auto", "HF_HUB_OFFLINE": "1"}
    env.pop("STUDIO_ENGINE_PACKAGES", None)
    out = subprocess.run([sys.executable, "-c", STUDIO_SESSION], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {"torch_at_start": False, "torch_after_speaking": False, "job": "succeeded", "device": "cpu",
                     "loaded_on": "cpu"}
