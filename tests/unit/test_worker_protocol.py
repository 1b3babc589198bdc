"""The pipe to a runtime worker, with the studio's own interpreter standing in for a runtime and a probe adapter:
progress, cancellation (acknowledged, or forced on a worker that does not listen), failures, crashes, memory."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from engines.contract import Cancelled, EngineError, InvalidRequest, Progress
from engines.isolated import client
from engines.isolated.client import WorkerProcess
from engines.isolated.runtime import Runtime, RuntimeSpec

ADAPTER = "tests.runtimes.probe_adapter"
CHECKOUT = {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}  # where the probe adapter is


@pytest.fixture
def worker(tmp_path: Path):  # type: ignore[no-untyped-def]
    runtime = Runtime(RuntimeSpec("probe", "Probe", "json", "pip", "a test stand-in"), tmp_path)
    (runtime.dir / "bin").mkdir(parents=True)
    (runtime.dir / "bin" / "python").symlink_to(sys.executable)
    process = WorkerProcess(runtime, ADAPTER, tmp_path / "logs" / "runtime-probe.log", CHECKOUT)
    process.request("load", {"device": "cpu", "options": {"megabytes": 50}, "weights": {"model": "/nowhere"}})
    yield process
    process.stop()


def run(worker: WorkerProcess, text: str, tmp_path: Path, progress: Progress | None = None) -> dict:
    return worker.request("run", {"inputs": {"text": text}, "params": {}, "output": str(tmp_path / "out.wav")},
                          progress)


def test_progress_arrives_and_audio_comes_back_as_a_file(worker: WorkerProcess, tmp_path: Path) -> None:
    stages: list[str] = []
    answer = run(worker, "steps 20", tmp_path, Progress(lambda fraction, stage: stages.append(stage)))
    assert answer == {"sample_rate": 16_000, "extras": {"steps": 20, "device": "cpu"}}
    assert stages[0] == "Step 1 of 20" and len(stages) >= 2
    audio, rate = sf.read(str(tmp_path / "out.wav"))
    assert rate == 16_000 and len(audio) == 3_200
    assert worker.info["versions"] == {"probe": "1"} and worker.rss() > 50_000_000


def test_library_output_on_stdout_goes_to_the_log(worker: WorkerProcess, tmp_path: Path) -> None:
    assert run(worker, "noisy 2", tmp_path)["extras"]["steps"] == 2
    deadline = time.monotonic() + 5
    while "raw bytes on fd 1" not in worker.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "library chatter on stdout" in worker.log_path.read_text()


def test_a_cancel_stops_the_worker_at_its_next_checkpoint(worker: WorkerProcess, tmp_path: Path) -> None:
    cancelled = {"now": False}

    def report(fraction: float | None, stage: str) -> None:
        if stage == "Step 5 of 1000":
            cancelled["now"] = True

    with pytest.raises(Cancelled):
        run(worker, "steps 1000", tmp_path, Progress(report, lambda: cancelled["now"]))
    assert worker.alive  # it stopped the request, not itself
    assert run(worker, "steps 1", tmp_path)["extras"]["steps"] == 1


def test_a_worker_that_ignores_a_cancel_is_ended(worker: WorkerProcess, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "CANCEL_GRACE", 0.5)
    started = time.monotonic()
    with pytest.raises(Cancelled):
        run(worker, "stubborn", tmp_path, Progress(is_cancelled=lambda: time.monotonic() - started > 0.3))
    assert not worker.alive


def test_failures_keep_their_kind_and_a_crash_is_explained(worker: WorkerProcess, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="^The probe was asked to fail.$"):
        run(worker, "fail", tmp_path)
    with pytest.raises(EngineError, match=r"The Probe runtime failed \(ValueError: a bug in the probe\)"):
        run(worker, "bug", tmp_path)
    with pytest.raises(InvalidRequest, match="no such voice"):
        run(worker, "invalid", tmp_path)
    with pytest.raises(EngineError, match=r"The Probe runtime stopped during run \(exit code 3\).*runtime-probe.log"):
        run(worker, "crash", tmp_path)


def test_a_prompt_the_worker_cannot_make_says_whether_the_model_or_the_adapter_lacks(worker: WorkerProcess,
                                                                                      tmp_path: Path) -> None:
    prompt = {"inputs": {}, "params": {}, "output": str(tmp_path / "prompt")}
    with pytest.raises(EngineError, match="^The adapter tests.runtimes.probe_adapter makes no voice prompts"):
        worker.request("prompt", prompt)
    worker.request("unload", {})
    with pytest.raises(EngineError, match="^The model is not loaded in the runtime.$"):
        worker.request("prompt", prompt)


def test_the_worker_reports_its_memory_and_leaves_when_the_studio_goes(worker: WorkerProcess) -> None:
    import psutil

    assert worker.memory()["rss"] > 50_000_000  # the probe holds 50 MB of ballast
    process = psutil.Process(worker.pid)
    worker.process.stdin.close()  # the studio went away: the worker leaves on its own
    process.wait(timeout=10)


def test_a_dropped_handle_does_not_leave_a_worker_behind(tmp_path: Path) -> None:
    import gc

    import psutil

    runtime = Runtime(RuntimeSpec("probe", "Probe", "json", "pip", "a test stand-in"), tmp_path)
    (runtime.dir / "bin").mkdir(parents=True)
    (runtime.dir / "bin" / "python").symlink_to(sys.executable)
    handle = WorkerProcess(runtime, ADAPTER, tmp_path / "probe.log", CHECKOUT)
    process = psutil.Process(handle.pid)
    del handle
    gc.collect()
    process.wait(timeout=10)
