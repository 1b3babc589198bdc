"""A worker adapter for testing the pipe itself (tests/unit/test_worker_protocol.py); it needs no model.

`run` does what its text says: "steps N" reports N steps and writes N hundredths of a second of a tone;
"stubborn" sleeps without ever checking for a cancel; "crash" ends the process; "fail" and "invalid" raise messages
for the user; "bug" raises a plain error; "noisy" prints to stdout, which must not corrupt the protocol.
"""
from __future__ import annotations

import os
import sys
import time
import wave
from typing import Any

from engines.isolated.worker import EngineError, InvalidRequest, Progress


def versions() -> dict[str, str]:
    return {"probe": "1"}


def load(device: str, options: dict[str, Any], weights: dict[str, str], progress: Progress) -> Any:
    progress(0.5, "Loading the probe")
    return {"device": device, "weights": weights, "ballast": bytearray(options.get("megabytes", 0) * 1_000_000)}


def run(model: Any, inputs: dict[str, Any], params: dict[str, Any], output: str, progress: Progress) -> dict[str, Any]:
    command, _, argument = inputs["text"].partition(" ")
    if command == "stubborn":
        time.sleep(60)
    elif command == "crash":
        os._exit(3)
    elif command == "fail":
        raise EngineError("The probe was asked to fail.")
    elif command == "invalid":
        raise InvalidRequest("The probe has no such voice.")
    elif command == "bug":
        raise ValueError("a bug in the probe")
    elif command == "noisy":
        print("library chatter on stdout", flush=True)
        os.write(1, b"raw bytes on fd 1\n")
    steps = int(argument or 1)
    for step in range(steps):
        progress(step / steps, f"Step {step + 1} of {steps}")
        time.sleep(0.01)
    with wave.open(output, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\x00\x10" * (160 * steps))
    print("done", file=sys.stderr)
    return {"sample_rate": 16_000, "extras": {"steps": steps, "device": model["device"]}}
