"""`amphion-studio convert`: the page's parameters from the command line; errors exit non-zero with the reason."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.audio.io import read_audio
from studio.cli import main
from tests.audio_measures import pitch_shift, speech, sung_tone, write


def test_convert_writes_the_requested_format_with_the_pages_parameters(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    audio, rate = speech()
    source = write(tmp_path / "speech.wav", audio, rate)
    out = tmp_path / "converted.flac"
    assert main(["convert", str(source), "-o", str(out), "-p", "semitones=-4", "-p", "formant_shift=0.9"]) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    info = sf.info(str(out))
    assert info.format == "FLAC" and info.samplerate == rate and info.frames == len(audio)
    converted, _ = read_audio(out)
    assert abs(pitch_shift(audio, converted, rate) + 4) <= 0.3


def test_convert_a_song_toward_a_reference_and_print_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    song = write(tmp_path / "song.wav", sung_tone(2.0, 220.0), 24_000)
    singer = write(tmp_path / "singer.wav", sung_tone(2.0, 220.0 * 2 ** (7 / 12)), 24_000)
    out = tmp_path / "cover.wav"
    assert main(["convert", str(song), "-r", str(singer), "-t", "svc", "-o", str(out), "--json",
                 "-p", "match_formants=false"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["extras"]["semitones_applied"] == 7.0 and out.exists()


def test_convert_reports_bad_input_and_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "a.wav", sung_tone(1.0, 200.0), 24_000)
    out = tmp_path / "x.wav"
    assert main(["convert", str(tmp_path / "missing.wav"), "-o", str(out)]) == 2
    assert "missing.wav: no such file" in capsys.readouterr().err
    assert main(["convert", str(source), "-o", str(out), "-p", "semitones=40"]) == 2
    assert "Transpose: 40 st is outside -24 st to 24 st." in capsys.readouterr().err
    assert main(["convert", str(source), "-o", str(tmp_path / "x.aiff")]) == 2
    assert "end the output name with .wav" in capsys.readouterr().err
    assert main(["convert", str(source), "-o", str(out), "-i", "nonsense"]) == 2
    assert "write it as SLOT=FILE" in capsys.readouterr().err
    silent = write(tmp_path / "silent.wav", np.zeros(24_000, np.float32), 24_000)
    assert main(["convert", str(silent), "-o", str(out)]) == 1
    assert "The source audio is silent" in capsys.readouterr().err
    assert not out.exists()
