"""Opus through ffmpeg: the classic codec neural codecs are measured against, and the Codecs page's default when
no neural codec is ready. The clip is encoded at the chosen bit rate and decoded back to its own sample rate, so
the result lines up with the source sample for sample."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ..contract import Engine, EngineError, InputSlot, Param, Progress, Request, Result
from ..requirements import Binary, Requirements

APPLICATIONS = (("voip", "Speech (voip)"), ("audio", "Music and general audio"), ("lowdelay", "Lowest delay"))


class OpusCodec(Engine):
    id = "builtin.opus"
    name = "Opus (ffmpeg)"
    task = "codec"
    family = "Classic codec"
    summary = "Encodes with libopus at the bit rate you choose and decodes it back: the baseline for neural codecs."
    languages = ()
    sample_rate = 0  # follows the source
    license = "BSD-3-Clause (libopus)"
    memory_mb = 20
    requirements = Requirements(binaries=(Binary("ffmpeg", "ffmpeg"),))
    inputs = (InputSlot("source", "audio", "Audio", min_seconds=0.1, max_seconds=3600.0,
                        help="Any audio; the result has its length and sample rate.", carries=("content", "voice")),)
    params = (
        Param("bitrate_kbps", "float", 12.0, min=6.0, max=256.0, step=1.0, unit="kbit/s", label="Bit rate",
              help="Target bit rate (variable). About 6-12 kbit/s is where neural speech codecs compete; from "
                   "24 kbit/s speech is near transparent."),
        Param("application", "choice", "voip", choices=APPLICATIONS,
              help="What the encoder tunes for: speech intelligibility, fidelity for music, or the lowest delay."),
        Param("complexity", "int", 10, min=0, max=10, step=1, advanced=True,
              help="Encoder effort: 10 is best quality, lower is faster."),
    )

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        return None

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        from studio.audio.io import read_audio, resample, write_audio

        audio, rate = read_audio(request.inputs["source"].path)
        p = request.params
        with tempfile.TemporaryDirectory(prefix="studio-opus-") as tmp:
            source, encoded = Path(tmp) / "source.wav", Path(tmp) / "encoded.opus"
            write_audio(source, audio, rate)
            progress(0.1, f"Encoding at {p['bitrate_kbps']:g} kbit/s")
            done = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-c:a", "libopus",
                                   "-b:a", f"{p['bitrate_kbps']:g}k", "-application", p["application"],
                                   "-compression_level", str(p["complexity"]), str(encoded)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise EngineError(f"ffmpeg could not encode Opus: {done.stderr.strip()[:300]} (Debian's ffmpeg has "
                                  f"libopus: sudo apt install ffmpeg).")
            size = encoded.stat().st_size
            progress(0.6, "Decoding")
            decoded, decoded_rate = read_audio(encoded)
        decoded = resample(decoded, decoded_rate, rate)[: len(audio)]
        seconds = len(audio) / rate
        return Result(decoded, rate, {"codec": "Opus", "bitrate_kbps": round(size * 8 / seconds / 1000, 2),
                                      "nominal_kbps": p["bitrate_kbps"]})
