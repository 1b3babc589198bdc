"""Offline converter benchmark: prints real-time factors and peak memory (not a test; nothing here asserts).

    .venv/bin/python tests/benchmarks/bench_conversion.py [minutes]

For a source of `minutes` (default 5) of speech from the default engine with pauses, at 24 and 48 kHz, with
each pitch tracker: the conversion's real-time factor (engine time / audio duration) and the process's peak
resident memory growth during it (the converter works in blocks, so this should not grow with the length).
Each case runs in a fresh interpreter so the peaks do not mix.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CASE = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from engines.contract import AudioInput, Progress
from engines.registry import Registry
engine = Registry().get("builtin.world_vc")
model = engine.load("cpu", Progress())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
result = engine.run(model, engine.validate({{"source": AudioInput({path!r})}},
                    {{"semitones": 3, "formant_shift": 1.1, "pitch_match": "off", "match_formants": False,
                      "f0_method": {method!r}}}), Progress())
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"rtf": seconds / result.duration, "growth_mb": (peak - before) / 1024,
                  "blocks": result.extras["blocks"]}}))
"""


def make_source(folder: Path, minutes: float, rate: int) -> Path:
    import numpy as np

    sys.path.insert(0, str(REPO))
    from studio.audio.io import resample, write_audio
    from tests.audio_measures import speech

    audio, sr = speech()
    phrase = np.concatenate([resample(audio, sr, rate), np.zeros(rate // 3, np.float32)])
    repeats = int(np.ceil(minutes * 60 * rate / len(phrase)))
    path = folder / f"source-{rate}.wav"
    write_audio(path, np.tile(phrase, repeats)[: int(minutes * 60 * rate)], rate)
    return path


def main() -> None:
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    with tempfile.TemporaryDirectory() as folder:
        for rate in (24_000, 48_000):
            path = make_source(Path(folder), minutes, rate)
            for method in ("dio", "harvest"):
                out = subprocess.run([sys.executable, "-c", CASE.format(repo=str(REPO), path=str(path), method=method)],
                                     capture_output=True, text=True, check=True)
                numbers = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{minutes:g} min at {rate / 1000:g} kHz, {method:7s}: RTF {numbers['rtf']:.3f}, "
                      f"peak memory +{numbers['growth_mb']:.0f} MB, {numbers['blocks']} blocks")


if __name__ == "__main__":
    main()
