"""The model manager's memory arithmetic on a CUDA device: footprints count system and GPU memory each on its own,
CUDA starts before the first load is measured, and reports say when the GPU has not started yet.

There is no GPU here, so `torch` is a small fake module whose CUDA allocations are numbers (the thing under test is
the studio's arithmetic, not torch); resident memory is this process's real one."""
from __future__ import annotations

import sys
import types
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from engines.contract import Engine, EngineError, Progress, Request, Result
from engines.registry import Registry
from studio import memory
from studio.model_manager import AUTO_BUDGET_FRACTION, ModelManager

MB = 1_000_000
GB = 1_000_000_000
GPU_WEIGHTS = 300 * MB


class FakeCuda:
    """The part of torch.cuda the studio reads, for one GPU of `total` bytes."""

    def __init__(self, total: int, integrated: bool, available: bool = True) -> None:
        self.total, self.integrated, self.available = total, integrated, available
        self.allocated = 0
        self.initialised = False
        self.availability_asked = 0

    def is_available(self) -> bool:
        self.availability_asked += 1
        return self.available

    def is_initialized(self) -> bool:
        return self.initialised

    def init(self) -> None:
        assert self.available
        self.initialised = True

    def memory_allocated(self, index: int | None = None) -> int:
        return self.allocated

    memory_reserved = memory_allocated

    def mem_get_info(self, index: int | None = None) -> tuple[int, int]:
        return self.total - self.allocated, self.total

    def get_device_properties(self, index: int) -> Any:
        return types.SimpleNamespace(name="Fake GPU", is_integrated=self.integrated, total_memory=self.total)

    def synchronize(self, index: int | None = None) -> None:
        pass

    def empty_cache(self) -> None:
        pass


def fake_torch(cuda: FakeCuda) -> types.ModuleType:
    torch = types.ModuleType("torch")
    torch.cuda = cuda  # type: ignore[attr-defined]
    torch.device = lambda name: types.SimpleNamespace(  # type: ignore[attr-defined]
        index=int(name.partition(":")[2] or 0))
    torch.nn = types.SimpleNamespace(Module=type("Module", (), {}))  # type: ignore[attr-defined]
    return torch


class _Weights:
    """A loaded model; what it allocated on the GPU is freed when it is dropped, as tensors are."""


class GpuModel(Engine):
    id = "test.gpu_model"
    name = "Weights on the GPU"
    task = "test"
    summary = "Puts 300 MB on the GPU."
    sample_rate = 16_000
    memory_mb = 300

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import torch

        assert device.startswith("cuda") and torch.cuda.is_initialized()
        model = _Weights()
        torch.cuda.allocated += GPU_WEIGHTS
        weakref.finalize(model, lambda cuda=torch.cuda: setattr(cuda, "allocated", cuda.allocated - GPU_WEIGHTS))
        return model

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        return Result(np.zeros(16, np.float32), self.sample_rate)


class HostModel(GpuModel):
    """Runs on the CPU whatever the device (onnxruntime Hibari, faster-whisper, DeepFilterNet)."""

    id = "test.host_model"
    name = "Weights in system memory"
    summary = "Holds 64 MB of system memory."
    memory_mb = 64

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        return np.ones(64 * MB // 4, np.float32)


@pytest.fixture
def registry() -> Registry:
    return Registry([GpuModel, HostModel])


def install_gpu(monkeypatch: pytest.MonkeyPatch, integrated: bool = False, available: bool = True) -> FakeCuda:
    cuda = FakeCuda(24 * GB, integrated, available)
    monkeypatch.setitem(sys.modules, "torch", fake_torch(cuda))
    return cuda


def load(manager: ModelManager, registry: Registry, engine_id: str) -> int:
    return manager.load(registry.get(engine_id), {}, Progress()).footprint


def test_the_first_load_starts_cuda_and_counts_the_gpu_memory(registry: Registry,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = install_gpu(monkeypatch)
    manager = ModelManager(registry, "cuda", budget_gb=10)
    footprint = load(manager, registry, "test.gpu_model")
    assert cuda.initialised
    assert GPU_WEIGHTS <= footprint < GPU_WEIGHTS + 30 * MB


def test_a_model_in_system_memory_counts_on_a_gpu_device(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    install_gpu(monkeypatch)
    manager = ModelManager(registry, "cuda", budget_gb=10)
    load(manager, registry, "test.gpu_model")
    assert 60 * MB <= load(manager, registry, "test.host_model") < 100 * MB


def test_unloading_reports_the_gpu_memory_freed(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = install_gpu(monkeypatch)
    manager = ModelManager(registry, "cuda", budget_gb=10)
    load(manager, registry, "test.gpu_model")
    report = manager.unload("test.gpu_model")
    assert cuda.allocated == 0
    assert report.freed >= GPU_WEIGHTS and report.still_held == 0 and not report.references_remain


def test_reports_say_the_gpu_has_not_started_and_then_show_its_memory(registry: Registry,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = install_gpu(monkeypatch)
    manager = ModelManager(registry, "cuda")
    before = manager.snapshot()
    assert before.device.name.startswith("GPU not started yet") and not cuda.initialised
    assert before.device.total == psutil.virtual_memory().total
    load(manager, registry, "test.gpu_model")
    after = manager.snapshot()
    assert (after.device.device, after.device.name, after.device.unified) == ("cuda:0", "Fake GPU", False)
    assert (after.device.total, after.device.available) == (24 * GB, 24 * GB - GPU_WEIGHTS)
    assert after.budget == int(24 * GB * AUTO_BUDGET_FRACTION)


def test_unified_memory_is_the_system_memory_counted_once(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    install_gpu(monkeypatch, integrated=True)
    manager = ModelManager(registry, "cuda")
    footprint = load(manager, registry, "test.gpu_model")
    snap = manager.snapshot()
    assert snap.device.unified and snap.device.total == psutil.virtual_memory().total
    assert snap.budget == int(psutil.virtual_memory().total * AUTO_BUDGET_FRACTION)
    assert GPU_WEIGHTS <= footprint < GPU_WEIGHTS + 30 * MB
    assert abs(snap.device.process - GPU_WEIGHTS - psutil.Process().memory_info().rss) < 30 * MB  # RSS + CUDA


def test_auto_with_a_gpu_asks_torch_at_the_first_load_not_before(registry: Registry, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nvidia0").touch()
    monkeypatch.setattr(memory, "GPU_DEVICE_FILES", (str(tmp_path / "nvidia[0-9]*"),))
    cuda = install_gpu(monkeypatch)
    manager = ModelManager(registry, "auto")
    assert manager.snapshot().device.device == "cuda" and cuda.availability_asked == 0
    load(manager, registry, "test.gpu_model")
    assert manager.models()[0].device == "cuda" and manager.snapshot().device.device == "cuda:0"


def test_a_gpu_torch_cannot_use_falls_back_to_the_cpu_unless_cuda_was_asked_for(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nvidia0").touch()
    monkeypatch.setattr(memory, "GPU_DEVICE_FILES", (str(tmp_path / "nvidia[0-9]*"),))
    install_gpu(monkeypatch, available=False)
    assert memory.resolve_device("auto") == "cpu"
    manager = ModelManager(registry, "auto")
    load(manager, registry, "test.host_model")
    assert manager.models()[0].device == "cpu" and manager.snapshot().device.device == "cpu"
    with pytest.raises(EngineError, match="device setting is 'cuda', but torch cannot use a GPU here.*auto or cpu"):
        load(ModelManager(registry, "cuda"), registry, "test.host_model")
