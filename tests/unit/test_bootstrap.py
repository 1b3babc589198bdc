"""scripts/bootstrap (behind ./run.sh and ./test.sh): installs once per pyproject.toml, an install with the test
tools also serves a plain run, and a machine that cannot build the studio is told which packages to install.

pip is the one stand-in: a module earlier on the path that records what bootstrap asked it to install."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECORDING_PIP = """
import os, sys
with open(os.environ["PIP_CALLS"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
"""


def prerequisites():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("prerequisites", REPO / "scripts" / "prerequisites.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of what bootstrap reads, with a .venv whose python is this interpreter and whose pip records."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    for name in ("scripts/bootstrap", "scripts/prerequisites.py", "pyproject.toml"):
        shutil.copy2(REPO / name, root / name)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "fake-pip" / "pip").mkdir(parents=True)
    (tmp_path / "fake-pip" / "pip" / "__init__.py").write_text("")
    (tmp_path / "fake-pip" / "pip" / "__main__.py").write_text(RECORDING_PIP)
    return root


def bootstrap(checkout: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run bootstrap; the pip installs it asked for."""
    calls = checkout.parent / "pip-calls.txt"
    calls.unlink(missing_ok=True)
    environment = {**os.environ, "PYTHONPATH": str(checkout.parent / "fake-pip"), "PIP_CALLS": str(calls), **env}
    result = subprocess.run([str(checkout / "scripts" / "bootstrap"), *args], env=environment, capture_output=True,
                            text=True)
    installs = [line for line in calls.read_text().splitlines() if " -e " in line] if calls.exists() else []
    return result, installs


def test_run_and_test_take_turns_without_reinstalling(checkout: Path) -> None:
    result, installs = bootstrap(checkout, "test")
    assert result.returncode == 0, result.stderr
    assert installs == ["install --quiet -e .[test]"]
    assert bootstrap(checkout)[1] == []  # ./run.sh after ./test.sh
    assert bootstrap(checkout, "test")[1] == []
    with (checkout / "pyproject.toml").open("a") as pyproject:
        pyproject.write("# a changed dependency\n")
    assert bootstrap(checkout)[1] == ["install --quiet -e ."]
    assert bootstrap(checkout, "test")[1] == ["install --quiet -e .[test]"]
    assert bootstrap(checkout)[1] == []
    assert len(list((checkout / ".venv").glob(".installed-*"))) == 2  # this pyproject.toml's, plain and [test]


def test_a_machine_without_a_compiler_is_told_what_to_install_before_anything_is_made(checkout: Path) -> None:
    shutil.rmtree(checkout / ".venv")
    result, installs = bootstrap(checkout, PYTHON=sys.executable, CC="/nowhere/cc")
    assert result.returncode == 1 and installs == []
    assert "No C/C++ compiler (/nowhere/cc)" in result.stderr
    assert "sudo apt install build-essential" in result.stderr
    assert not (checkout / ".venv").exists()


def test_an_old_python_is_refused_with_the_version_the_studio_needs() -> None:
    checks = prerequisites()
    minimum = checks.minimum_python((REPO / "pyproject.toml").read_text())
    assert minimum >= (3, 11)  # studio/settings.py reads its config with tomllib
    found = {"python": (3, 10), "executable": "/usr/bin/python3", "missing_compilers": [], "headers": True,
             "venv": True, "existing_venv": None}
    sentences, packages = checks.problems(found, minimum)
    assert "needs Python 3.11 or newer; /usr/bin/python3 is Python 3.10" in sentences[0]
    assert packages == ["python3.11", "python3.11-venv", "python3.11-dev"]


def test_a_venv_made_by_a_too_old_python_is_named_for_removal_before_running_again(checkout: Path) -> None:
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('requires-python = ">=3.11"', 'requires-python = ">=3.99"'))
    result, installs = bootstrap(checkout, PYTHON="python3.99")
    assert result.returncode == 1 and installs == []
    assert "needs Python 3.99 or newer" in result.stderr
    assert f"rm -rf {checkout / '.venv'} && PYTHON=python3.99 ./run.sh" in result.stderr
    assert (checkout / ".venv").exists()  # told, not removed behind the user's back


def test_missing_headers_and_venv_support_name_their_debian_packages() -> None:
    found = {"python": (3, 12), "executable": "/usr/bin/python3", "missing_compilers": ["x86_64-linux-gnu-g++"],
             "headers": False, "venv": False, "existing_venv": None}
    sentences, packages = prerequisites().problems(found, (3, 11))
    assert packages == ["build-essential", "python3.12-dev", "python3.12-venv"]
    assert len(sentences) == 3 and "Python.h" in sentences[1] and "ensurepip" in sentences[2]


def test_this_machine_meets_the_prerequisites() -> None:
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "prerequisites.py")], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
