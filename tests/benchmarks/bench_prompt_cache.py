"""Prompt cache benchmark: prints ratios measured in one run (not a test; nothing here asserts).

    .venv/bin/python tests/benchmarks/bench_prompt_cache.py

The prompt stage of `test.prompted` encodes a 7 s reference with Whisper tiny.en's encoder (a real computation,
as a zero-shot engine's speaker or semantic encoder is). Times are the engine's own measurement of that stage,
taken in the generation job, for:
- the first generation with a voice profile (computed) against the second (from memory); target >= 5x
- the first generation after a restart of the services (from disk) against the first ever
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

ROUNDS = 5


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-prompt-cache-"))
    os.environ.update(STUDIO_HOME=str(home), STUDIO_ENGINE_PACKAGES="tests.fake_engines", HF_HUB_OFFLINE="1")
    from engines.contract import Progress
    from studio.services import build_services
    from studio.settings import Settings
    from tests.conftest import SENTENCE
    from tests.library_fixtures import hibari_speech, write

    def prompt_seconds(services, reference) -> tuple[float, dict]:  # type: ignore[no-untyped-def]
        job = services.generation.submit("test.prompted", {"text": "Hello.", "reference": reference})
        done = services.jobs.wait(job.id, 120)
        assert done.state.value == "succeeded", done.error
        return done.result["extras"]["prompt_seconds"], done.result["prompt_cache"]

    services = build_services(Settings.load())
    services.start()
    services.models.load(services.registry.get("test.prompted"), {}, Progress())  # load time is not prompt time
    firsts, seconds, from_disk = [], [], []
    voices = []
    for i in range(ROUNDS):
        voice = services.library.create_profile(f"Voice {i}")
        services.library.add_file(voice.id, write(home / f"ref{i}.wav", hibari_speech(SENTENCE, seed=i)),
                                  transcript=SENTENCE, transcribe=False)
        voices.append(voice.id)
        first, stats = prompt_seconds(services, {"profile": voice.id})
        assert stats == {"hits": 0, "misses": 1}
        second, stats = prompt_seconds(services, {"profile": voice.id})
        assert stats == {"hits": 1, "misses": 0}
        firsts.append(first)
        seconds.append(second)
    services.stop()
    restarted = build_services(Settings.load())
    restarted.start()
    for voice_id in voices:
        seconds_disk, stats = prompt_seconds(restarted, {"profile": voice_id})
        assert stats == {"hits": 1, "misses": 0}
        from_disk.append(seconds_disk)
    restarted.stop()
    first, second, disk = (statistics.median(x) for x in (firsts, seconds, from_disk))
    print(f"prompt stage, first generation (computed):  {first * 1000:8.2f} ms (median of {ROUNDS})")
    print(f"prompt stage, second generation (memory):   {second * 1000:8.3f} ms  -> {first / second:,.0f}x faster"
          f" (target >= 5x)")
    print(f"prompt stage, after a restart (disk):       {disk * 1000:8.3f} ms  -> {first / disk:,.0f}x faster")


if __name__ == "__main__":
    main()
