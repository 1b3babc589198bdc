"""Environment traps of Amphion on today's packages (reference/amphion-catalog.md §8), each with a small named fix.

One registry, FIXES. Most fixes patch the environment: applied only when their trap is present here
(`needed()`), once, when the Amphion runtime activates. The others live in an adapter's own loading code and
are always in effect there (`apply` is None; the remedy names the adapter). `amphion-studio doctor` lists every
fix and its state. Stand-ins replace a missing module only so that Amphion's modules import; calling into a
stand-in raises an EngineError that says so plainly.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import sys
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..contract import EngineError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fix:
    name: str
    trap: str  # what breaks and whom it hits
    remedy: str  # what the fix does
    needed: Callable[[], bool] | None = None  # whether the trap is here; None for a fix in an adapter (never asked)
    apply: Callable[[], None] | None = None  # None: the fix is part of an adapter's loading code
    stand_in: bool = False  # replaces a missing module just so Amphion's modules import

    @property
    def in_adapter(self) -> bool:
        return self.apply is None


# -- 1. safetensors.torch.load_model refuses modules whose hann_window buffers are views (torch >= 2.13) -----


def own_storage(module: Any) -> int:
    """Give every buffer that is a view of a larger storage its own copy; returns how many were copied.

    torch >= 2.13 makes `torch.hann_window(n)` a view of an (n+1)-element storage, and safetensors refuses to
    save or load a state dict holding such a view ("None is covering the entire storage").
    """
    copied = 0
    for submodule in module.modules():
        for name, buffer in list(submodule._buffers.items()):
            if buffer is not None and buffer.untyped_storage().nbytes() != buffer.numel() * buffer.element_size():
                submodule._buffers[name] = buffer.clone()
                copied += 1
    return copied


def _windows_are_views() -> bool:
    import torch

    window = torch.hann_window(8)
    return window.untyped_storage().nbytes() != window.numel() * window.element_size()


def _patch_load_model() -> None:
    import safetensors.torch

    original = safetensors.torch.load_model
    if getattr(original, "__studio_fix__", False):
        return

    def load_model(model: Any, filename: Any, *args: Any, **kwargs: Any) -> Any:
        own_storage(model)
        return original(model, filename, *args, **kwargs)

    load_model.__studio_fix__ = True  # type: ignore[attr-defined]
    load_model.__wrapped__ = original  # type: ignore[attr-defined]
    safetensors.torch.load_model = load_model


# -- 2. LangSegment 0.2.0 (the only version on PyPI) fails on import ---------------------------------------------


def _langsegment_broken() -> bool:
    if importlib.util.find_spec("LangSegment") is None:
        return False
    if "LangSegment" in sys.modules and hasattr(sys.modules["LangSegment"], "getTexts"):
        return False
    try:
        import LangSegment  # noqa: F401  (the import is the test)
    except ImportError:
        sys.modules.pop("LangSegment", None)
        sys.modules.pop("LangSegment.LangSegment", None)
        return True
    return False


def _load_langsegment_module() -> None:
    """Its __init__ imports names LangSegment.py lacks; LangSegment.py itself has setfilters and getTexts."""
    spec = importlib.util.find_spec("LangSegment")
    assert spec is not None and spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations))) / "LangSegment.py"
    module_spec = importlib.util.spec_from_file_location("LangSegment", source)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["LangSegment"] = module
    module_spec.loader.exec_module(module)
    sys.modules["LangSegment.LangSegment"] = module


# -- 3. fairseq does not install on Python >= 3.11; processors/content_extractor.py imports it at module level --


class _StandInModule(types.ModuleType):
    """Importable, not usable: any function taken from it raises an EngineError that says why it is missing."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(name, f"Stand-in for {name} (not installed): importable, not usable.")
        self.__studio_why__ = why

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def unavailable(*args: Any, **kwargs: Any) -> Any:
            raise EngineError(f"{self.__name__}.{name} is a stand-in: {self.__studio_why__}")

        return unavailable


FAIRSEQ_WHY = ("the studio put it there so Amphion's modules import without fairseq, which does not install on "
               "Python 3.11 or newer. The studio's engines run ContentVec and HuBERT through transformers instead "
               "(engines/amphion/hubert.py); this code path calls fairseq itself and needs the real fairseq.")


def _install_fairseq_stand_in() -> None:
    package = _StandInModule("fairseq", FAIRSEQ_WHY)
    package.__path__ = []  # a package, so `from fairseq import checkpoint_utils` works
    package.__studio_stand_in__ = True  # type: ignore[attr-defined]
    checkpoint_utils = _StandInModule("fairseq.checkpoint_utils", FAIRSEQ_WHY)
    package.checkpoint_utils = checkpoint_utils  # type: ignore[attr-defined]
    sys.modules["fairseq"] = package
    sys.modules["fairseq.checkpoint_utils"] = checkpoint_utils


# -- 3b. utils/world.py imports diffsptk at module level; every acoustic feature extraction imports utils.world ---


def _install_diffsptk_stand_in() -> None:
    module = _StandInModule("diffsptk", "the studio put it there so Amphion's acoustic feature extraction imports "
                                        "without diffsptk (only its WORLD mel-cepstrum features use it; diffsptk "
                                        "1.0.1, Amphion's pin, downgrades librosa). Install diffsptk for this path.")
    module.__studio_stand_in__ = True  # type: ignore[attr-defined]
    sys.modules["diffsptk"] = module


# -- 4. the wenet extractor imports typing names torch.nn.modules.conv no longer re-exports ---------------------


def _conv_lacks_typing_names() -> bool:
    import torch.nn.modules.conv as conv

    return not (hasattr(conv, "Union") and hasattr(conv, "Optional"))


def _add_conv_typing_names() -> None:
    import torch.nn.modules.conv as conv

    conv.Union = typing.Union  # type: ignore[attr-defined]
    conv.Optional = typing.Optional  # type: ignore[attr-defined]


# -- 5. torchaudio >= 2.9 load/save need torchcodec ----------------------------------------------------------------


def _torchaudio_needs_torchcodec() -> bool:
    try:
        version = importlib.metadata.version("torchaudio")
    except importlib.metadata.PackageNotFoundError:
        return False
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) >= (2, 9) and importlib.util.find_spec("torchcodec") is None


def _soundfile_torchaudio_io() -> None:
    """torchaudio.load / save fall back to soundfile (libsndfile) when torchcodec is missing."""
    import numpy as np
    import soundfile
    import torch
    import torchaudio

    if getattr(torchaudio.load, "__studio_fix__", False):
        return
    original_load, original_save = torchaudio.load, torchaudio.save

    def load(uri: Any, frame_offset: int = 0, num_frames: int = -1, normalize: bool = True,
             channels_first: bool = True, *args: Any, **kwargs: Any) -> tuple[Any, int]:
        try:
            return original_load(uri, frame_offset, num_frames, normalize, channels_first, *args, **kwargs)
        except (ImportError, RuntimeError) as exc:
            if "torchcodec" not in str(exc).lower():
                raise
        data, rate = soundfile.read(uri, start=frame_offset, frames=num_frames, dtype="float32", always_2d=True)
        tensor = torch.from_numpy(np.ascontiguousarray(data.T if channels_first else data))
        return tensor, rate

    def save(uri: Any, src: Any, sample_rate: int, channels_first: bool = True, *args: Any, **kwargs: Any) -> None:
        try:
            return original_save(uri, src, sample_rate, channels_first, *args, **kwargs)
        except (ImportError, RuntimeError) as exc:
            if "torchcodec" not in str(exc).lower():
                raise
        data = src.detach().cpu().float().numpy()
        soundfile.write(uri, data.T if channels_first and data.ndim == 2 else data, sample_rate)

    for wrapper, original in ((load, original_load), (save, original_save)):
        wrapper.__studio_fix__ = True  # type: ignore[attr-defined]
        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    torchaudio.load, torchaudio.save = load, save


# -- 6. g2p_en downloads NLTK data when it is imported (every bins/tts path imports it) ----------------------------


def _nltk_may_download() -> bool:
    import nltk

    return not getattr(nltk.download, "__studio_fix__", False)


def _nltk_without_downloads() -> None:
    """nltk.download asks nothing of the network: the weight manager fetches the data an engine declares."""
    import nltk

    def download(info_or_id: Any = None, *args: Any, **kwargs: Any) -> bool:
        log.warning("NLTK data %r is not on this machine; the engine's download fetches it "
                    "(amphion-studio download ENGINE)", info_or_id)
        return False

    download.__studio_fix__ = True  # type: ignore[attr-defined]
    download.__wrapped__ = nltk.download  # type: ignore[attr-defined]
    nltk.download = download


def use_nltk_data(root: Path) -> None:
    """Put the folder the weight manager fills with NLTK data first on NLTK's search path (NLTK reads NLTK_DATA
    only when it is imported)."""
    import nltk

    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))


FIXES: tuple[Fix, ...] = (
    Fix("window-buffers-own-storage",
        "torch >= 2.13 makes hann_window buffers views, so safetensors.torch.load_model refuses MaskGCT's acoustic "
        "codec decoder (MaskGCT, Metis)",
        "safetensors.torch.load_model first gives such buffers their own storage", _windows_are_views,
        _patch_load_model),
    Fix("langsegment-module",
        "LangSegment 0.2.0 fails on import; Amphion's G2P imports it (MaskGCT, Metis, Vevo-TTS)",
        "LangSegment/LangSegment.py is loaded as the LangSegment module (it has setfilters and getTexts)",
        _langsegment_broken, _load_langsegment_module),
    Fix("fairseq-stand-in",
        "fairseq does not install on Python >= 3.11; every bins/tts and bins/svc path imports it (VITS, FastSpeech2, "
        "NaturalSpeech2, VALL-E, Jets)",
        "a stand-in module, only so the TTS recipes import; using it raises an error that says so",
        lambda: importlib.util.find_spec("fairseq") is None, _install_fairseq_stand_in, stand_in=True),
    Fix("diffsptk-stand-in",
        "utils/world.py imports diffsptk at module level, and processors/acoustic_extractor.py imports utils.world "
        "for every utterance (the singing conversion recipes); diffsptk 1.0.1 downgrades librosa, 4.x pulls a dozen "
        "packages",
        "a stand-in module, only so the feature extraction imports; WORLD mel-cepstra (which use it) say so",
        lambda: importlib.util.find_spec("diffsptk") is None, _install_diffsptk_stand_in, stand_in=True),
    Fix("conv-typing-names",
        "torch.nn.modules.conv no longer re-exports Union and Optional, which the wenet extractor imports",
        "torch.nn.modules.conv gets them from typing", _conv_lacks_typing_names, _add_conv_typing_names),
    Fix("torchaudio-io-without-torchcodec",
        "torchaudio >= 2.9 load/save need torchcodec (Vevo's save_audio, DualCodec-VALLE)",
        "torchaudio.load and torchaudio.save fall back to soundfile", _torchaudio_needs_torchcodec,
        _soundfile_torchaudio_io),
    Fix("nltk-no-download",
        "g2p_en calls nltk.download for its tagger and CMU dictionary when imported, which every bins/tts path does "
        "(VITS, FastSpeech2, NaturalSpeech2, VALL-E, Jets): offline that waits on the network",
        "nltk.download does not touch the network; the engines that read the data declare it as weights",
        _nltk_may_download, _nltk_without_downloads),
    Fix("config-from-model-source",
        "the hub repositories of MaskGCT, Metis and Vevo carry no model config: Amphion reads the stock one from its "
        "source tree (dualcodec from its package's yaml files), so a checkpoint of another size cannot load",
        "the adapters take the config as part of the model source: a Model config param (MaskGCT, Metis, "
        "NaturalSpeech2, DualCodec, DualCodec-VALLE), the stock config when it is empty; Vevo and Vevo1.5 always "
        "build from the checkout's stock configs, so they load the released checkpoints only"),
    Fix("fastspeech2-vocoder-folder",
        "FastSpeech2Inference parses its vocoder folder itself and fails on checkpoint names it does not expect",
        "the FastSpeech2 adapter links args.json and the vocoder's checkpoints into a folder laid out as the parser "
        "expects (engines/amphion/fastspeech2.py vocoder_folder)"),
    Fix("fastspeech2-statistics",
        "FastSpeech2's constructor opens its pitch and energy statistics.json relative to the working directory",
        "the FastSpeech2 adapter points processed_dir at the statistics shipped with the checkpoint (engines/amphion/"
        "fastspeech2.py locate_statistics)"),
)

_applied: set[str] = set()
_lock = threading.Lock()


def apply_needed() -> list[Fix]:
    """Apply every fix whose trap is present and that is not applied yet; returns those applied now."""
    done = []
    with _lock:
        for fix in FIXES:
            if fix.name in _applied or fix.apply is None:
                continue
            try:
                if not fix.needed():
                    continue
            except ImportError:  # the package the trap lives in is not installed: nothing to fix
                continue
            fix.apply()
            _applied.add(fix.name)
            done.append(fix)
            log.info("Amphion environment fix active: %s (%s)", fix.name, fix.remedy)
    return done


def apply_named(*names: str) -> None:
    """Apply the named fixes where their traps are present (for code outside the checkout, e.g. dualcodec)."""
    with _lock:
        for fix in FIXES:
            if fix.name in names and fix.name not in _applied and fix.apply is not None and fix.needed():
                fix.apply()
                _applied.add(fix.name)
                log.info("Amphion environment fix active: %s (%s)", fix.name, fix.remedy)


def active() -> list[Fix]:
    return [fix for fix in FIXES if fix.name in _applied]


def status() -> list[tuple[Fix, str]]:
    """Each fix with 'active', 'applies on use' (the trap is here; the runtime fixes it when it activates),
    'in adapter' (always in effect in the adapter's loading code) or 'not needed'."""
    found = []
    for fix in FIXES:
        if fix.in_adapter or fix.name in _applied:
            found.append((fix, "in adapter" if fix.in_adapter else "active"))
            continue
        try:
            found.append((fix, "applies on use" if fix.needed() else "not needed"))
        except ImportError:
            found.append((fix, "not needed"))
    return found


# -- versions the Amphion models need (checks, not fixes) ------------------------------------------------------

PINS: tuple[tuple[str, str, str], ...] = (
    ("transformers", ">=4.41,<5", "Amphion's Llama-based models (MaskGCT, Metis, Vevo, DualCodec-VALLE) do not "
                                  "import with transformers 5"),
    ("huggingface_hub", "<1", "transformers 4.4x needs huggingface_hub 0.x"),
    ("setuptools", "<81", "pyworld imports pkg_resources, which setuptools 81 removed"),
)


def pin_problems() -> list[tuple[str, str]]:
    """(sentence, pip command) per installed package outside the range the Amphion models need."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    problems = []
    for package, spec, why in PINS:
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
        if Version(version) not in SpecifierSet(spec):
            problems.append((f"{package} {version} is installed, but {why}.", f"pip install '{package}{spec}'"))
    return problems
