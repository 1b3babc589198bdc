"""The model manager with real torch modules of known size: footprints, LRU eviction, pinning, real unloads."""
from __future__ import annotations

import pytest

from engines.contract import EngineError, Progress
from engines.registry import Registry
from studio import memory
from studio.model_manager import ModelManager
from tests.fake_engines import MemoryHogEngine, ToneEngine

MB = 1_000_000


@pytest.fixture
def registry() -> Registry:
    return Registry([MemoryHogEngine, ToneEngine])


def load(manager: ModelManager, registry: Registry, megabytes: int) -> str:
    engine = registry.get("test.hog")
    return manager.load(engine, {"megabytes": megabytes}, Progress()).key


def test_footprint_is_measured_at_load(registry: Registry) -> None:
    manager = ModelManager(registry, "cpu", budget_gb=10)
    key = load(manager, registry, 64)
    (info,) = manager.models()
    assert info.key == key == "test.hog[megabytes=64]"
    assert 60 * MB <= info.footprint <= 80 * MB


def test_loading_past_the_budget_unloads_the_least_recently_used_unpinned_model(registry: Registry) -> None:
    manager = ModelManager(registry, "cpu", budget_gb=0.2)  # room for three 64 MB models at most
    a = load(manager, registry, 60)
    b = load(manager, registry, 61)
    c = load(manager, registry, 62)
    with manager.use(registry.get("test.hog"), {"megabytes": 60}, Progress()):
        pass  # a is now the most recently used
    d = load(manager, registry, 63)
    loaded = {m.key for m in manager.models()}
    assert loaded == {a, c, d}, "b was the least recently used"
    assert sum(m.footprint for m in manager.models()) <= manager.budget()


def test_pinned_models_are_never_evicted_and_a_model_that_cannot_fit_is_refused(registry: Registry) -> None:
    manager = ModelManager(registry, "cpu", budget_gb=0.15)
    a = load(manager, registry, 60)
    manager.pin(a)
    b = load(manager, registry, 61)
    load(manager, registry, 62)
    assert a in {m.key for m in manager.models()} and b not in {m.key for m in manager.models()}
    manager.pin(next(m.key for m in manager.models() if m.key != a))
    with pytest.raises(EngineError, match="memory budget is 150.0 MB.*Unpin or unload"):
        load(manager, registry, 64)


def test_a_model_in_use_is_not_unloaded(registry: Registry) -> None:
    manager = ModelManager(registry, "cpu", budget_gb=1)
    engine = registry.get("test.hog")
    with manager.use(engine, {"megabytes": 8}, Progress()):
        with pytest.raises(EngineError, match="in use by the running job"):
            manager.unload("test.hog[megabytes=8]")
    manager.unload("test.hog[megabytes=8]")


def test_unload_returns_the_memory_to_the_system(registry: Registry) -> None:
    manager = ModelManager(registry, "cpu", budget_gb=10)
    import torch  # noqa: F401  (imported before measuring, as the manager does)

    baseline = memory.usage("cpu").total
    keys = [load(manager, registry, 128), load(manager, registry, 129)]
    loaded = memory.usage("cpu").total
    assert loaded - baseline > 240 * MB
    reports = [manager.unload(key) for key in keys]
    after = memory.usage("cpu").total
    assert after - baseline < 20 * MB, f"{(after - baseline) / MB:.0f} MB still held after unloading"
    for report in reports:
        assert report.freed > 120 * MB and report.still_held == 0 and not report.references_remain
        assert "freed" in report.message


def test_unload_reports_a_model_something_else_still_references(registry: Registry) -> None:
    manager = ModelManager(registry, "cpu", budget_gb=10)
    engine = registry.get("test.hog")
    with manager.use(engine, {"megabytes": 96}, Progress()) as model:
        leaked = model  # e.g. a page or a cache that kept the model object
    report = manager.unload("test.hog[megabytes=96]")
    assert report.references_remain
    assert report.still_held > 80 * MB
    assert "still references the model" in report.message
    del leaked


def test_lowering_the_budget_unloads_what_no_longer_fits(registry: Registry) -> None:
    manager = ModelManager(registry, "cpu", budget_gb=1)
    load(manager, registry, 60)
    load(manager, registry, 61)
    reports = manager.set_budget(0.1)
    assert len(reports) == 1 and len(manager.models()) == 1


def test_snapshot_reports_the_device_and_each_model(registry: Registry) -> None:
    manager = ModelManager(registry, "cpu", budget_gb=2)
    load(manager, registry, 16)
    snap = manager.sample()
    assert snap.device.device == "cpu" and snap.device.total > snap.device.available > 0
    assert snap.budget == 2_000_000_000
    assert snap.models_total == snap.models[0].footprint > 14 * MB
    assert manager.history[-1][2] == snap.models_total


def test_tensor_bytes_counts_dense_weights_beside_a_sparse_buffer() -> None:
    import torch

    model = torch.nn.Linear(100, 10)  # 1010 float32 numbers
    model.register_buffer("heads", torch.eye(4).to_sparse(), persistent=False)  # as Whisper's alignment heads
    assert memory.tensor_bytes(model) == 1010 * 4
