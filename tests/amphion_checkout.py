"""An Amphion checkout the G2P can import, for tests of MaskGCT-family engines.

Amphion's G2P (models/tts/maskgct/g2p, used by MaskGCT, Metis and Vevo-TTS) loads two large files at import:
`g2p/sources/g2p_chinese_model/poly_bert_model.onnx` and `g2p/sources/chinese_lexicon.txt`. A full clone has
them; a checkout without them (a shallow export, like the reference copy here) cannot import the G2P, and the
engines' readiness says so. For tests, `complete_checkout` mirrors the checkout in a temporary folder and adds small
stand-ins for whichever of the two is missing: a one-node ONNX model with the polyphone model's input and
output names (every polyphone gets the first reading) and a two-word lexicon. The mirror lives in the test's temporary folder; nothing of Amphion is committed.

One process activates one checkout (engines/amphion/runtime.py); `activated(root)` switches the process to
another for a block and restores the previous state (import path, WORK_DIR, Amphion's modules) after it.
"""
from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engines.amphion import runtime as amphion_runtime

G2P_SOURCES = Path("models/tts/maskgct/g2p/sources")
POLY_MODEL = G2P_SOURCES / "g2p_chinese_model/poly_bert_model.onnx"
LEXICON = G2P_SOURCES / "chinese_lexicon.txt"


def stand_in_poly_model(path: Path) -> None:
    """input_ids (int32 [batch, tokens]) -> outputs (float [batch, tokens, 1])."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Cast", ["input_ids"], ["as_float"], to=TensorProto.FLOAT),
         helper.make_node("Unsqueeze", ["as_float", "axis"], ["outputs"])],
        "stand_in_poly_bert",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch", "tokens"])],
        [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, ["batch", "tokens", 1])],
        [helper.make_tensor("axis", TensorProto.INT64, [1], [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _link_or_copy(src: str, dst: str) -> None:
    """Python files are copied (the runtime checks that Amphion's modules resolve inside the checkout),
    everything else (checkpoints, audio, images) is linked."""
    if src.endswith(".py"):
        shutil.copy2(src, dst)
    else:
        os.symlink(src, dst)


def complete_checkout(source: Path, target: Path) -> Path:
    """`source` as a tree of symlinks at `target`, plus stand-ins for the G2P's large files it lacks."""
    if not target.exists():
        shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    if not (target / POLY_MODEL).exists():
        stand_in_poly_model(target / POLY_MODEL)
    if not (target / LEXICON).exists():
        (target / LEXICON).write_text("你好\tni3 hao3\n世界\tshi4 jie4\n", encoding="utf-8")
    return target


@contextmanager
def activated(root: Path) -> Iterator[Path]:
    """The process uses the checkout at `root` for the block (AMPHION_ROOT points at it), then goes back."""
    saved_modules = {name: module for name, module in sys.modules.items()
                     if name.split(".")[0] in amphion_runtime.PACKAGES}
    saved_path, saved_env = list(sys.path), {k: os.environ.get(k) for k in ("WORK_DIR", "AMPHION_ROOT")}
    saved_state = amphion_runtime._activated, dict(amphion_runtime._runtimes)

    def forget() -> None:
        for name in [n for n in sys.modules if n.split(".")[0] in amphion_runtime.PACKAGES]:
            del sys.modules[name]

    forget()
    sys.path[:] = [p for p in sys.path if p != str(saved_state[0])]
    amphion_runtime._activated = None
    os.environ["AMPHION_ROOT"] = str(root)
    try:
        yield root
    finally:
        forget()
        sys.modules.update(saved_modules)
        sys.path[:] = saved_path
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        amphion_runtime._activated = saved_state[0]
        amphion_runtime._runtimes.clear()
        amphion_runtime._runtimes.update(saved_state[1])


@contextmanager
def mirrored(tmp_path_factory: Any) -> Iterator[Path]:
    """AMPHION_ROOT mirrored and completed (`complete_checkout`) in a temporary folder, active for the block; a skip
    that says what to do when there is no usable checkout."""
    from tests.conftest import amphion_checkout

    root = complete_checkout(amphion_checkout(), tmp_path_factory.mktemp("amphion") / "Amphion")
    with activated(root):
        yield root
