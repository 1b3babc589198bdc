"""Shared fixtures: a fresh STUDIO_HOME per test, started services, real speech from the default engine."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from studio.services import Services, build_services
from studio.settings import Settings
from tests.hub_server import FakeHub, serve

FAKE_ENGINES = "tests.fake_engines"
AMPHION_ROOT = os.environ.get("AMPHION_ROOT")  # read at import, before the autouse fixture below clears it
SENTENCE = "The quick brown fox jumps over the lazy dog. Welcome to the audio studio."


@pytest.fixture(autouse=True)
def studio_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data folder and no settings leaking in from the machine."""
    for name in list(os.environ):
        if name.startswith("STUDIO_") or name == "AMPHION_ROOT":
            monkeypatch.delenv(name)
    home = tmp_path / "studio-home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    monkeypatch.setenv("STUDIO_ENGINE_PACKAGES", FAKE_ENGINES)
    return home


@pytest.fixture(autouse=True)
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reaches the model hub (CI cannot), and each gets an empty hub cache of its own."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def fake_hub(offline_hub: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A local stand-in for the hub (tests/hub_server.py), online, with HF_ENDPOINT pointing at it."""
    from huggingface_hub import constants
    from huggingface_hub.utils import reset_sessions

    with serve(FakeHub()) as hub:
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        reset_sessions()  # sessions made while offline refuse every request
        yield hub
    reset_sessions()


def put_in_hub_cache(cache: Path, repo_id: str, filename: str, source: Path, commit: str = "0" * 40) -> Path:
    """Lay a file out exactly as huggingface_hub's cache does (snapshots/<commit>/..., refs/main)."""
    repo_dir = cache / f"models--{repo_id.replace('/', '--')}"
    target = repo_dir / "snapshots" / commit / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    return target


def amphion_checkout(root: str | None = AMPHION_ROOT) -> Path:
    """The Amphion checkout (AMPHION_ROOT) for tests that need one; a skip that says what to do when it is not set,
    or when the [amphion] extra the runtime imports is missing."""
    from engines.amphion.base import missing_from_extra

    if not root:
        pytest.skip("AMPHION_ROOT is not set: these tests need an Amphion checkout "
                    "(git clone https://github.com/open-mmlab/Amphion; export AMPHION_ROOT=...)")
    missing = missing_from_extra()
    if missing:
        pytest.skip(f"AMPHION_ROOT is set, but the Amphion runtime's modules are not installed ({', '.join(missing)}): "
                    f'pip install -e ".[amphion]"')
    return Path(root)


@pytest.fixture
def services(studio_home: Path) -> Iterator[Services]:
    services = build_services(Settings.load())
    services.start()
    yield services
    services.stop()


@pytest.fixture(scope="session")
def live_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real studio started as a subprocess (once per session, with the test engines), for HTTP clients."""
    from tests.live_server import start_studio

    process, url = start_studio(tmp_path_factory.mktemp("live-home"), STUDIO_ENGINE_PACKAGES=FAKE_ENGINES)
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="session")
def whisper():  # type: ignore[no-untyped-def]
    """The studio's Whisper engine with tiny.en (offline), loaded once, to check what speech says."""
    from engines.contract import Progress
    from engines.registry import Registry

    engine = Registry().get("builtin.whisper")
    return engine, engine.load("cpu", Progress(), {"model": "tiny.en"})


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d.copy(), i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r != h))
    return float(d[-1]) / max(len(ref), 1)


def transcribe(whisper, path: str | Path) -> str:  # type: ignore[no-untyped-def]
    from engines.contract import AudioInput, Progress

    engine, model = whisper
    request = engine.validate({"audio": AudioInput(str(path))}, {"language": "en"})
    return engine.run(model, request, Progress()).extras["text"]
