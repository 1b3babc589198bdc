"""What memory the device has and what this process holds, on CUDA (torch) and on the CPU.

torch is consulted only once something else imported it, so the header gauge never pays for importing it, and
'auto' finds the device without importing torch when the machine has no GPU device files. A process holds
resident system memory (RSS) and CUDA allocations; both are measured and counted. On unified-memory devices
(Jetson) the GPU shares system RAM, so the device's total and free memory are the system's (counted once), and
`torch.cuda.mem_get_info` is not used: it undercounts what is free (page cache).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import glob
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


@dataclass(frozen=True)
class Usage:
    """What this process holds: resident system memory, and CUDA allocations on the device."""

    resident: int
    cuda: int = 0

    @property
    def total(self) -> int:
        return self.resident + self.cuda

    def beyond(self, other: Usage) -> int:
        """Bytes held beyond `other`, each kind on its own (resident memory freed by a collection while CUDA
        memory grows does not hide the growth)."""
        return max(self.resident - other.resident, 0) + max(self.cuda - other.cuda, 0)


# Device files through which torch reaches a GPU: NVIDIA (also Jetson Thor), older Jetsons, WSL, ROCm.
GPU_DEVICE_FILES = ("/dev/nvidia[0-9]*", "/dev/nvgpu", "/dev/nvhost-gpu", "/dev/dxg", "/dev/kfd")


def torch_if_loaded():  # type: ignore[no-untyped-def]
    return sys.modules.get("torch")


def gpu_present() -> bool:
    """Whether the machine has a GPU torch could use (its device files exist); cheap, imports nothing."""
    return any(glob.glob(pattern) for pattern in GPU_DEVICE_FILES)


def resolve_device(setting: str) -> str:
    """'auto' becomes 'cuda' when torch sees a GPU, else 'cpu'. Without GPU device files that is known at once;
    with them it imports torch (call it off the UI thread)."""
    if setting != "auto":
        return setting
    if torch_if_loaded() is None and not gpu_present():
        return "cpu"
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def start_cuda() -> None:
    """Initialise CUDA (imports torch), so memory is measured on the GPU from the first load on."""
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("torch cannot use a GPU here (a CPU-only torch build, or no driver)")
    torch.cuda.init()


def cuda_started(device: str) -> bool:
    return _cuda_ready(device) is not None


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
        if device.startswith("cuda"):  # the studio starts CUDA with the first model it loads
            return DeviceMemory(device, "GPU not started yet: system memory shown until a model loads", False,
                                vm.total, vm.available, rss)
        return DeviceMemory("cpu", f"CPU ({vm.total / 1e9:.0f} GB RAM)", True, vm.total, vm.available, rss)
    index = torch.device(device).index or 0
    props = torch.cuda.get_device_properties(index)
    allocated, reserved = torch.cuda.memory_allocated(index), torch.cuda.memory_reserved(index)
    if getattr(props, "is_integrated", False):
        return DeviceMemory(f"cuda:{index}", f"{props.name} (unified memory)", True, vm.total, vm.available,
                            rss + reserved, allocated, reserved)
    free, total = torch.cuda.mem_get_info(index)
    return DeviceMemory(f"cuda:{index}", props.name, False, total, free, reserved, allocated, reserved)


def usage(device: str) -> Usage:
    """This process's resident memory and, once CUDA runs on `device`, its CUDA allocations there."""
    resident = psutil.Process().memory_info().rss
    torch = _cuda_ready(device)
    if torch is None:
        return Usage(resident)
    index = torch.device(device).index or 0
    torch.cuda.synchronize(index)
    return Usage(resident, torch.cuda.memory_allocated(index))


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
