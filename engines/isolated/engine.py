"""The base class of engines that run in an isolated runtime: declarations here, the model in a worker process.

Subclasses declare the usual metadata plus `runtime_name` (a key of runtime.RUNTIMES) and `adapter` (the module
run inside the runtime, see worker.py). `load` makes sure the weights are on disk (the weight manager, with
progress), starts a worker and has it load them from the local snapshot (the worker never reaches the hub);
`run` passes inputs and writes the audio through a file under STUDIO_HOME; `unload` ends the worker, which
frees all it held. The model manager counts the worker's memory through `RemoteModel.memory_bytes()`.

Voice prompts cross the pipe as files too: when `prompt_key` names what a request's prompt depends on, the
worker's `prompt` op writes the prompt (its tensors, saved with torch) to a file, whose bytes the studio's
prompt cache keeps (in memory and under STUDIO_HOME, so they outlive the worker and the studio, though not a
runtime rebuilt from other requirements or for another torch); `run` hands the worker that file as the slot's
"prompt" and the adapter loads it instead of encoding the reference again.
"""
from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..contract import AudioInput, Engine, EngineError, Progress, Request, Result, Weights
from ..requirements import Readiness, check_requirements
from .client import WorkerProcess
from .runtime import Runtime

log = logging.getLogger(__name__)


class RemoteModel:
    """A model loaded in a worker process. Restarts the worker if it ended (e.g. after a forced cancel)."""

    def __init__(self, engine: IsolatedEngine, device: str, options: dict[str, Any], weights: dict[str, str]) -> None:
        self.engine, self.device, self.options, self.weights = engine, device, options, weights
        self.worker: WorkerProcess | None = None
        self.memory: dict[str, Any] = {}

    def start(self, progress: Progress) -> None:
        runtime = self.engine.runtime()
        progress(0.0, f"Starting the {runtime.spec.title} runtime")
        worker = WorkerProcess(runtime, self.engine.adapter, self.engine.log_path(), self.engine.worker_env(),
                               progress)
        try:
            answer = worker.request("load", {"device": self.device, "options": self.options, "weights": self.weights},
                                    progress.span(0.1, 1.0))
        except BaseException:
            worker.stop(grace=0)
            raise
        self.worker, self.memory = worker, answer.get("memory", {})

    def request(self, op: str, payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
        if self.worker is None or not self.worker.alive:
            log.info("the %s worker had ended; starting it again", self.engine.id)
            self.start(progress.span(0, 0.3))
            progress = progress.span(0.3, 1.0)
        assert self.worker is not None
        return self.worker.request(op, payload, progress)

    def memory_bytes(self) -> int:
        """What the worker holds on the device the model uses (as memory.usage measures the studio)."""
        if self.worker is None or not self.worker.alive:
            return 0
        rss = self.worker.rss()
        if not self.device.startswith("cuda"):
            return rss
        self.memory = self.worker.memory() or self.memory  # the last report while a request runs
        allocated = int(self.memory.get("cuda_allocated", 0))
        return rss + allocated if self.memory.get("integrated") else allocated

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None


class IsolatedEngine(Engine):
    runtime_name: ClassVar[str] = ""
    adapter: ClassVar[str] = ""  # module run inside the runtime by engines.isolated.worker
    prompt_slot: ClassVar[str] = ""  # an audio slot the adapter turns into a voice prompt (its `prompt` op)

    def prompt_key(self, request: Request) -> list[Any] | None:
        """What this request's voice prompt depends on besides the loaded model, or None when it builds none. The
        runtime's fingerprint is part of it: a prompt pickles the runtime's own classes, which a rebuild replaces."""
        reference = request.inputs.get(self.prompt_slot) if self.prompt_slot else None
        return [reference, self.runtime().fingerprint()] if isinstance(reference, AudioInput) else None

    def settings(self) -> Any:
        if self.context is not None and hasattr(self.context, "runtimes"):
            return self.context
        from studio.settings import Settings  # engines created without settings (scripts, tests) use the defaults

        return Settings.load()

    def runtime(self) -> Runtime:
        return Runtime.named(self.runtime_name, self.settings().runtimes)

    def log_path(self) -> Path:
        return Path(self.settings().home) / "logs" / f"runtime-{self.runtime_name}.log"

    def scratch(self) -> Path:
        folder = Path(self.settings().home) / "tmp" / "runtimes"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def worker_env(self) -> dict[str, str]:
        """The worker reads weights from local snapshots only: it is kept off the network."""
        from huggingface_hub import constants

        return {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_CACHE": str(constants.HF_HUB_CACHE),
                "HF_HUB_DISABLE_TELEMETRY": "1"}

    # -- readiness ----------------------------------------------------------------------------------------------

    def check(self) -> Readiness:
        readiness = check_requirements(self.requirements, self.context)
        if not readiness.ready:
            return readiness
        status = self.runtime().status()
        if not status.ready:
            return Readiness("missing_dependency", status.message, (status.hint,))
        from engines.weights import weights_readiness

        return weights_readiness(self, self.weights_for(self.defaults()))

    # -- the contract -----------------------------------------------------------------------------------------

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from engines.weights import ensure

        options = options or {}
        status = self.runtime().status()
        if not status.ready:
            raise EngineError(f"{status.message} Install it with: {status.hint}")
        needed = self.weights_for(options)
        if not needed:
            raise EngineError(f"{self.name} has no weights for {', '.join(f'{k}={v}' for k, v in options.items())}.")
        paths = {_key(w, i): str(ensure(w, progress.span(0, 0.5))) for i, w in enumerate(needed)}
        model = RemoteModel(self, device, options, paths)
        model.start(progress.span(0.5, 1.0))
        return model

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import soundfile

        inputs = {name: _plain(value) for name, value in request.inputs.items()}
        output = self.scratch() / f"{uuid.uuid4().hex}.wav"
        prompt = self.scratch() / f"{uuid.uuid4().hex}.prompt"
        try:
            key = self.prompt_key(request)
            if key is not None:
                prompt.write_bytes(request.prompts.get_or_compute(
                    key, lambda: self._encode_prompt(model, inputs, request.params, progress)))
                inputs[self.prompt_slot]["prompt"] = str(prompt)
            answer = model.request("run", {"inputs": inputs, "params": request.params, "output": str(output)},
                                   progress)
            audio, rate = soundfile.read(str(output), dtype="float32")
        finally:
            output.unlink(missing_ok=True)
            prompt.unlink(missing_ok=True)
        if rate != answer["sample_rate"]:
            raise EngineError(f"The runtime wrote {rate} Hz audio but reported {answer['sample_rate']} Hz.")
        return Result(np.ascontiguousarray(audio.T if audio.ndim == 2 else audio), rate, answer.get("extras", {}))

    def _encode_prompt(self, model: Any, inputs: dict[str, Any], params: dict[str, Any], progress: Progress) -> bytes:
        """The worker encodes the reference into a prompt file; its bytes are what the prompt cache keeps."""
        output = self.scratch() / f"{uuid.uuid4().hex}.prompt"
        try:
            model.request("prompt", {"inputs": inputs, "params": params, "output": str(output)}, progress)
            return output.read_bytes()
        finally:
            output.unlink(missing_ok=True)

    def unload(self, model: Any) -> None:
        model.close()


def _key(weights: Weights, index: int) -> str:
    """The first weight set a run needs is the adapter's "model"; extra sets go by their title."""
    return "model" if index == 0 else weights.title


def _plain(value: Any) -> Any:
    if isinstance(value, AudioInput):
        return {"path": str(Path(value.path).absolute()), "transcript": value.transcript}
    return value
