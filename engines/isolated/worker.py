"""The worker inside an isolated runtime: runs one adapter, speaking small JSON messages over stdin/stdout.

Started by the studio as `<runtime python> -m engines.isolated.worker <adapter module>` with the studio's
source on PYTHONPATH. Only the standard library is imported here, so this module loads in any runtime.

Protocol (one JSON object per line):
    studio -> worker  {"id": 1, "op": "load", "device": "cuda", "options": {...}, "weights": {name: path}}
                      {"id": 2, "op": "run", "inputs": {...}, "params": {...}, "output": "/abs/path.wav"}
                      {"id": 5, "op": "prompt", "inputs": {...}, "params": {...}, "output": "/abs/path.prompt"}
                      {"id": 3, "op": "memory"}   {"id": 4, "op": "unload"}   {"op": "cancel", "id": 2}
                      {"op": "exit"}
    worker -> studio  {"ready": {"pid": ..., "versions": {...}}}            once, after start-up
                      {"id": 2, "progress": 0.4, "stage": "Sampling speech tokens"}
                      {"id": 2, "ok": {...}}  or  {"id": 2, "error": {"kind": ..., "message": ..., "traceback": ...}}
Audio travels as files under STUDIO_HOME, never through the pipe. Library output printed to stdout is sent to
stderr (the runtime's log) so it can never corrupt the protocol.

An adapter module defines `load(device, options, weights, progress) -> model`, `run(model, inputs, params,
output, progress) -> dict` (with "sample_rate" and "extras"; the audio is written to `output`), and optionally
`prompt(model, inputs, params, output, progress)` (writes the voice prompt of the reference to `output`; `run`
then finds that file as the reference's "prompt"), `unload(model)` and `versions() -> dict`. `progress(fraction, stage)` raises Cancelled once the studio asked
to cancel; EngineError / InvalidRequest carry messages written for the user.
"""
from __future__ import annotations

import gc
import importlib
import json
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class EngineError(Exception):
    """A failure whose message is written for the user."""


class InvalidRequest(EngineError):
    """The request does not fit the model (a speaker it lacks, a language it does not speak)."""


class Cancelled(Exception):
    """The studio asked to cancel the running request."""


Progress = Callable[[float | None, str], None]
REPORT_SECONDS = 0.1


@contextmanager
def on_each_call(module: Any, report: Callable[[int], None]) -> Iterator[None]:
    """Call `report(n)` before the n-th forward call of a torch module (a step of an autoregressive loop or of
    a sampler), for progress and cancellation inside code that has no hooks of its own."""
    calls = [0]

    def hook(*_: Any) -> None:
        calls[0] += 1
        report(calls[0])

    handle = module.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class Worker:
    def __init__(self, adapter: Any, out: Any) -> None:
        self.adapter = adapter
        self.out = out
        self.write_lock = threading.Lock()
        self.requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.cancelled: set[int] = set()
        self.model: Any = None

    def send(self, message: dict[str, Any]) -> None:
        with self.write_lock:
            self.out.write(json.dumps(message) + "\n")
            self.out.flush()

    def read_requests(self, stream: Any) -> None:
        """Reader thread: cancels take effect at once; everything else queues for the main thread."""
        for line in stream:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("op") == "cancel":
                self.cancelled.add(message.get("id"))
            else:
                self.requests.put(message)
        self.requests.put(None)  # the studio went away

    def progress_for(self, request_id: int) -> Progress:
        """Checks for a cancel on every call; sends a report when the stage changes or every REPORT_SECONDS."""
        last = {"stage": None, "time": 0.0}

        def progress(fraction: float | None = None, stage: str = "") -> None:
            if request_id in self.cancelled:
                raise Cancelled()
            now = time.monotonic()
            if stage != last["stage"] or now - last["time"] >= REPORT_SECONDS:
                last.update(stage=stage, time=now)
                self.send({"id": request_id, "progress": fraction, "stage": stage})
        return progress

    def serve(self) -> None:
        while True:
            message = self.requests.get()
            if message is None or message.get("op") == "exit":
                return
            request_id = message.get("id")
            try:
                result = self.handle(message, self.progress_for(request_id))
                self.send({"id": request_id, "ok": result})
            except Exception as exc:  # every failure goes back as a message; the traceback too
                self.send({"id": request_id, "error": describe(exc)})
            finally:
                self.cancelled.discard(request_id)

    def handle(self, message: dict[str, Any], progress: Progress) -> dict[str, Any]:
        op = message.get("op")
        if op == "load":
            self.model = self.adapter.load(message["device"], message.get("options", {}), message.get("weights", {}),
                                           progress)
            return {"memory": memory()}
        if op in ("run", "prompt") and self.model is None:
            raise EngineError("The model is not loaded in the runtime.")
        if op == "run":
            return self.adapter.run(self.model, message.get("inputs", {}), message.get("params", {}),
                                    message["output"], progress)
        if op == "prompt":
            if not hasattr(self.adapter, "prompt"):
                raise EngineError(f"The adapter {self.adapter.__name__} makes no voice prompts (it has no `prompt`), "
                                  f"yet its engine declares a prompt_slot.")
            self.adapter.prompt(self.model, message.get("inputs", {}), message.get("params", {}), message["output"],
                                progress)
            return {}
        if op == "unload":
            if self.model is not None and hasattr(self.adapter, "unload"):
                self.adapter.unload(self.model)
            self.model = None
            release()
            return {"memory": memory()}
        if op == "memory":
            return {"memory": memory()}
        raise EngineError(f"Unknown request {op!r}.")


def describe(exc: BaseException) -> dict[str, str]:
    if isinstance(exc, Cancelled):
        kind = "Cancelled"
    elif isinstance(exc, InvalidRequest):
        kind = "InvalidRequest"
    elif isinstance(exc, EngineError):
        kind = "EngineError"
    elif isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or \
            "out of memory" in str(exc).lower():
        kind = "OutOfMemory"
    else:
        kind = type(exc).__name__
    return {"kind": kind, "message": str(exc), "traceback": traceback.format_exc()}


def memory() -> dict[str, Any]:
    """This process's resident memory and, when torch uses CUDA, its allocations."""
    report: dict[str, Any] = {"rss": _rss()}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        report["cuda_allocated"] = torch.cuda.memory_allocated()
        report["cuda_reserved"] = torch.cuda.memory_reserved()
        report["integrated"] = bool(getattr(torch.cuda.get_device_properties(0), "is_integrated", False))
    return report


def _rss() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def release() -> None:
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def main(argv: list[str]) -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # whatever libraries print goes to the log, not into the protocol
    sys.stdout = sys.stderr
    adapter = importlib.import_module(argv[0])
    worker = Worker(adapter, protocol)
    versions = adapter.versions() if hasattr(adapter, "versions") else {}
    worker.send({"ready": {"pid": os.getpid(), "python": sys.version.split()[0], "versions": versions}})
    threading.Thread(target=worker.read_requests, args=(sys.stdin,), name="requests", daemon=True).start()
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
