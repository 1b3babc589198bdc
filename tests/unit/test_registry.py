"""The registry finds engines without importing any model code, and reports readiness precisely."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engines.registry import Registry

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "torchaudio", "onnxruntime", "hibari", "transformers", "librosa", "pyworld", "parselmouth",
         "faster_whisper", "ctranslate2", "nicegui")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, cwd=REPO, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_listing_and_checking_every_engine_imports_no_heavy_dependency() -> None:
    loaded = _modules_after(
        "from engines.registry import Registry\n"
        "r = Registry(extra_packages=['tests.fake_engines'])\n"
        "assert len(r) >= 2\n"
        "[(e.check(), e.params, e.inputs, e.weights) for e in r]")
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)


def test_pages_and_components_never_import_torch() -> None:
    loaded = _modules_after("import pages.shell, pages.speech, pages.models, pages.jobs, components.result_card")
    assert "torch" not in loaded


def test_default_engine_is_registered_and_ready_offline() -> None:
    registry = Registry()
    engine = registry.get("builtin.hibari")
    assert engine.task == "tts" and engine.sample_rate == 24_000 and engine.license == "Apache-2.0"
    assert engine.check().ready
    assert {p.name for p in engine.params} >= {"speed", "seed"}


def test_missing_module_readiness_gives_the_exact_install_command() -> None:
    registry = Registry(extra_packages=["tests.fake_engines"])
    readiness = registry.get("test.missing").check()
    assert readiness.state == "missing_dependency"
    assert "no_such_module_for_studio_tests" in readiness.message
    assert readiness.hints == ("pip install no-such-package",)


def test_unknown_engine_lists_the_known_ones() -> None:
    registry = Registry()
    try:
        registry.get("nope")
    except KeyError as exc:
        assert "builtin.hibari" in str(exc)
    else:
        raise AssertionError("expected KeyError")
