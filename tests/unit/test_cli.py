"""The command line: doctor reports the environment and engines; generate writes audio; errors exit non-zero."""
from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from studio.cli import main


def test_doctor_prints_the_environment_and_every_engine(capsys: pytest.CaptureFixture[str], studio_home: Path) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for line in ("Python", "torch", "CUDA", "Memory", "ffmpeg", "espeak-ng", "Amphion checkout"):
        assert line in out
    assert str(studio_home) in out
    assert "ok builtin.hibari" in out
    assert "-- test.missing" in out and "fix: pip install no-such-package" in out


def test_generate_writes_the_requested_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "hello.flac"
    assert main(["generate", "Hello from the command line.", "-o", str(out), "-p", "speed=1.2", "-p", "seed=4"]) == 0
    info = sf.info(str(out))
    assert info.format == "FLAC" and info.samplerate == 24_000 and info.duration > 1
    assert "Wrote" in capsys.readouterr().out


def test_generate_reports_bad_input_and_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "hi", "-o", str(tmp_path / "x.wav"), "-p", "speed=5"]) == 2
    assert "Speed: 5x is outside" in capsys.readouterr().err
    assert main(["generate", "🙂", "-o", str(tmp_path / "x.wav")]) == 2  # refused before a job is queued
    assert "Nothing in the text can be spoken" in capsys.readouterr().err
    assert main(["generate", "fail", "-e", "test.tone", "-o", str(tmp_path / "x.wav")]) == 1  # the job failed
    assert "the tone generator was asked to fail" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def test_invalid_settings_exit_with_the_reason(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STUDIO_PORT", "eighty")
    assert main(["doctor"]) == 2
    assert "port = 'eighty' is not valid" in capsys.readouterr().err
