"""The studio's side of the pipe to a runtime worker: start it, send requests, relay progress, cancel, stop.

One worker process serves one loaded model; unloading the model ends the process, which frees everything it
held. While a request runs, the studio's Progress is checked every POLL seconds, so a cancel reaches the
worker at once; a worker that does not stop within CANCEL_GRACE seconds is ended (the model reloads on the
next job).
"""
from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import threading
import time
import weakref
from collections import deque
from pathlib import Path
from typing import Any

from ..contract import Cancelled, EngineError, InvalidRequest, Progress
from .runtime import Runtime

log = logging.getLogger(__name__)

POLL = 0.1  # seconds between cancellation checks while waiting for the worker
START_TIMEOUT = 180.0  # seconds for the worker to import its packages (torch, transformers) and say ready
CANCEL_GRACE = 5.0  # seconds a worker gets to stop at its next checkpoint before it is ended
STOP_GRACE = 10.0
_EOF = object()


class WorkerProcess:
    """A running worker for one adapter in one runtime."""

    def __init__(self, runtime: Runtime, adapter: str, log_path: Path, env: dict[str, str] | None = None,
                 progress: Progress | None = None) -> None:
        self.runtime = runtime
        self.adapter = adapter
        self.log_path = log_path
        self.tail: deque[str] = deque(maxlen=40)
        self.messages: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self._next_id = 0
        log_path.parent.mkdir(parents=True, exist_ok=True)
        environment = {**os.environ, **(env or {})}
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(runtime.studio_code()),
                                                                   environment.get("PYTHONPATH")]))
        environment.update(PYTHONUNBUFFERED="1", PYTHONNOUSERSITE="1", TOKENIZERS_PARALLELISM="false")
        self.process = subprocess.Popen(
            [str(runtime.python), "-m", "engines.isolated.worker", adapter], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment, cwd=runtime.dir, bufsize=1)
        weakref.finalize(self, _end, self.process)  # a worker never outlives its handle (the readers hold no self)
        header = f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {runtime.spec.name} worker {self.pid} ({adapter})\n"
        threading.Thread(target=_read_messages, args=(self.process.stdout, self.messages, self.tail),
                         name=f"worker-{self.pid}-out", daemon=True).start()
        threading.Thread(target=_read_log, args=(self.process.stderr, log_path, header, self.tail),
                         name=f"worker-{self.pid}-log", daemon=True).start()
        self.info = self._wait_ready(progress or Progress())

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    # -- reading ----------------------------------------------------------------------------------------------

    def _wait_ready(self, progress: Progress) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if progress.cancelled:
                self.stop(grace=0)
                raise Cancelled()
            try:
                message = self.messages.get(timeout=POLL)
            except queue.Empty:
                continue
            if message is _EOF:
                raise self._died("while starting")
            if "ready" in message:
                return message["ready"]
        self.stop()
        raise EngineError(f"The {self.runtime.spec.title} runtime did not start within {START_TIMEOUT:.0f} s. "
                          f"Its log is {self.log_path}.")

    def _died(self, when: str) -> EngineError:
        code = self.process.wait(timeout=5)
        last = next((line for line in reversed(self.tail) if line.strip()), "")
        return EngineError(f"The {self.runtime.spec.title} runtime stopped {when} (exit code {code})"
                           + (f": {last[:300]}" if last else "") + f". Its log is {self.log_path}.")

    # -- requests ---------------------------------------------------------------------------------------------

    def request(self, op: str, payload: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
        """Send one request and wait for its answer, relaying progress; Cancelled when the user cancelled."""
        progress = progress or Progress()
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            self._send({"id": request_id, "op": op, **payload})
            cancel_sent: float | None = None
            while True:
                try:
                    message = self.messages.get(timeout=POLL)
                except queue.Empty:
                    message = None
                if message is _EOF:
                    if cancel_sent is not None:
                        raise Cancelled()
                    raise self._died(f"during {op}")
                if message is not None and message.get("id") == request_id:
                    if "ok" in message:
                        return message["ok"]
                    if "error" in message:
                        raise self._error(message["error"])
                    if cancel_sent is None and ("progress" in message or "stage" in message):
                        try:
                            progress(message.get("progress"), message.get("stage", ""))
                        except Cancelled:
                            cancel_sent = self._cancel(request_id)
                if cancel_sent is None and progress.cancelled:
                    cancel_sent = self._cancel(request_id)
                if cancel_sent is not None and time.monotonic() - cancel_sent > CANCEL_GRACE:
                    log.warning("the %s worker did not stop within %.0f s of a cancel; ending it",
                                self.runtime.spec.name, CANCEL_GRACE)
                    self.stop(grace=0)
                    raise Cancelled()

    def _cancel(self, request_id: int) -> float:
        self._send({"op": "cancel", "id": request_id})
        return time.monotonic()

    def _send(self, message: dict[str, Any]) -> None:
        if not self.alive or self.process.stdin is None:
            raise self._died("before a request")
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died("while receiving a request") from None

    def _error(self, error: dict[str, str]) -> Exception:
        kind, message = error.get("kind", ""), error.get("message", "")
        if kind == "Cancelled":
            return Cancelled()
        if kind == "InvalidRequest":
            return InvalidRequest(message)
        if kind == "EngineError":
            return EngineError(message)
        if kind == "OutOfMemory":
            return MemoryError(f"out of memory in the {self.runtime.spec.title} runtime: {message}")
        log.warning("the %s worker failed:\n%s", self.runtime.spec.name, error.get("traceback", ""))
        return EngineError(f"The {self.runtime.spec.title} runtime failed ({kind}: {message.splitlines()[0][:300] if message else ''}). "
                           f"The traceback is in the studio's log and {self.log_path}.")

    # -- memory and stopping ----------------------------------------------------------------------------------

    def memory(self) -> dict[str, Any] | None:
        """The worker's own memory report (CUDA allocations included), or None while a request runs."""
        if not self._lock.acquire(blocking=False):
            return None
        self._lock.release()
        return self.request("memory", {}).get("memory")

    def rss(self) -> int:
        import psutil

        try:
            return psutil.Process(self.pid).memory_info().rss
        except psutil.Error:
            return 0

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Ask the worker to exit, then end it if it does not."""
        if self.alive and grace > 0:
            try:
                self._send({"op": "exit"})
                self.process.wait(timeout=grace)
            except (EngineError, subprocess.TimeoutExpired):
                pass
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _end(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()


def _read_messages(stream: Any, messages: queue.Queue[Any], tail: deque[str]) -> None:
    for line in stream:
        try:
            messages.put(json.loads(line))
        except ValueError:
            tail.append(line.rstrip())
    messages.put(_EOF)


def _read_log(stream: Any, log_path: Path, header: str, tail: deque[str]) -> None:
    with log_path.open("a", encoding="utf-8") as out:
        out.write(header)
        for line in stream:
            out.write(line)
            out.flush()
            if line.strip():
                tail.append(line.rstrip())
