"""Isolated runtimes without building one: sharing the machine's torch, status, failures, CLI and doctor."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from engines.isolated import runtime as runtimes
from engines.isolated.runtime import Runtime, RuntimeBuildError, RuntimeSpec, link_machine_torch, machine_versions
from studio.cli import main


def test_the_machines_torch_and_what_it_needs_are_linked_not_copied(tmp_path: Path) -> None:
    names = link_machine_torch(tmp_path / "machine-torch")
    assert "torch" in names and "torchaudio" in names
    link = tmp_path / "machine-torch" / "torch"
    assert link.is_symlink() and (link / "__init__.py").exists()
    assert any(p.name.startswith("torch-") and p.name.endswith(".dist-info") for p in link.parent.iterdir())


def test_status_tells_installed_from_out_of_date(tmp_path: Path) -> None:
    runtime = Runtime.named("qwen-tts", tmp_path)
    assert runtime.status().state == "not installed"
    assert runtime.status().hint == "amphion-studio runtime install qwen-tts"
    (runtime.dir / "bin").mkdir(parents=True)
    (runtime.dir / "bin" / "python").symlink_to(sys.executable)
    stamp = {"fingerprint": runtime.fingerprint(), "versions": {"torch": machine_versions()["torch"]}}
    (runtime.dir / runtimes.STAMP).write_text(json.dumps(stamp))
    assert runtime.status().ready
    stamp["fingerprint"]["requirements"] = "0" * 16
    (runtime.dir / runtimes.STAMP).write_text(json.dumps(stamp))
    assert runtime.status().state == "out of date" and "requirements changed" in runtime.status().message
    stamp["fingerprint"] = {**runtime.fingerprint(), "machine": {"torch": "2.6.0"}}
    (runtime.dir / runtimes.STAMP).write_text(json.dumps(stamp))
    assert "built against torch torch 2.6.0" in runtime.status().message


def test_studios_installed_apart_that_share_a_runtimes_directory_each_give_workers_their_own_engines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Runtime.named("qwen-tts", tmp_path)
    ours = runtime.studio_code()
    other_install = tmp_path / "other-site-packages" / "engines"
    other_install.mkdir(parents=True)
    monkeypatch.setattr(runtimes, "ENGINES_PACKAGE", other_install)
    theirs = runtime.studio_code()
    monkeypatch.undo()
    assert ours != theirs and runtime.studio_code() == ours
    assert [p.name for p in ours.iterdir()] == ["engines"] and (ours / "engines").resolve() == runtimes.ENGINES_PACKAGE
    assert [p.name for p in theirs.iterdir()] == ["engines"] and (theirs / "engines").resolve() == other_install


def test_a_failed_build_names_the_step_the_cause_and_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = tmp_path / "specs"
    (specs / "broken").mkdir(parents=True)
    (specs / "broken" / "requirements.txt").write_text("no-such-package-for-studio-tests==0.0.1\n")
    monkeypatch.setattr(runtimes, "SPECS", specs)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # fail fast, with or without a network
    runtime = Runtime(RuntimeSpec("broken", "Broken", "json", "pip", "it exists to fail"), tmp_path / "runtimes")
    with pytest.raises(RuntimeBuildError) as failure:
        runtime.install(say=lambda line: None)
    message = str(failure.value)
    assert "Building the Broken runtime failed at `" in message and "no-such-package-for-studio-tests" in message
    assert f"The whole log is {tmp_path / 'runtimes' / 'broken.log'}" in message
    assert "amphion-studio runtime install broken" in message
    assert runtime.status().state == "not installed"


def test_cli_lists_runtimes_and_refuses_unknown_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STUDIO_RUNTIMES_DIR", str(tmp_path))
    assert main(["runtime", "list"]) == 0
    out = capsys.readouterr().out
    assert "qwen-tts         not installed" in out and "fix: amphion-studio runtime install chatterbox-tts" in out
    assert main(["runtime", "install", "nope"]) == 2
    assert "name a runtime: qwen-tts, chatterbox-tts" in capsys.readouterr().err
    assert main(["runtime", "remove", "qwen-tts"]) == 0
    assert "does not exist" in capsys.readouterr().out


def test_doctor_reports_each_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STUDIO_RUNTIMES_DIR", str(tmp_path))
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "Isolated runtimes" in out
    assert "qwen-tts             not installed: The Qwen3-TTS runtime is not installed" in out
    assert "-- peer.chatterbox" in out and "fix: amphion-studio runtime install chatterbox-tts" in out
