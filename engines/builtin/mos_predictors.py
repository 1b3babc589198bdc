"""Reference-free quality predictors (MOS) that run offline: DistillMOS and Microsoft's DNSMOS.

Both ship their weights in their wheels. DistillMOS (a distilled XLS-R SQA model) tracks naturalness best;
DNSMOS P.835 scores signal, background and overall quality and is the one that catches noise.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract import Engine, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements
from .speaker_encoders import AUDIO, RATE, read_16k


class DistillMOS(Engine):
    id = "metric.distillmos"
    name = "DistillMOS"
    task = "metric"
    family = "MOS predictor"
    summary = "Predicted mean opinion score (1-5) of speech naturalness; weights inside the distillmos wheel."
    sample_rate = RATE
    license = "MIT"
    memory_mb = 120
    inputs = AUDIO
    weights = (Weights("package", note="distill_mos_v7.pt is inside the distillmos package", size_bytes=17_000_000,
                       license="MIT"),)
    requirements = Requirements(python=(PythonModule("distillmos", "distillmos"),
                                        PythonModule("xls_r_sqa", "xls-r-sqa")))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import distillmos

        return distillmos.ConvTransformerSQAModel().eval().to(device), device

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        network, device = model
        with torch.no_grad():
            score = network(torch.from_numpy(read_16k(request))[None].to(device))
        return Result(None, RATE, {"mos": float(score.reshape(-1)[0])})


class DNSMOS(Engine):
    id = "metric.dnsmos"
    name = "DNSMOS P.835"
    task = "metric"
    family = "MOS predictor"
    summary = "Microsoft's DNSMOS: signal, background and overall quality, plus the P.808 MOS (ONNX, in speechmos)."
    sample_rate = RATE
    license = "MIT"
    memory_mb = 80
    inputs = AUDIO
    weights = (Weights("package", note="ONNX models inside the speechmos package", size_bytes=9_000_000, license="MIT"),)
    requirements = Requirements(python=(PythonModule("speechmos", "speechmos"), PythonModule("onnxruntime", "onnxruntime"),
                                        PythonModule("requests", "requests")))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from speechmos import dnsmos

        models = Path(dnsmos.__file__).parent / "dnsmos_models"
        return dnsmos.DNSMOS(str(models / "sig_bak_ovr.onnx"), str(models / "model_v8.onnx"))

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import numpy as np

        scores = model(np.clip(read_16k(request), -1.0, 1.0), RATE, False)
        return Result(None, RATE, {name: float(scores[name]) for name in ("ovrl_mos", "sig_mos", "bak_mos", "p808_mos")})
