"""The model manager: owns every loaded model, measures it, and keeps the total under a memory budget.

Loading a model that does not fit unloads the least recently used unpinned models first. Unloading drops
every reference the studio holds, collects garbage, empties the CUDA cache and trims the heap, then
reports what it freed and anything still held. Loads run on the job worker thread; the other calls are
safe from any thread.
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from engines.contract import Engine, EngineError, Progress
from engines.registry import Registry
from engines.requirements import format_bytes

from . import memory

log = logging.getLogger(__name__)

AUTO_BUDGET_FRACTION = 0.85
HISTORY_LENGTH = 300  # samples kept for the memory chart
STILL_HELD_NOISE = 1_000_000  # bytes: smaller differences after an unload are allocator noise


@dataclass
class _Loaded:
    key: str
    engine_id: str
    model: Any
    device: str
    footprint: int
    load_seconds: float
    last_used: float
    pinned: bool = False
    in_use: int = 0


@dataclass(frozen=True)
class ModelInfo:
    key: str
    engine_id: str
    device: str
    footprint: int
    load_seconds: float
    last_used: float
    pinned: bool
    in_use: bool


@dataclass(frozen=True)
class UnloadReport:
    key: str
    freed: int
    still_held: int
    references_remain: bool

    @property
    def message(self) -> str:
        text = f"Unloaded {self.key}: freed {format_bytes(max(self.freed, 0))}"
        if self.references_remain:
            text += "; something still references the model, so part of it stays in memory"
        elif self.still_held > 0:
            text += f"; {format_bytes(self.still_held)} of its measured footprint is still held by the process"
        return text + "."


@dataclass(frozen=True)
class MemorySnapshot:
    device: memory.DeviceMemory
    budget: int
    models: tuple[ModelInfo, ...]

    @property
    def models_total(self) -> int:
        return sum(m.footprint for m in self.models)


class ModelManager:
    def __init__(self, registry: Registry, device_setting: str = "auto", budget_gb: float | None = None) -> None:
        self.registry = registry
        self._device_setting = device_setting
        self._device: str | None = None if device_setting == "auto" else device_setting
        self._budget_gb = budget_gb
        self._lock = threading.RLock()
        self._models: dict[str, _Loaded] = {}
        self._measured: dict[str, int] = {}  # key -> footprint of its last load, a better estimate next time
        self.history: deque[tuple[float, int, int]] = deque(maxlen=HISTORY_LENGTH)  # (time, device used, models)

    # -- device and budget ---------------------------------------------------------------------------------

    @property
    def device(self) -> str:
        """The device models load onto. Resolving 'auto' on a machine with a GPU imports torch, so call it off the
        UI thread; it happens at the first load, not at start-up."""
        if self._device is None:
            self._device = memory.resolve_device(self._device_setting)
        return self._device

    def _reported_device(self) -> str:
        """The device for reports, found without importing torch (an unresolved 'auto' with a GPU says 'cuda')."""
        if self._device is not None:
            return self._device
        return "cuda" if self._device_setting == "auto" and memory.gpu_present() else self.device

    def _started_device(self) -> str:
        """The device with CUDA running on it, so a load's footprint is measured on the GPU from the first one.
        ('auto' became 'cuda' only where torch can use the GPU, so only a 'cuda' setting can fail here.)"""
        device = self.device
        if device.startswith("cuda") and not memory.cuda_started(device):
            try:
                memory.start_cuda()
            except RuntimeError as error:
                raise EngineError(f"The device setting is {device!r}, but {error}. Set the device to auto or cpu "
                                  f"(STUDIO_DEVICE, or device in the config file).") from None
        return device

    def budget(self, device_memory: memory.DeviceMemory | None = None) -> int:
        if self._budget_gb is not None:
            return int(self._budget_gb * 1e9)
        total = (device_memory or memory.probe(self._reported_device())).total
        return int(total * AUTO_BUDGET_FRACTION)

    @property
    def budget_gb(self) -> float | None:
        return self._budget_gb

    def set_budget(self, budget_gb: float | None) -> list[UnloadReport]:
        """Change the budget; unpinned models that no longer fit are unloaded at once."""
        self._budget_gb = budget_gb
        return self._make_room(0)

    # -- loading -------------------------------------------------------------------------------------------

    @contextmanager
    def use(self, engine: Engine, options: dict[str, Any], progress: Progress) -> Iterator[Any]:
        """The loaded model for `engine` with `options` (loading it if needed), protected from eviction."""
        key = engine.load_key(options)
        entry = self._ensure_loaded(engine, key, options, progress)
        with self._lock:
            entry.in_use += 1
        try:
            yield entry.model
        finally:
            outside = memory.external_bytes(entry.model)  # a worker process grows as it runs
            with self._lock:
                entry.in_use -= 1
                entry.last_used = time.time()
                entry.footprint = max(entry.footprint, outside)

    def load(self, engine: Engine, options: dict[str, Any], progress: Progress) -> ModelInfo:
        key = engine.load_key(options)
        return self._info(self._ensure_loaded(engine, key, options, progress))

    def _ensure_loaded(self, engine: Engine, key: str, options: dict[str, Any], progress: Progress) -> _Loaded:
        with self._lock:
            entry = self._models.get(key)
            if entry is not None:
                entry.last_used = time.time()
                return entry
        readiness = engine.check()
        if not readiness.runnable:
            raise EngineError(f"{engine.name} is not ready: {readiness.message} " + " ".join(readiness.hints))
        device = self._started_device()  # first: the budget is the GPU's once CUDA runs
        estimate = self._measured.get(key, engine.memory_mb * 1_000_000)
        for report in self._make_room(estimate):
            log.info(report.message)
        self._refuse_if_it_cannot_fit(engine, estimate)
        progress(0.0, f"Loading {engine.name}")
        for requirement in engine.requirements.python:  # imported first, so the footprint is the model's alone
            try:
                importlib.import_module(requirement.module)
            except ImportError:  # may import only after the engine's own fixes (Amphion's LangSegment trap)
                pass
        before = memory.usage(device)
        started = time.perf_counter()
        load_options = {p.name: options.get(p.name, p.default) for p in engine.params if p.affects_load}
        model = engine.load(device, progress, load_options)
        seconds = time.perf_counter() - started
        grown = memory.usage(device).beyond(before)
        measured = max(grown, memory.tensor_bytes(model)) + memory.external_bytes(model)
        entry = _Loaded(key, engine.id, model, device, measured, seconds, time.time())
        with self._lock:
            self._models[key] = entry
            self._measured[key] = measured
        log.info("loaded %s on %s in %.1f s, %s", key, device, seconds, format_bytes(measured))
        return entry

    def _refuse_if_it_cannot_fit(self, engine: Engine, estimate: int) -> None:
        budget = self.budget()
        with self._lock:
            held = sum(m.footprint for m in self._models.values())
            held_by = ", ".join(f"{m.key} ({'pinned' if m.pinned else 'in use'})" for m in self._models.values())
        if held + estimate > budget:
            raise EngineError(
                f"{engine.name} needs about {format_bytes(estimate)}, but the memory budget is {format_bytes(budget)} "
                f"and {format_bytes(held)} is held by {held_by}. Unpin or unload models on the Models page, "
                f"or raise the memory budget.")

    def _make_room(self, needed: int) -> list[UnloadReport]:
        """Unload least recently used unpinned, idle models until `needed` more bytes fit the budget."""
        reports = []
        while True:
            with self._lock:
                held = sum(m.footprint for m in self._models.values())
                if held + needed <= self.budget():
                    return reports
                candidates = sorted((m for m in self._models.values() if not m.pinned and not m.in_use),
                                    key=lambda m: m.last_used)
                if not candidates:
                    return reports
                victim = candidates[0].key
            reports.append(self.unload(victim))

    # -- unloading and pinning -----------------------------------------------------------------------------

    def unload(self, key: str) -> UnloadReport:
        with self._lock:
            entry = self._models.get(key)
            if entry is None:
                raise KeyError(f"{key} is not loaded")
            if entry.in_use:
                raise EngineError(f"{key} is in use by the running job; unload it when the job has finished.")
            del self._models[key]
        device, footprint = entry.device, entry.footprint
        outside = memory.external_bytes(entry.model)
        before = memory.usage(device)
        try:
            self.registry.get(entry.engine_id).unload(entry.model)
        except Exception:
            log.exception("the unload hook of %s failed", key)
        outside -= memory.external_bytes(entry.model)  # what the model's worker process gave back
        try:
            reference = weakref.ref(entry.model)
        except TypeError:
            reference = None
        entry.model = None
        del entry
        memory.release_freed_memory()
        freed = before.beyond(memory.usage(device)) + outside
        remains = reference is not None and reference() is not None
        still_held = footprint - freed
        if still_held < max(STILL_HELD_NOISE, footprint * 0.02):  # allocator noise, not the model
            still_held = 0
        report = UnloadReport(key, freed, still_held, remains)
        log.info(report.message)
        return report

    def unload_all(self, keep: tuple[str, ...] = ()) -> list[UnloadReport]:
        with self._lock:
            keys = [k for k, m in self._models.items() if k not in keep and not m.in_use]
        return [self.unload(k) for k in keys]

    def pin(self, key: str, pinned: bool = True) -> None:
        with self._lock:
            if key not in self._models:
                raise KeyError(f"{key} is not loaded")
            self._models[key].pinned = pinned

    # -- reports -------------------------------------------------------------------------------------------

    def is_loaded(self, key: str) -> bool:
        return key in self._models

    def models(self) -> list[ModelInfo]:
        with self._lock:
            return [self._info(m) for m in self._models.values()]

    def snapshot(self) -> MemorySnapshot:
        device = memory.probe(self._reported_device())
        return MemorySnapshot(device, self.budget(device), tuple(self.models()))

    def sample(self) -> MemorySnapshot:
        """A snapshot, also appended to `history` for the memory chart."""
        snap = self.snapshot()
        self.history.append((time.time(), snap.device.used, snap.models_total))
        return snap

    @staticmethod
    def _info(m: _Loaded) -> ModelInfo:
        return ModelInfo(m.key, m.engine_id, m.device, m.footprint, m.load_seconds, m.last_used, m.pinned, m.in_use > 0)
