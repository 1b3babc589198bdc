"""What memory the device has and what this process holds, on CUDA (torch) and on the CPU.

torch is consulted only once something else imported it, so the header gauge never pays for importing it.
On unified-memory devices (Jetson) the GPU shares system RAM and `torch.cuda.mem_get_info` undercounts
what is free (page cache), so the shared pool is measured as available system memory instead.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class DeviceMemory:
    device: str  # "cpu", "cuda:0"
    name: str
    unified: bool  # the device shares system RAM (Jetson) or is the CPU itself
    total: int
    available: int
    process: int  # what this process holds on the device's memory: RSS, plus CUDA allocations
    torch_allocated: int | None = None
    torch_reserved: int | None = None

    @property
    def used(self) -> int:
        return self.total - self.available


def torch_if_loaded():  # type: ignore[no-untyped-def]
    return sys.modules.get("torch")


def resolve_device(setting: str) -> str:
    """'auto' becomes 'cuda' when torch sees a GPU, else 'cpu'. Imports torch (call it off the UI thread)."""
    if setting != "auto":
        return setting
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def _cuda_ready(device: str):  # type: ignore[no-untyped-def]
    torch = torch_if_loaded()
    if torch is None or not device.startswith("cuda") or not torch.cuda.is_initialized():
        return None
    return torch


def probe(device: str) -> DeviceMemory:
    vm = psutil.virtual_memory()
    rss = psutil.Process().memory_info().rss
    torch = _cuda_ready(device)
    if torch is None:
        return DeviceMemory(device if device != "auto" else "cpu", f"CPU ({vm.total / 1e9:.0f} GB RAM)", True,
                            vm.total, vm.available, rss)
    index = torch.device(device).index or 0
    props = torch.cuda.get_device_properties(index)
    allocated, reserved = torch.cuda.memory_allocated(index), torch.cuda.memory_reserved(index)
    if getattr(props, "is_integrated", False):
        return DeviceMemory(f"cuda:{index}", f"{props.name} (unified memory)", True, vm.total, vm.available,
                            rss + reserved, allocated, reserved)
    free, total = torch.cuda.mem_get_info(index)
    return DeviceMemory(f"cuda:{index}", props.name, False, total, free, reserved, allocated, reserved)


def footprint(device: str) -> int:
    """This process's use of the memory models are loaded into (for before/after measurements)."""
    torch = _cuda_ready(device)
    if torch is None:
        return psutil.Process().memory_info().rss
    index = torch.device(device).index or 0
    torch.cuda.synchronize(index)
    allocated = torch.cuda.memory_allocated(index)
    if getattr(torch.cuda.get_device_properties(index), "is_integrated", False):
        return allocated + psutil.Process().memory_info().rss
    return allocated


def external_bytes(model: object) -> int:
    """Memory a model holds outside this process (an isolated runtime's worker), if it can tell."""
    measure = getattr(model, "memory_bytes", None)
    return int(measure()) if callable(measure) else 0


def tensor_bytes(model: object) -> int:
    """Bytes of torch parameters and buffers reachable from `model` (itself, its attributes, one level down)."""
    torch = torch_if_loaded()
    if torch is None:
        return 0
    modules: dict[int, object] = {}
    candidates = [model] + list(getattr(model, "__dict__", {}).values())
    if isinstance(model, dict):
        candidates += list(model.values())
    for value in candidates:
        if isinstance(value, torch.nn.Module):
            modules[id(value)] = value
    seen: set[int] = set()
    total = 0
    for module in modules.values():
        for tensor in list(module.parameters()) + list(module.buffers()):  # type: ignore[attr-defined]
            if tensor.layout != torch.strided:  # sparse buffers (Whisper's alignment heads) have no one storage
                continue
            key = tensor.untyped_storage().data_ptr()
            if key not in seen:
                seen.add(key)
                total += tensor.untyped_storage().nbytes()
    return total


M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024


def map_large_allocations_directly() -> bool:
    """Have glibc give every block of 4 MB or more its own mapping, so freeing a model's tensors hands the
    memory straight back to the OS. (By default glibc raises this threshold up to 32 MB as big blocks are
    freed, after which weights land in heap arenas that fragmentation keeps.) True when it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    libc_name = ctypes.util.find_library("c")
    try:
        return bool(libc_name and ctypes.CDLL(libc_name).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


def release_freed_memory() -> None:
    """After dropping references: collect, empty torch's CUDA cache, and hand freed heap back to the OS."""
    gc.collect()
    torch = torch_if_loaded()
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
    if sys.platform.startswith("linux"):
        libc_name = ctypes.util.find_library("c")
        if libc_name:
            try:
                ctypes.CDLL(libc_name).malloc_trim(0)
            except (OSError, AttributeError):
                pass
