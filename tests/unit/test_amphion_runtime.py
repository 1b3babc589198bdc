"""The Amphion runtime: readiness, the working directory, configs, and each environment fix on real Amphion modules.

Tests marked with the `amphion` fixture run against the checkout in AMPHION_ROOT (read-only) and skip without it.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from engines.amphion import deps
from engines.amphion import runtime as amphion_runtime
from engines.amphion import traps
from engines.amphion.base import EXTENSIONS, AmphionEngine, check_extension, user_checkpoint_dir
from engines.amphion.runtime import AmphionRuntime, working_directory
from engines.contract import EngineError, Weights
from engines.requirements import PythonModule, Requirements
from studio.settings import Settings
from tests.conftest import amphion_checkout

AMPHION_ROOT = os.environ.get("AMPHION_ROOT")  # read before the autouse fixture clears it
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def amphion(monkeypatch: pytest.MonkeyPatch) -> Path:
    root = amphion_checkout(AMPHION_ROOT)
    monkeypatch.setenv("AMPHION_ROOT", str(root))
    return root


def fake_checkout(root: Path) -> Path:
    for name in ("models", "utils", "modules/monotonic_align"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return root


class Recipe(AmphionEngine):
    id = "test.recipe"
    name = "A recipe model"
    task = "tts"
    recipe_only = True
    extensions = ("monotonic_align",)
    weights = (Weights("hub", "studio-tests/recipe-extra", ("a.bin",), size_bytes=1000, label="Extra"),)


# -- readiness ---------------------------------------------------------------------------------------------------


def test_without_a_checkout_readiness_says_how_to_get_one(tmp_path: Path) -> None:
    readiness = Recipe(Settings.load()).check()
    assert readiness.state == "missing_dependency" and readiness.message == "No Amphion checkout is configured."
    assert readiness.hints[0] == "git clone https://github.com/open-mmlab/Amphion.git"
    readiness = Recipe(Settings.load(amphion_root=tmp_path)).check()
    assert "does not look like an Amphion checkout" in readiness.message


def test_an_unbuilt_extension_gives_the_exact_build_command_for_this_checkout(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path / "Amphion")
    readiness = Recipe(Settings.load(amphion_root=root)).check()
    assert readiness.state == "missing_dependency"
    assert readiness.message == f"Amphion's compiled extension monotonic_align is not built in {root}; build it once:"
    assert readiness.hints[-1] == (f"cd {root}/modules/monotonic_align && mkdir -p monotonic_align && "
                                   f"{sys.executable} setup.py build_ext --inplace")
    built = root / "modules/monotonic_align/monotonic_align"
    built.mkdir()
    (built / f"core{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    assert check_extension(EXTENSIONS["monotonic_align"], root).ready


def test_recipe_models_ask_for_the_users_checkpoint_then_for_downloads(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path / "Amphion")
    built = root / "modules/monotonic_align/monotonic_align"
    built.mkdir()
    (built / f"core{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    settings = Settings.load(amphion_root=root)
    readiness = Recipe(settings).check()
    folder = user_checkpoint_dir(settings, "test.recipe")
    assert readiness.state == "needs_checkpoint" and str(folder) in readiness.message
    (folder / "my-run").mkdir(parents=True)
    assert Recipe(settings).user_checkpoints() == [folder / "my-run"]
    readiness = Recipe(settings).check()
    assert readiness.state == "needs_download" and readiness.download_bytes == 1000


def test_missing_modules_and_version_pins_are_named_with_their_pip_commands(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    class Llama(AmphionEngine):
        id = "test.llama"
        name = "A Llama model"
        task = "tts"
        requirements = Requirements(python=(PythonModule("no_such_amphion_dep", "no-such-amphion-dep"),), amphion=True)
        needs_transformers_4 = True

    settings = Settings.load(amphion_root=fake_checkout(tmp_path / "Amphion"))
    assert Llama(settings).check().hints == ("pip install no-such-amphion-dep",)
    Llama.requirements = Requirements(amphion=True)
    assert Llama(settings).check().ready
    monkeypatch.setattr(traps.importlib.metadata, "version", lambda name: "5.2.0" if name == "transformers" else "0.1")
    readiness = Llama(settings).check()
    assert readiness.message.startswith("transformers 5.2.0 is installed, but Amphion's Llama-based models")
    assert readiness.hints == ("pip install 'transformers>=4.41,<5'",)


def test_a_module_of_the_amphion_extra_missing_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Codec(AmphionEngine):
        id = "test.codec"
        name = "An Amphion codec"
        task = "codec"
        requirements = Requirements(python=deps.BASE, amphion=True)

    for module in deps.BASE:  # the extra as if installed (CI installs only the test tools)...
        if not module.present():
            stand_in = types.ModuleType(module.module)
            stand_in.__spec__ = importlib.machinery.ModuleSpec(module.module, None)
            monkeypatch.setitem(sys.modules, module.module, stand_in)
    settings = Settings.load(amphion_root=fake_checkout(tmp_path / "Amphion"))
    assert Codec(settings).check().ready
    monkeypatch.setitem(sys.modules, "json5", None)  # ...but for json5
    readiness = Codec(settings).check()
    assert readiness.state == "missing_dependency" and readiness.message == "Python module missing: json5."
    assert readiness.hints == ("pip install json5", "or all that Amphion's models import at once, in the studio's "
                                                    'folder: pip install -e ".[amphion]"')
    with pytest.raises(pytest.skip.Exception, match=r'\(json5\): pip install -e "\.\[amphion\]"'):
        amphion_checkout(str(tmp_path / "Amphion"))


def test_an_installed_package_hiding_one_of_amphions_is_reported(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = fake_checkout(tmp_path / "Amphion")
    (root / "text").mkdir()
    impostor = types.ModuleType("text")
    impostor.__file__ = "/usr/lib/python3/dist-packages/text/__init__.py"
    monkeypatch.setitem(sys.modules, "text", impostor)
    readiness = Recipe(Settings.load(amphion_root=root)).check()
    assert readiness.state == "missing_dependency"
    assert readiness.message.startswith("The installed module /usr/lib/python3/dist-packages/text/__init__.py hides "
                                        "Amphion's 'text' package")


def test_the_real_checkout_reports_its_unbuilt_extension(amphion: Path) -> None:
    readiness = check_extension(EXTENSIONS["monotonic_align"], amphion)
    if readiness.ready:
        pytest.skip("monotonic_align is built in this checkout")
    assert readiness.hints[-1].startswith(f"cd {amphion}/modules/monotonic_align && mkdir -p monotonic_align && ")


# -- the working directory -----------------------------------------------------------------------------------------


def test_a_session_moves_only_its_own_thread_into_the_checkout(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path / "Amphion")
    (root / "models" / "probe.txt").write_text("from the checkout")
    here = os.getcwd()
    inside, leave = threading.Event(), threading.Event()
    seen: dict[str, str] = {}

    def amphion_call() -> None:
        with working_directory(root):
            seen["read"] = open("./models/probe.txt").read()
            seen["cwd"] = os.getcwd()
            child = threading.Thread(target=lambda: seen.__setitem__("child", os.getcwd()))
            child.start()
            child.join()
            inside.set()
            leave.wait(10)
        seen["after"] = os.getcwd()

    worker = threading.Thread(target=amphion_call)
    worker.start()
    assert inside.wait(10)
    assert os.getcwd() == here  # the studio's threads keep their working directory meanwhile
    (tmp_path / "written-by-the-studio.txt").write_text("absolute paths are unaffected")
    leave.set()
    worker.join()
    assert seen == {"read": "from the checkout", "cwd": str(root), "child": str(root), "after": here}


def test_without_a_private_working_directory_sessions_take_turns(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(amphion_runtime, "PRIVATE_CWD", False)
    root = fake_checkout(tmp_path / "Amphion")
    here = os.getcwd()
    order: list[str] = []

    def amphion_call(name: str) -> None:
        with working_directory(root):
            order.append(f"{name} in {os.getcwd() == str(root)}")
            time.sleep(0.1)
            order.append(f"{name} out")

    threads = [threading.Thread(target=amphion_call, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert order in (["a in True", "a out", "b in True", "b out"], ["b in True", "b out", "a in True", "a out"])
    assert os.getcwd() == here


# -- on the real checkout --------------------------------------------------------------------------------------------


def test_configs_load_from_the_checkout_or_from_anywhere_with_base_config(amphion: Path, tmp_path: Path) -> None:
    rt = AmphionRuntime.of(Settings.load())
    stock = rt.load_config("models/tts/maskgct/config/maskgct.json")
    assert stock.model.t2s_model.hidden_size == 1536
    tiny = tmp_path / "tiny_vits.json"
    tiny.write_text('{"base_config": "config/vits.json", // json5, as Amphion writes them\n'
                    ' "model": {"hidden_channels": 8},}')
    merged = rt.load_config(tiny)
    assert merged.model.hidden_channels == 8 and merged.model.inter_channels == 192  # the rest from config/vits.json
    assert merged.preprocess.phone_extractor == "espeak" and merged.model_type == "VITS"


def test_maskgct_codec_decoder_loads_with_load_model_on_this_torch(amphion: Path, tmp_path: Path) -> None:
    """Trap 4: torch >= 2.13 windows are views; safetensors.torch.load_model refuses the decoder without the fix."""
    import safetensors.torch
    import torch

    rt = AmphionRuntime.of(Settings.load())
    with rt.session():
        from models.codec.amphion_codec.codec import CodecDecoder

        size = dict(in_channels=32, up_ratios=[2, 2], num_quantizers=2, codebook_size=16, codebook_dim=4,
                    quantizer_type="fvq", use_vocos=True, vocos_dim=32, vocos_intermediate_dim=64,
                    vocos_num_layers=1, n_fft=16, hop_size=4, padding="same")
        torch.manual_seed(0)
        saved = CodecDecoder(**size)
        checkpoint = tmp_path / "model_1.safetensors"  # as the hub file: tensors that own their storage
        safetensors.torch.save_file({k: v.clone().contiguous() for k, v in saved.state_dict().items()}, checkpoint)
        plain_load = getattr(safetensors.torch.load_model, "__wrapped__", safetensors.torch.load_model)
        if traps._windows_are_views():
            with pytest.raises(RuntimeError, match="None is covering the entire storage"):
                plain_load(CodecDecoder(**size), str(checkpoint))
        decoder = CodecDecoder(**size)
        rt.load_safetensors(decoder, checkpoint)
        assert all(torch.equal(a, b) for a, b in zip(decoder.state_dict().values(), saved.state_dict().values()))
        again = CodecDecoder(**size)
        safetensors.torch.load_model(again, str(checkpoint))  # Amphion's own call, patched on activation
        codes = torch.randint(0, 16, (2, 1, 5))
        audio = decoder(decoder.vq2emb(codes, n_quantizers=2))
        assert audio.shape == (1, 1, 5 * 4)  # frames x the Vocos head's hop


def test_window_buffers_load_through_load_model_without_a_checkout(tmp_path: Path) -> None:
    """Trap 4 without Amphion: any module holding a torch.hann_window buffer, saved as the hub files are, loads
    through safetensors.torch.load_model once the fix is applied (on torch >= 2.13 the plain call refuses it)."""
    import safetensors.torch
    import torch

    class Windowed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("window", torch.hann_window(16))
            self.proj = torch.nn.Linear(16, 4)

    if not traps._windows_are_views():
        pytest.skip(f"torch {torch.__version__} gives hann_window its own storage: the trap is not here to fix")
    torch.manual_seed(0)
    saved = Windowed()
    checkpoint = tmp_path / "model.safetensors"
    safetensors.torch.save_file({k: v.clone().contiguous() for k, v in saved.state_dict().items()}, checkpoint)
    plain_load = getattr(safetensors.torch.load_model, "__wrapped__", safetensors.torch.load_model)
    with pytest.raises(RuntimeError, match="None is covering the entire storage"):
        plain_load(Windowed(), str(checkpoint))
    traps.apply_named("window-buffers-own-storage")
    loaded = Windowed()
    safetensors.torch.load_model(loaded, str(checkpoint))
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), saved.state_dict().values()))


def test_classic_recipes_import_with_the_fairseq_and_wenet_stand_ins(amphion: Path) -> None:
    """Traps 9 and 10: processors/content_extractor.py imports fairseq and the wenet extractor at module level."""
    rt = AmphionRuntime.of(Settings.load())
    with rt.session():
        import modules.wenet_extractor.squeezeformer.conv2d as conv2d
        import processors.content_extractor as content_extractor

        assert conv2d.Conv2dValid and content_extractor.WhisperExtractor
        from fairseq import checkpoint_utils

        with pytest.raises(EngineError, match="stand-in.*real fairseq"):
            checkpoint_utils.load_model_ensemble_and_task(["contentvec.pt"])
    assert {f.name for f in traps.active()} >= {"fairseq-stand-in", "conv-typing-names"}


def test_langsegment_imports_and_segments_as_amphions_g2p_calls_it() -> None:
    """Trap 5 in a fresh interpreter: LangSegment 0.2.0 fails on import until the fix loads its module file."""
    pytest.importorskip("py3langid", reason="LangSegment is not installed (pip install LangSegment)")
    if importlib.util.find_spec("LangSegment") is None:
        pytest.skip("LangSegment is not installed (pip install LangSegment)")
    code = ("from engines.amphion import traps\n"
            "try:\n import LangSegment\nexcept ImportError: print('broken')\n"
            "traps.apply_needed()\n"
            "import LangSegment\n"
            "LangSegment.setfilters(['en', 'zh', 'ja', 'ko', 'fr', 'de'])\n"
            "print(sorted({s['lang'] for s in LangSegment.getTexts('你好世界，今天天气很好。Hello world.')}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    if "broken" not in out:
        pytest.skip("the installed LangSegment imports without the fix")
    assert out.splitlines()[-1] == "['en', 'zh']"


def test_torchaudio_reads_and_writes_without_torchcodec(tmp_path: Path) -> None:
    """Trap 8: torchaudio >= 2.9 load/save need torchcodec; the fix falls back to soundfile."""
    if not traps._torchaudio_needs_torchcodec():
        pytest.skip("torchaudio here does not need torchcodec (older torchaudio, or torchcodec installed)")
    import torch
    import torchaudio

    traps.apply_needed()
    tone = torch.from_numpy(np.sin(np.arange(16_000) * 2 * np.pi * 440 / 16_000).astype(np.float32))[None]
    torchaudio.save(str(tmp_path / "tone.wav"), tone, 16_000)
    loaded, rate = torchaudio.load(str(tmp_path / "tone.wav"))
    assert rate == 16_000 and loaded.shape == (1, 16_000) and torch.allclose(loaded, tone, atol=1e-4)


def test_doctor_lists_the_checkout_extension_and_fixes(amphion: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from studio.cli import main

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert f"Amphion checkout     {amphion}" in out
    assert "extension            monotonic_align:" in out
    assert "window-buffers-own-storage" in out and "fairseq-stand-in (stand-in)" in out


def test_doctor_names_every_fix_and_its_state_without_a_checkout(capsys: pytest.CaptureFixture[str]) -> None:
    from studio.cli import main

    traps.apply_named("window-buffers-own-storage")  # active in this process where its trap is present
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "Amphion checkout     No Amphion checkout is configured." in out
    assert all(fix.name in out for fix in traps.FIXES)
    for fix in traps.active():
        assert f"fix active           {fix.name}" in out
    assert "fix in adapter       fastspeech2-vocoder-folder: the FastSpeech2 adapter links args.json" in out
    assert {fix.name for fix in traps.FIXES if fix.in_adapter} == {
        "config-from-model-source", "fastspeech2-vocoder-folder", "fastspeech2-statistics"}
