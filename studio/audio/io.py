"""Reading and writing audio with soundfile (libsndfile), ffmpeg for everything else; resampling with soxr.

Convention: mono audio is 1-D float32; multichannel audio is channels-first, shape (channels, frames).
"""
from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..storage import atomic_write

EXPORT_FORMATS: dict[str, dict[str, str]] = {
    # format -> soundfile format and subtype, and the MIME type browsers expect
    "wav": {"format": "WAV", "subtype": "PCM_16", "mime": "audio/wav"},
    "flac": {"format": "FLAC", "subtype": "PCM_16", "mime": "audio/flac"},
    "ogg": {"format": "OGG", "subtype": "VORBIS", "mime": "audio/ogg"},
    "mp3": {"format": "MP3", "subtype": "MPEG_LAYER_III", "mime": "audio/mpeg"},
}
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
FFMPEG_FORMATS: dict[str, tuple[str, ...]] = {
    # formats libsndfile cannot write -> ffmpeg's encoder arguments
    "opus": ("-c:a", "libopus", "-b:a", "64k", "-f", "ogg"),  # Ogg Opus
    "aac": ("-c:a", "aac", "-b:a", "128k", "-f", "adts"),  # raw AAC in ADTS frames
}


class AudioReadError(ValueError):
    """The file is not audio the studio can read; the message says why and what to do."""


def read_audio(path: str | Path, sample_rate: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Audio from `path` as float32 (mono 1-D, or channels-first), resampled when `sample_rate` is given."""
    path = Path(path)
    if not path.is_file():
        raise AudioReadError(f"{path.name}: the file does not exist.")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        audio = data.T
    except (sf.LibsndfileError, RuntimeError, TypeError):
        audio, sr = _read_with_ffmpeg(path)
    if audio.shape[-1] == 0:
        raise AudioReadError(f"{path.name}: the file holds no audio samples.")
    audio = to_mono(audio) if mono else audio
    if sample_rate is not None and sr != sample_rate:
        audio, sr = resample(audio, sr, sample_rate), sample_rate
    return np.ascontiguousarray(audio, dtype=np.float32), sr


def _read_with_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    """Decode anything ffmpeg knows (m4a, webm, video files) to float32, keeping channels and rate."""
    info = _probe_with_ffmpeg(path)
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "a:0", "-f", "f32le", "-acodec",
                              "pcm_f32le", "-"], capture_output=True)
    if decoded.returncode != 0:
        raise AudioReadError(f"{path.name}: ffmpeg could not decode it ({decoded.stderr.decode(errors='replace')[:200]}).")
    samples = np.frombuffer(decoded.stdout, dtype=np.float32)
    channels = info.channels
    return samples[: len(samples) // channels * channels].reshape(-1, channels).T.copy(), info.sample_rate


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding it."""

    sample_rate: int
    channels: int
    duration: float | None  # None when the container does not say (a browser's WebM recording)
    decoder: str  # "soundfile" (libsndfile reads it) or "ffmpeg"


def probe(path: str | Path) -> AudioInfo:
    """The rate, channels and duration of `path`: libsndfile's header, else ffprobe's (AudioReadError if neither)."""
    path = Path(path)
    if not path.is_file():
        raise AudioReadError(f"{path.name}: the file does not exist.")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return _probe_with_ffmpeg(path)
    return AudioInfo(info.samplerate, info.channels, float(info.duration), "soundfile")


def _probe_with_ffmpeg(path: Path) -> AudioInfo:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise AudioReadError(f"{path.name}: this format needs ffmpeg, which is not installed (sudo apt install ffmpeg).")
    found = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=sample_rate,channels:format=duration", "-of", "json", str(path)], capture_output=True, text=True)
    try:
        report = json.loads(found.stdout)
        stream = report["streams"][0]
        rate, channels = int(stream["sample_rate"]), int(stream["channels"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise AudioReadError(f"{path.name}: no audio stream found; use WAV, MP3, FLAC, OGG, M4A or a video with "
                             "sound.") from None
    try:
        duration: float | None = float(report.get("format", {})["duration"])
    except (KeyError, TypeError, ValueError):
        duration = None
    return AudioInfo(rate, channels, duration if duration is None or math.isfinite(duration) else None, "ffmpeg")


def decode_to_wav(source: str | Path, destination: str | Path, sample_rate: int, max_seconds: float) -> Path:
    """`source` as mono 16-bit WAV at `sample_rate`, cut at `max_seconds`, written by ffmpeg straight to disk:
    however long the file, its decoded samples never sit in memory."""
    source = Path(source)

    def write(tmp: Path) -> None:
        done = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-map", "a:0", "-t", f"{max_seconds:g}",
                               "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", "-f", "wav", str(tmp)],
                              capture_output=True)
        if done.returncode != 0:
            raise AudioReadError(f"{source.name}: ffmpeg could not decode it "
                                 f"({done.stderr.decode(errors='replace')[:200]}).")

    return atomic_write(Path(destination), write)


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int, fmt: str | None = None) -> Path:
    """Write atomically; `fmt` is one of EXPORT_FORMATS (default: from the file's suffix)."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown audio format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)  # a copy: the caller's array is untouched
    if fmt == "mp3" and sample_rate not in MP3_RATES:
        target = min(MP3_RATES, key=lambda r: (r < sample_rate, abs(r - sample_rate)))
        audio, sample_rate = resample(audio, sample_rate, target), target
    spec = EXPORT_FORMATS[fmt]
    frames = audio.T if audio.ndim == 2 else audio

    def write(tmp: Path) -> None:
        if fmt == "wav":
            _write_pcm16_wav(tmp, frames, sample_rate)
        else:
            sf.write(str(tmp), frames, sample_rate, format=spec["format"], subtype=spec["subtype"])

    return atomic_write(path, write)


def _write_pcm16_wav(path: Path, frames: np.ndarray, sample_rate: int) -> None:
    """16-bit WAV: a 44-byte header and the samples in one write (libsndfile's conversion is several times slower)."""
    scaled = np.multiply(frames, 32767.0, out=frames)  # `frames` is write_audio's own clipped copy
    pcm = np.rint(scaled, out=scaled).astype("<i2", order="C")  # interleaved frames
    channels = 1 if pcm.ndim == 1 else pcm.shape[1]
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + pcm.nbytes, b"WAVE", b"fmt ", 16, 1, channels,
                         sample_rate, sample_rate * channels * 2, channels * 2, 16, b"data", pcm.nbytes)
    with open(path, "wb") as out:
        out.write(header)
        out.write(pcm.data)


def export(source: str | Path, fmt: str, destination: str | Path) -> Path:
    """`source` re-encoded as `fmt` (EXPORT_FORMATS or FFMPEG_FORMATS) at `destination` (reused when it is
    newer than the source)."""
    source, destination = Path(source), Path(destination)
    if destination.exists() and destination.stat().st_mtime >= source.stat().st_mtime:
        return destination
    if fmt in FFMPEG_FORMATS:
        return atomic_write(destination, lambda tmp: _encode_with_ffmpeg(source, fmt, tmp))
    audio, sr = read_audio(source, mono=False)
    return write_audio(destination, audio, sr, fmt)


def _encode_with_ffmpeg(source: Path, fmt: str, destination: Path) -> None:
    if shutil.which("ffmpeg") is None:
        raise RuntimeError(f"Writing {fmt} needs ffmpeg, which is not installed (sudo apt install ffmpeg).")
    done = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-vn", *FFMPEG_FORMATS[fmt],
                           str(destination)], capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not write {fmt}: {done.stderr.decode(errors='replace')[:300]}")


def pcm16(audio: np.ndarray) -> bytes:
    """Raw 16-bit little-endian samples (interleaved when channels-first), no header."""
    frames = audio.T if audio.ndim == 2 else audio
    return np.rint(np.clip(frames, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def crossfade_join(parts: list[np.ndarray], sample_rate: int, fade_seconds: float = 0.05) -> np.ndarray:
    """Mono parts joined end to start, each seam overlapped by an equal-power cross-fade of `fade_seconds`."""
    parts = [p for p in parts if p.size]
    if not parts:
        return np.zeros(0, np.float32)
    out = parts[0].astype(np.float32)
    for part in parts[1:]:
        n = min(int(fade_seconds * sample_rate), len(out), len(part))
        if n == 0:
            out = np.concatenate([out, part])
            continue
        t = np.linspace(0.0, np.pi / 2, n, dtype=np.float32)
        seam = out[-n:] * np.cos(t) + part[:n] * np.sin(t)
        out = np.concatenate([out[:-n], seam, part[n:]]).astype(np.float32)
    return out


def to_mono(audio: np.ndarray) -> np.ndarray:
    return audio if audio.ndim == 1 else audio.mean(axis=0)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return audio
    import soxr

    if audio.ndim == 1:
        return soxr.resample(audio, from_rate, to_rate, quality="HQ").astype(np.float32)
    return soxr.resample(audio.T, from_rate, to_rate, quality="HQ").T.astype(np.float32)


def duration(path: str | Path) -> float:
    try:
        return float(sf.info(str(path)).duration)
    except (sf.LibsndfileError, RuntimeError):
        audio, sr = read_audio(path)
        return audio.shape[-1] / sr
