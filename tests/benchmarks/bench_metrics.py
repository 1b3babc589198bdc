"""Metrics benchmark: prints ratios measured in one run (not a test; nothing here asserts).

    .venv/bin/python tests/benchmarks/bench_metrics.py [--pairs 100] [--full-crepe-pairs 5]

- per metric group, over a set of reference/generated pairs made by the default engine (Hibari, ~3-6 s each):
  files per second (pairs scored per second, models already loaded) and cost relative to the audio duration
  (compute seconds per second of generated audio; 0.01 = 100x faster than real time)
- the whole set as one 'evaluate' job through the service (every default metric, CREPE tiny): items per second
- CREPE full (Amphion's periodicity model) on a few pairs only: it is slow on a CPU
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Every voice in this studio is rendered on your own computer.",
    "A metric is only as good as the audio it is given.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
)


def make_pairs(folder: Path, count: int) -> float:
    """`count` pairs (same sentence, different seed and pace); returns the generated audio's total duration."""
    import soundfile as sf

    from tests.evaluation_fixtures import hibari

    total = 0.0
    for n in range(count):
        text = SENTENCES[n % len(SENTENCES)]
        reference, rate = hibari(text, seed=n)
        generated, _ = hibari(text, seed=1000 + n, speed=0.9 + 0.02 * (n % 10))
        sf.write(str(folder / "reference" / f"{n:03d}.wav"), reference, rate)
        sf.write(str(folder / "generated" / f"{n:03d}.wav"), generated, rate)
        (folder / "generated" / f"{n:03d}.txt").write_text(text)
        total += len(generated) / rate
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--full-crepe-pairs", type=int, default=5)
    args = parser.parse_args()

    from studio.evaluation import EvaluationRequest
    from studio.evaluation.inputs import pair_folders
    from studio.metrics import GROUPS, Clip, EngineScorers, Item, Options, score_item
    from studio.services import build_services
    from studio.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    for sub in ("reference", "generated"):
        (work / sub).mkdir()
    started = time.perf_counter()
    audio_seconds = make_pairs(work, args.pairs)
    print(f"made {args.pairs} pairs with Hibari in {time.perf_counter() - started:.1f} s "
          f"({audio_seconds:.0f} s of generated audio, {audio_seconds / args.pairs:.1f} s each)")

    services = build_services(Settings.load(home=work / "home"))
    scorers = EngineScorers(services.registry, services.models.use, services.transcription.transcribe)
    sources = pair_folders(work / "reference", work / "generated")

    def load_items() -> list[Item]:  # fresh clips: no resampled audio or alignment left over from another group
        return [Item(s.name, Clip.load(s.generated), Clip.load(s.reference), s.text) for s in sources]

    items = load_items()
    options = Options(periodicity_model="tiny")

    print(f"\n{'group':<12} {'metrics':<52} {'files/s':>8} {'cost/audio s':>13}")
    for group in GROUPS:
        score_item(items[0], group.keys, options, scorers)  # load the models, warm the caches
        fresh = load_items()
        started = time.perf_counter()
        failures = sum(bool(score_item(item, group.keys, options, scorers).errors) for item in fresh)
        elapsed = time.perf_counter() - started
        note = f"  ({failures} items had messages)" if failures else ""
        print(f"{group.name:<12} {', '.join(group.keys)[:52]:<52} {len(items) / elapsed:>8.1f} "
              f"{elapsed / audio_seconds:>13.4f}{note}")

    few = items[: args.full_crepe_pairs]
    full = Options(periodicity_model="full")
    score_item(few[0], ["f0_periodicity_rmse"], full, scorers)
    started = time.perf_counter()
    for item in load_items()[: args.full_crepe_pairs]:
        score_item(item, ["f0_periodicity_rmse"], full, scorers)
    elapsed = time.perf_counter() - started
    few_seconds = sum(i.generated.duration for i in few)
    print(f"{'periodicity':<12} {'f0_periodicity_rmse with CREPE full (Amphion)':<52} {len(few) / elapsed:>8.2f} "
          f"{elapsed / few_seconds:>13.4f}  (on {len(few)} pairs)")

    services.jobs.start()
    try:
        request = EvaluationRequest("set", str(work / "generated"), str(work / "reference"),
                                    options={"periodicity_model": "tiny"})
        started = time.perf_counter()
        job = services.jobs.wait(services.evaluation.submit(request).id, timeout=24 * 3600)
        elapsed = time.perf_counter() - started
        report = services.evaluation.report(job.id)
        print(f"\nwhole set as one job, every default metric ({len(report.metrics) if report else 0}): "
              f"{args.pairs / elapsed:.2f} pairs/s, cost/audio s {elapsed / audio_seconds:.3f}, state {job.state.value}")
    finally:
        services.stop()


if __name__ == "__main__":
    main()
