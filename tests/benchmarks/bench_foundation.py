"""Foundation benchmark: prints ratios measured in one run (not a test; nothing here asserts).

    .venv/bin/python tests/benchmarks/bench_foundation.py

- start-up: studio process start to its first page served, against a bare NiceGUI app doing the same
- engine listing: a fresh interpreter listing and checking every engine, against one that only imports the contract
- default engine real-time factor through the studio (submit to finished / audio duration)
- studio overhead: job wall time (started to finished, as the queue records it) / engine.run time for the
  same 10 s utterance (target <= 1.02); also submit-to-finished, which adds the hand-over to the worker thread
- memory after unloading relative to before loading
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

TEN_SECONDS = ("The studio keeps every voice you make. It measures each model as it loads, keeps the total under a "
               "budget you choose, and frees the memory again when you are done.")
BARE_APP = "from nicegui import ui\n@ui.page('/')\ndef index():\n    ui.label('hi')\nui.run(port={port}, show=False, reload=False)\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seconds_to_first_page(command: list[str], env: dict[str, str], port: int) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"{command} exited early") from None
                time.sleep(0.02)
    finally:
        process.terminate()
        process.wait(timeout=20)


def startup(home: Path) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "NICEGUI_", "PYTEST_"))}
    port = free_port()
    studio = seconds_to_first_page([sys.executable, "-m", "studio", "serve"],
                                   {**env, "STUDIO_HOME": str(home), "STUDIO_PORT": str(port),
                                    "STUDIO_HOST": "127.0.0.1"}, port)
    port = free_port()
    bare_file = home / "bare_app.py"
    bare_file.write_text(BARE_APP.format(port=port))
    bare = seconds_to_first_page([sys.executable, str(bare_file)], env, port)
    return studio, bare


def listing() -> tuple[float, float]:
    def timed(code: str) -> float:
        out = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter()\n" + code +
                              "\nprint(time.perf_counter() - t)"], cwd=REPO, capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])

    full = min(timed("from engines.registry import Registry\nr = Registry()\n[e.check() for e in r]") for _ in range(3))
    contract = min(timed("import engines.contract") for _ in range(3))
    return full, contract


def through_the_studio(home: Path) -> dict[str, float]:
    os.environ["STUDIO_HOME"] = str(home / "inprocess")
    from studio import memory
    from studio.services import build_services
    from studio.settings import Settings

    services = build_services(Settings.load())
    services.jobs.start()
    finished: dict[str, threading.Event] = {}
    services.jobs.on_finished(lambda job: finished[job.id].set())

    def job_seconds(text: str, seed: int):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        job = services.generation.submit("builtin.hibari", {"text": text}, {"seed": seed})
        finished[job.id] = threading.Event()
        if job.state.value in ("queued", "running"):
            finished[job.id].wait(60)
        end_to_end = time.perf_counter() - started
        return end_to_end, services.jobs.get(job.id)

    services.models.device  # noqa: B018  (resolves the device before the baseline; torch is imported only with a GPU)
    import hibari  # noqa: F401
    import onnxruntime  # noqa: F401

    before_load = memory.usage("cpu").total
    job_seconds("Warm up.", 0)  # loads the model
    walls, ends, runs, duration = [], [], [], 0.0
    for i in range(21):
        end_to_end, job = job_seconds(TEN_SECONDS, i)
        ends.append(end_to_end)
        walls.append(job.finished_at - job.started_at)
        runs.append(job.result["engine_seconds"])  # engine.run alone, timed inside the same job
        duration = job.result["duration"]
    loaded = memory.usage("cpu").total
    reports = services.models.unload_all()
    assert not any(r.references_remain for r in reports), [r.message for r in reports]
    after_unload = memory.usage("cpu").total
    services.jobs.stop()
    return {"duration": duration, "end_to_end": statistics.median(ends),
            "run": statistics.median(runs), "before": before_load, "loaded": loaded, "after": after_unload,
            # each job against its own engine.run: the engine's own run-to-run spread does not enter the ratio
            "overhead": statistics.median(w / r for w, r in zip(walls, runs)),
            "extra": statistics.median(w - r for w, r in zip(walls, runs))}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        home = Path(tmp)
        studio_start, bare_start = startup(home / "serve")
        full_listing, contract_import = listing()
        numbers = through_the_studio(home)
    print(f"start-up to first page:      studio {studio_start:.2f} s, bare NiceGUI {bare_start:.2f} s, "
          f"ratio {studio_start / bare_start:.2f}")
    print(f"listing every engine (cold): {full_listing * 1000:.0f} ms, importing the contract alone "
          f"{contract_import * 1000:.0f} ms, ratio {full_listing / contract_import:.2f}")
    print(f"default engine through the studio: {numbers['duration']:.1f} s of speech in {numbers['end_to_end']:.3f} s, "
          f"real-time factor {numbers['end_to_end'] / numbers['duration']:.4f}")
    print(f"studio overhead (job wall / engine.run, same 10 s utterance, median over 21 jobs): "
          f"{numbers['overhead']:.3f} (target <= 1.02), {numbers['extra'] * 1000:.1f} ms per job on an engine.run "
          f"of {numbers['run'] * 1000:.0f} ms; submit to finished {numbers['end_to_end'] / numbers['run']:.3f}")
    model_bytes = numbers["loaded"] - numbers["before"]
    print(f"memory after unload / before load: {numbers['after'] / numbers['before']:.3f} "
          f"(the loaded model took {model_bytes / 1e6:.0f} MB; {(numbers['after'] - numbers['before']) / 1e6:+.0f} MB "
          f"remain)")


if __name__ == "__main__":
    main()
