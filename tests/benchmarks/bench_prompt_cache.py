"""Prompt cache benchmark: prints ratios measured in one run (not a test; nothing here asserts).

    .venv/bin/python tests/benchmarks/bench_prompt_cache.py

Two engines, each timed on the first generation with a voice (computed), the second (from memory) and the first
after a restart of the services (from disk):
- `test.prompted`, whose prompt stage encodes a 7 s reference with Whisper tiny.en's encoder (a real
  computation, as a zero-shot engine's speaker or semantic encoder is); times are the engine's own measurement
  of that stage; target >= 5x
- DualCodec-VALLE on the tiny checkpoints (tests/dualcodec_tiny.py): its prompt stage is w2v-BERT 2.0 features
  and the codec's encoder on the reference; times are those of `get_or_compute` on the studio's prompt cache
  (computing, or finding, the codes), summed over the job
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

ROUNDS = 5


def generate(services: Any, engine_id: str, inputs: dict[str, Any], params: dict[str, Any],
             expected: dict[str, int]) -> dict[str, Any]:
    job = services.generation.submit(engine_id, inputs, params)
    done = services.jobs.wait(job.id, 300)
    assert done.state.value == "succeeded", done.error
    assert done.result["prompt_cache"] == expected, done.result["prompt_cache"]
    return done.result


def rounds(start: Callable[[], Any], references: list[dict[str, Any]],
           measure: Callable[[Any, dict[str, Any], bool], float], label: str) -> None:
    """Each reference computed, then from memory (`measure(services, reference, cached)` gives the prompt stage's
    seconds); then, after a restart, each from disk; prints the medians."""
    services = start()
    firsts, seconds = [], []
    for reference in references:
        firsts.append(measure(services, reference, False))
        seconds.append(measure(services, reference, True))
    services.stop()
    services.models.unload_all()
    restarted = start()
    from_disk = [measure(restarted, reference, True) for reference in references]
    restarted.stop()
    restarted.models.unload_all()
    first, second, disk = (statistics.median(x) for x in (firsts, seconds, from_disk))
    n = len(references)
    print(f"{label}")
    print(f"  prompt stage, first generation (computed):  {first * 1000:9.2f} ms (median of {n})")
    print(f"  prompt stage, second generation (memory):   {second * 1000:9.3f} ms  -> {first / second:,.0f}x faster")
    print(f"  prompt stage, after a restart (disk):       {disk * 1000:9.3f} ms  -> {first / disk:,.0f}x faster")


def whisper_encoder_round(home: Path) -> None:
    from engines.contract import Progress
    from studio.services import build_services
    from studio.settings import Settings
    from tests.conftest import SENTENCE
    from tests.library_fixtures import hibari_speech, write

    def start() -> Any:
        services = build_services(Settings.load())
        services.start()
        services.models.load(services.registry.get("test.prompted"), {}, Progress())  # load time is not prompt time
        return services

    def measure(services: Any, reference: dict[str, Any], cached: bool) -> float:
        result = generate(services, "test.prompted", {"text": "Hello.", "reference": reference}, {},
                          {"hits": 1, "misses": 0} if cached else {"hits": 0, "misses": 1})
        return result["extras"]["prompt_seconds"]

    setup = start()
    references = []
    for i in range(ROUNDS):
        voice = setup.library.create_profile(f"Voice {i}")
        setup.library.add_file(voice.id, write(home / f"ref{i}.wav", hibari_speech(SENTENCE, seed=i)),
                               transcript=SENTENCE, transcribe=False)
        references.append({"profile": voice.id})
    setup.stop()
    rounds(start, references, measure, "test.prompted (Whisper tiny.en encoder; target >= 5x)")


def dualcodec_round(home: Path) -> None:
    from huggingface_hub import constants

    from tests import dualcodec_tiny, maskgct_tiny
    from tests.runtimes.tiny import link_into_hub_cache

    hub, work = home / "hub", home / "dualcodec"
    repos = dualcodec_tiny.build_all(work)
    for repo, key in ((dualcodec_tiny.W2V, "w2v"), (dualcodec_tiny.CODEC, "codec"), (dualcodec_tiny.TTS, "tts")):
        link_into_hub_cache(hub, repo, repos[key])
    constants.HF_HUB_CACHE = str(hub)
    os.environ["HF_HUB_CACHE"] = str(hub)
    params = {"config": str(repos["configs"]), "seed": 1}

    from engines.contract import Progress
    from studio.services import build_services
    from studio.settings import Settings

    def start() -> Any:
        services = build_services(Settings.load())
        services.start()
        services.models.load(services.registry.get("amphion.dualcodec_valle"), params, Progress())
        original = services.prompt_cache.get_or_compute
        services.prompt_timings = []

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                services.prompt_timings.append(time.perf_counter() - started)

        services.prompt_cache.get_or_compute = timed
        return services

    def measure(services: Any, reference: dict[str, Any], cached: bool) -> float:
        services.prompt_timings.clear()
        generate(services, "amphion.dualcodec_valle", {"text": "Hello there.", "reference": reference}, params,
                 {"hits": 1, "misses": 0} if cached else {"hits": 0, "misses": 1})
        return sum(services.prompt_timings)

    references = [{"path": str(maskgct_tiny.reference_clip(home / f"dc{i}.wav", 3.0, pitch=140.0 + 15 * i)),
                   "transcript": "A reference clip for the benchmark."} for i in range(ROUNDS)]
    rounds(start, references, measure, "amphion.dualcodec_valle (tiny checkpoints: w2v-BERT features and codec "
                                       "encoder)")


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-prompt-cache-"))
    os.environ.update(STUDIO_HOME=str(home), STUDIO_ENGINE_PACKAGES="tests.fake_engines", HF_HUB_OFFLINE="1")
    whisper_encoder_round(home)
    dualcodec_round(home)


if __name__ == "__main__":
    main()
