"""The studio's own transformers code works across the range pyproject.toml admits (4.41 to 4.46): the tests of
every module that uses transformers run again on the oldest release, laid over this environment's packages.

The overlay (transformers 4.41.2 and its tokenizers, installed with --no-deps into a folder of the test-runtimes
cache) is built once; without PyPI the test skips, unless STUDIO_REQUIRE_RUNTIMES=1 (CI).
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.runtimes.tiny import CACHE, REPO_ROOT

OLDEST = ("transformers==4.41.2", "tokenizers>=0.19,<0.20")
# the tests of everything in the studio that imports transformers (Whisper, HuBERT/ContentVec, WavLM-SV, CLAP)
TESTS = ("tests/unit/test_whisper_transformers.py", "tests/unit/test_fairseq_hubert.py",
         "tests/unit/test_metric_engines.py")


def overlay() -> str:
    folder = CACHE / "transformers-4.41"
    done = folder.with_name(folder.name + ".complete")
    if not done.exists():
        built = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                "--no-deps", "--target", str(folder), *OLDEST], capture_output=True, text=True)
        if built.returncode:
            if os.environ.get("STUDIO_REQUIRE_RUNTIMES") == "1":
                pytest.fail(f"could not install {' '.join(OLDEST)}: {built.stderr[-500:]}")
            pytest.skip(f"could not install {' '.join(OLDEST)} here (PyPI unreachable?)")
        done.touch()
    return str(folder)


def test_the_studios_transformers_code_works_on_the_oldest_release_it_admits() -> None:
    folder = overlay()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join([folder, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    version = subprocess.run([sys.executable, "-c", "import transformers; print(transformers.__version__)"],
                             env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert version == "4.41.2"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=REPO_ROOT,
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout.splitlines()[-1]
