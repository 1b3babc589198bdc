"""A wheel install (`pip install .`, not editable) carries everything the studio reads at run time and serves."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.live_server import REPO, start_studio

PACKAGES = ("studio", "engines", "components", "pages")
DATA = ("assets",)  # the web assets, at the top of the checkout; a wheel carries them as studio/assets


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The studio built into a wheel from a copy of the checkout (so no build files land in it), installed alone."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for folder in PACKAGES + DATA:
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(source)],
                   check=True, capture_output=True)
    wheel = next((work / "dist").glob("amphion_studio-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(work / "site"), str(wheel)], check=True,
                   capture_output=True)
    return work / "site"


RESOLVE = """
import json, sys
from pathlib import Path
import studio.storage
from engines.isolated.runtime import RUNTIMES, Runtime
code = Runtime(RUNTIMES["qwen-tts"], Path(sys.argv[1])).studio_code()
print(json.dumps({
    "studio": studio.storage.__file__, "assets": str(studio.storage.ASSETS),
    "recipes": {name: sorted(p.name for p in spec.folder.glob("*.txt")) for name, spec in RUNTIMES.items()},
    "worker_path": {p.name: str(p.resolve()) for p in code.iterdir()},
}))
"""


def test_the_installed_studio_finds_its_assets_and_runtime_recipes(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", RESOLVE, str(tmp_path / "runtimes")], cwd=tmp_path, check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"})
    found = json.loads(out.stdout)
    assert Path(found["studio"]).is_relative_to(installed)
    assets = Path(found["assets"])
    assert assets.is_relative_to(installed)
    referenced = re.findall(r'/assets/([\w./-]+)"', (REPO / "pages" / "shell.py").read_text())
    assert referenced and all((assets / name).is_file() for name in referenced + ["favicon.svg"])
    assert all(files == ["no-deps.txt", "requirements.txt"] for files in found["recipes"].values())
    # a runtime's worker sees the studio's engines package and nothing else of the studio's site-packages
    assert found["worker_path"] == {"engines": str(installed / "engines")}


def test_every_package_of_the_checkout_is_listed_for_the_wheel() -> None:
    """pyproject.toml lists the packages (so the assets can stay at the top of the checkout): a new one must be added
    there, or a wheel install would lack it."""
    import tomllib

    from setuptools import find_packages

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set(find_packages(str(REPO), include=[f"{p}*" for p in PACKAGES]))
    assert found - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"
    assert listed - found == {"studio.assets"}


def test_the_installed_studio_serves_its_pages_and_assets(installed: Path, tmp_path: Path) -> None:
    process, url = start_studio(tmp_path / "home", code=installed)
    try:
        with urllib.request.urlopen(url + "/assets/css/studio.css", timeout=10) as response:
            assert response.status == 200 and b"{" in response.read()
        with urllib.request.urlopen(url + "/", timeout=10) as response:
            assert response.status == 200 and b"/assets/js/recorder.js" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=20)
