"""Amphion's classic TTS recipes (bins/tts/inference.py): what their adapters share.

VITS, FastSpeech2, NaturalSpeech2, VALL-E v1 and Jets are driven through Amphion's own inference classes, built by
`bins.tts.inference.build_inference` from a namespace made by Amphion's own parser (`build_parser` plus VALL-E's
and NaturalSpeech2's arguments), as `python bins/tts/inference.py --mode single ...` would build them. The files
the command would write under --output_dir go to a scratch folder that lives as long as the loaded model.

Hub repositories of these recipes are experiment folders: `args.json` (the merged config the trainer dumped),
`checkpoint/epoch-EEEE_step-SSSSSSS_loss-L.LLLLLL/` (accelerate `save_state` folders) and the phone set
(`symbols.dict`) or speaker map (`spk2id.json`) the recipe reads next to them.
"""
from __future__ import annotations

import argparse
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..contract import EngineError, InvalidRequest, Param, Progress, Weights
from ..requirements import Requirements
from . import deps
from .base import AmphionEngine

CONFIG = "args.json"  # the merged config Amphion's trainers dump into the experiment folder
SPEAKER = Param("speaker", "text", "", advanced=True,
                help="Multi-speaker checkpoints only: the speaker's name, as listed in the checkpoint's spk2id.json.")


def seed_everything(seed: int) -> None:
    """The seeds Amphion's recipes draw from (python, numpy, torch on every device)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def recipe_args(**values: Any) -> argparse.Namespace:
    """The namespace `bins/tts/inference.py` parses, with its defaults, and `values` set (names as in the CLI)."""
    from bins.tts.inference import build_parser
    from models.tts.naturalspeech2.ns2_inference import NS2Inference
    from models.tts.valle.valle_inference import VALLEInference

    parser = build_parser()
    VALLEInference.add_arguments(parser)
    NS2Inference.add_arguments(parser)
    args = parser.parse_args(["--config", CONFIG, "--mode", "single"])
    for name, value in values.items():
        if not hasattr(args, name):
            raise AttributeError(f"bins/tts/inference.py has no argument {name!r}")
        setattr(args, name, value)
    return args


@dataclass
class Recipe:
    """A loaded recipe: Amphion's inference object, its config and args, and the scratch folder it writes into."""

    inference: Any
    cfg: Any
    args: argparse.Namespace
    scratch: tempfile.TemporaryDirectory  # type: ignore[type-arg]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_rate(self) -> int:
        return int(self.cfg.preprocess.sample_rate)

    def close(self) -> None:
        self.scratch.cleanup()


class RecipeEngine(AmphionEngine):
    """An adapter of a bins/tts recipe: load builds Amphion's inference class, run sets its args and calls it."""

    task = "tts"
    family = "Amphion"
    languages = ("en",)
    license = "MIT"
    requirements: ClassVar[Requirements] = Requirements(amphion=True, python=deps.CLASSIC_TTS,
                                                        binaries=(deps.ESPEAK_NG,))

    def build(self, cfg: Any, progress: Progress, **args: Any) -> Recipe:
        """Amphion's inference class for `cfg.model_type`, built as bins/tts/inference.py builds it."""
        progress(0.0, "Building the model")
        scratch = tempfile.TemporaryDirectory(prefix=f"{self.id}-")
        try:
            with self.runtime.session():
                from bins.tts.inference import build_inference

                namespace = recipe_args(output_dir=scratch.name, **args)
                inference = build_inference(namespace, cfg)
        except BaseException:
            scratch.cleanup()
            raise
        progress(1.0, "Loaded")
        return Recipe(inference, cfg, namespace, scratch)

    def unload(self, model: Any) -> None:
        if isinstance(model, Recipe):
            model.close()

    def load_config(self, path: Path, **overrides: Any) -> Any:
        """A recipe's config (json5, base_config chains) with `overrides` ("preprocess.processed_dir": ...)."""
        if not path.is_file():
            raise EngineError(f"{self.name}: the checkpoint has no {path.name} ({path}); an Amphion experiment "
                              f"folder holds args.json next to its checkpoint/ folder.")
        cfg = self.runtime.load_config(path)
        for dotted, value in overrides.items():
            *parents, leaf = dotted.split(".")
            node = cfg
            for name in parents:
                node = getattr(node, name)
            setattr(node, leaf, value)
        return cfg


def speaker_name(cfg: Any, folder: Path, requested: str) -> str | None:
    """The speaker to pass to a multi-speaker checkpoint (checked against its spk2id.json), or None."""
    import json

    multi = bool(getattr(cfg.preprocess, "use_spkid", False)) and bool(
        getattr(cfg.train, "multi_speaker_training", False))
    if not multi:
        if requested.strip():
            raise InvalidRequest("Speaker: this checkpoint has a single voice; leave the speaker empty.")
        return None
    path = folder / cfg.preprocess.spk2id
    names = sorted(json.loads(path.read_text())) if path.is_file() else []
    if requested.strip() not in names:
        shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
        raise InvalidRequest(f"Speaker: {requested.strip() or '(empty)'!r} is not one of this checkpoint's speakers"
                             f" ({shown or f'none: {path.name} is missing'}).")
    return requested.strip()


@contextmanager
def phones_explained(engine: str, symbols: Path | None) -> Iterator[None]:
    """A phone outside the checkpoint's phone set (a KeyError deep in Amphion) becomes a message for the user."""
    try:
        yield
    except KeyError as exc:
        phone = exc.args[0] if exc.args else "?"
        where = f" ({symbols.name})" if symbols else ""
        raise EngineError(f"{engine} cannot say part of this text: it turns into the sound {phone!r}, which is not "
                          f"in the phone set{where} the model was trained with. Rephrase or spell out that part "
                          f"(digits, symbols and foreign words are the usual cause).") from exc


def hub_folder(repo_id: str, files: tuple[str, ...], size_bytes: int, label: str, **extra: Any) -> Weights:
    return Weights("hub", repo_id, files, size_bytes=size_bytes, license="MIT", label=label, **extra)
