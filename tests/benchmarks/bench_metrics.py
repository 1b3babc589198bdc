"""Metrics benchmark: prints ratios measured in one run (not a test; nothing here asserts).

    .venv/bin/python tests/benchmarks/bench_metrics.py [--pairs 100] [--full-crepe-pairs 5]

- per metric, over a set of reference/generated pairs made by the default engine (Hibari, ~3-6 s each): files per
  second (pairs scored per second, models already loaded) and cost relative to the audio duration (compute seconds per
  second of generated audio; 0.01 = 100x faster than real time). Metrics computed from one shared analysis are timed
  together and say so (the F0 metrics share one pitch track per clip, energy RMSE and correlation one STFT, WER and
  CER one transcript per clip, the DNSMOS scores one model run).
- FAD over the whole set (both sets embedded, one Fréchet distance): with VGGish or CLAP when downloaded; else, when
  torchvggish is installed, VGGish's network with random weights (the timing is real, the value is not).
- the whole set as one 'evaluate' job through the service (every default metric, CREPE tiny): items per second
- CREPE full (Amphion's periodicity model) on a few pairs only: it is slow on a CPU
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WIDTH = 68  # the metric column
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

    print(f"\n{'metric':<{WIDTH}} {'files/s':>8} {'cost/audio s':>13}")
    for group in GROUPS:
        score_item(items[0], group.keys, options, scorers)  # load the models, warm the caches
        fresh = load_items()
        started = time.perf_counter()
        failures = sum(bool(score_item(item, group.keys, options, scorers).errors) for item in fresh)
        elapsed = time.perf_counter() - started
        note = f"  ({failures} items had messages)" if failures else ""
        shared = "  (together: one shared analysis)" if len(group.keys) > 1 else ""
        print(f"{', '.join(group.keys):<{WIDTH}} {len(items) / elapsed:>8.1f} {elapsed / audio_seconds:>13.4f}"
              f"{shared}{note}")

    few = items[: args.full_crepe_pairs]
    full = Options(periodicity_model="full")
    score_item(few[0], ["f0_periodicity_rmse"], full, scorers)
    started = time.perf_counter()
    for item in load_items()[: args.full_crepe_pairs]:
        score_item(item, ["f0_periodicity_rmse"], full, scorers)
    elapsed = time.perf_counter() - started
    few_seconds = sum(i.generated.duration for i in few)
    print(f"{'f0_periodicity_rmse with CREPE full (Amphion)':<{WIDTH}} {len(few) / elapsed:>8.2f} "
          f"{elapsed / few_seconds:>13.4f}  (on {len(few)} pairs)")

    services.jobs.start()
    try:
        fad_benchmark(services, work, args.pairs, audio_seconds)
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


def fad_benchmark(services, work: Path, pairs: int, audio_seconds: float) -> None:  # type: ignore[no-untyped-def]
    """FAD of the generated set against the reference set, as one job: every clip of both sets embedded, then the
    Fréchet distance of the two Gaussians."""
    from studio.evaluation import EvaluationRequest

    ready = [name for name, engine in (("vggish", "metric.vggish"), ("clap", "metric.clap"))
             if services.registry.get(engine).check().ready]
    label = f"fad ({ready[0]})" if ready else ""
    if not ready:
        try:
            random_vggish(work / "torch-home")
        except ImportError:
            print(f"{'fad':<{WIDTH}} needs a download: amphion-studio download metric.vggish (or metric.clap)")
            return
        ready, label = ["vggish"], "fad (VGGish's network, random weights: the timing only)"
    request = EvaluationRequest("set", str(work / "generated"), str(work / "reference"), metrics=("fad",),
                                options={"fad_model": ready[0]})
    services.jobs.wait(services.evaluation.submit(request).id, timeout=3600)  # loads the model
    started = time.perf_counter()
    job = services.jobs.wait(services.evaluation.submit(request).id, timeout=24 * 3600)
    elapsed = time.perf_counter() - started
    report = services.evaluation.report(job.id)
    problem = (report.set_errors.get("fad") if report else None) or job.error
    print(f"{label:<{WIDTH}} {pairs / elapsed:>8.1f} {elapsed / audio_seconds:>13.4f}"
          f"  (the set of {pairs} pairs: both sets embedded){f'  ({problem})' if problem else ''}")


def random_vggish(torch_home: Path) -> None:
    """torchvggish's network with random weights where torch.hub keeps vggish-10086976.pth, under a TORCH_HOME of
    this run's own (the real weights are a 289 MB download this machine may not have)."""
    import torch
    from torchvggish.torchvggish import VGG, make_layers

    target = torch_home / "hub" / "checkpoints" / "vggish-10086976.pth"
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(VGG(make_layers(), postprocess=False).state_dict(), target)
    os.environ["TORCH_HOME"] = str(torch_home)


if __name__ == "__main__":
    main()
