"""Audio I/O and analysis on real signals: every export format round-trips, resampling keeps pitch and length."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.audio import analysis
from studio.audio.io import (EXPORT_FORMATS, FFMPEG_FORMATS, AudioReadError, export, read_audio, resample,
                             write_audio)


def tone(hz: float, seconds: float, sr: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def dominant_hz(audio: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * sr / len(audio))


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_every_export_format_round_trips(tmp_path: Path, fmt: str) -> None:
    sr = 24_000
    original = tone(440, 2.0, sr)
    path = write_audio(tmp_path / f"clip.{fmt}", original, sr)
    back, back_sr = read_audio(path)
    assert back_sr == sr
    assert abs(len(back) - len(original)) <= 0.005 * sr  # within 5 ms
    assert dominant_hz(back, sr) == pytest.approx(440, abs=2)
    assert np.sqrt(np.mean(back**2)) == pytest.approx(np.sqrt(np.mean(original**2)), rel=0.1)
    assert sf.info(str(path)).format == EXPORT_FORMATS[fmt]["format"]


def test_export_converts_a_generation_and_reuses_the_result(tmp_path: Path) -> None:
    source = write_audio(tmp_path / "gen.wav", tone(300, 1.0, 22_050), 22_050)
    mp3 = export(source, "mp3", tmp_path / "gen.mp3")
    assert sf.info(str(mp3)).format == "MP3"
    mtime = mp3.stat().st_mtime_ns
    assert export(source, "mp3", tmp_path / "gen.mp3").stat().st_mtime_ns == mtime


def test_mp3_at_a_rate_mp3_cannot_hold_is_resampled(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "odd.mp3", tone(500, 1.0, 37_000), 37_000)
    audio, sr = read_audio(path)
    assert sr in (32_000, 44_100) and dominant_hz(audio, sr) == pytest.approx(500, abs=3)


def test_resampling_keeps_pitch_and_duration() -> None:
    audio = tone(1000, 1.5, 24_000)
    down = resample(audio, 24_000, 16_000)
    assert len(down) == 24_000
    assert dominant_hz(down, 16_000) == pytest.approx(1000, abs=2)
    read_back = resample(down, 16_000, 44_100)
    assert len(read_back) == int(1.5 * 44_100) and dominant_hz(read_back, 44_100) == pytest.approx(1000, abs=2)


def test_stereo_is_mixed_to_mono_or_kept_channels_first(tmp_path: Path) -> None:
    left, right = tone(200, 1.0, 16_000), tone(600, 1.0, 16_000, 0.25)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([left, right], axis=1), 16_000, subtype="FLOAT")
    mono, _ = read_audio(path)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-6)
    both, _ = read_audio(path, mono=False)
    assert both.shape == (2, 16_000)
    np.testing.assert_allclose(both[1], right, atol=1e-6)
    resampled, sr = read_audio(path, sample_rate=8_000, mono=False)
    assert resampled.shape == (2, 8_000) and sr == 8_000


def assert_stereo_kept(path: Path, left_hz: float, right_hz: float, frames: int) -> None:
    """Two channels, neither swapped nor mixed, about `frames` long."""
    back, sr = read_audio(path, mono=False)
    assert back.shape[0] == 2 and abs(back.shape[1] - frames) <= 0.01 * frames + 2048  # codec padding
    assert dominant_hz(back[0], sr) == pytest.approx(left_hz, abs=3)
    assert dominant_hz(back[1], sr) == pytest.approx(right_hz, abs=3)


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_stereo_is_written_in_every_format(tmp_path: Path, fmt: str) -> None:
    sr = 24_000
    stereo = np.stack([tone(440, 1.0, sr), tone(660, 1.0, sr, 0.25)])
    path = write_audio(tmp_path / f"stereo.{fmt}", stereo, sr)
    assert sf.info(str(path)).channels == 2
    assert_stereo_kept(path, 440, 660, sr)


@pytest.mark.parametrize("fmt", [*EXPORT_FORMATS, *FFMPEG_FORMATS])
def test_stereo_is_exported_to_every_format(tmp_path: Path, fmt: str) -> None:
    if fmt in FFMPEG_FORMATS and shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    sr = 24_000
    source = write_audio(tmp_path / "stereo.wav", np.stack([tone(330, 1.0, sr), tone(880, 1.0, sr)]), sr)
    assert_stereo_kept(export(source, fmt, tmp_path / f"exported.{fmt}"), 330, 880, sr)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_formats_soundfile_cannot_read_go_through_ffmpeg(tmp_path: Path) -> None:
    wav = write_audio(tmp_path / "a.wav", tone(330, 1.0, 48_000), 48_000)
    m4a = tmp_path / "a.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    audio, sr = read_audio(m4a)
    assert sr == 48_000 and abs(len(audio) / sr - 1.0) < 0.05
    assert dominant_hz(audio, sr) == pytest.approx(330, abs=3)


def test_unreadable_files_get_a_message_that_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    with pytest.raises(AudioReadError, match="notes.wav"):
        read_audio(bad)
    with pytest.raises(AudioReadError, match="does not exist"):
        read_audio(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, np.float32), 16_000)
    with pytest.raises(AudioReadError, match="no audio samples"):
        read_audio(empty)


def test_envelope_is_decimated_to_the_plot_width_and_keeps_the_peaks() -> None:
    sr = 24_000
    audio = tone(50, 600.0, sr, 0.1)  # ten minutes
    audio[sr * 300] = 0.9  # one click in the middle
    env = analysis.envelope(audio, sr, columns=1000)
    assert len(env.times) == 1000
    assert env.high.max() == pytest.approx(0.9) and env.low.min() == pytest.approx(-0.1, abs=1e-3)
    assert env.times[-1] == pytest.approx(600, abs=1)


def test_log_mel_is_bounded_in_size_and_finds_the_tone() -> None:
    sr = 24_000
    spec = analysis.log_mel(tone(1000, 600.0, sr), sr, n_mels=80, max_frames=1000)
    assert spec.db.shape[0] == 80 and spec.db.shape[1] <= 1000 and spec.db.dtype == np.uint8
    loudest_band = spec.frequencies[int(np.argmax(spec.db[:, 10]))]
    assert 850 < loudest_band < 1150


@pytest.mark.parametrize("method", analysis.F0_METHODS)
def test_pitch_tracks_a_tone_and_an_octave(method: str) -> None:
    sr = 16_000
    low = analysis.pitch(tone(220, 1.0, sr), sr, method)
    high = analysis.pitch(tone(440, 1.0, sr), sr, method)
    assert np.median(low.voiced) == pytest.approx(220, rel=0.01)
    assert 12 * np.log2(np.median(high.voiced) / np.median(low.voiced)) == pytest.approx(12, abs=0.1)
    silence = analysis.pitch(np.zeros(sr, np.float32), sr, method)
    assert silence.voiced.size == 0


def test_note_names() -> None:
    assert analysis.note_name(440.0) == "A4"
    assert analysis.note_name(261.63) == "C4"
