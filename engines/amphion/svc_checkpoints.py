"""Amphion singing-conversion experiment folders, read without importing Amphion (cheap: the engine's params
list the singers from them).

An experiment folder is what Amphion's SVC trainer writes and what `amphion/singing_voice_conversion` ships:

    <experiment>/args.json                    the merged config (model_type, preprocess, model, ...)
    <experiment>/singers.json                 the singer table: "<dataset>_<singer>" -> row of the lookup table
    <experiment>/checkpoint/epoch-EEEE_step-SSSSSSS_loss-L.LLLLLL/   accelerate state (model.safetensors or
                                              pytorch_model.bin, optimizer.bin, ...); the highest step is used
    <experiment>/data/<dataset>/mel_min_max_stats/{mel_min,mel_max}.npy    the target singers' mel range
    <experiment>/data/<dataset>/pitches/statistics.json                    their pitch (for automatic transposition)

The statistics may instead stay where training wrote them: args.json's `preprocess.processed_dir`, when that
folder exists on this machine.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CHECKPOINT_NAME = re.compile(r"epoch-\d+_step-\d+_loss-[\d.]+")  # Amphion's own pattern (models/base/new_inference.py)
MODEL_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class Experiment:
    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def config(self) -> dict[str, Any]:
        return _json5(self.folder / "args.json")

    @property
    def model_type(self) -> str | None:
        return self.config.get("model_type")

    @property
    def preprocess(self) -> dict[str, Any]:
        return self.config.get("preprocess", {})

    @property
    def condition(self) -> dict[str, Any]:
        return self.config.get("model", {}).get("condition_encoder", {})

    def uses(self, feature: str) -> bool:
        """Whether the model reads a content feature: "whisper", "contentvec", "wenet", "mert"."""
        return bool(self.condition.get(f"use_{feature}"))

    @property
    def singers_file(self) -> Path:
        return self.folder / self.preprocess.get("spk2id", "singers.json")

    @property
    def singers(self) -> dict[str, int]:
        """The singer table ("<dataset>_<singer>" -> row), empty when it cannot be read."""
        table = _json5(self.singers_file)
        return {str(k): int(v) for k, v in table.items()} if isinstance(table, dict) else {}

    def latest_checkpoint(self) -> Path | None:
        """The checkpoint Amphion's inference loads: the highest step under checkpoint/."""
        folder = self.folder / "checkpoint"
        found = [p for p in folder.iterdir() if CHECKPOINT_NAME.match(p.name)] if folder.is_dir() else []
        return max(found, key=lambda p: int(p.name.split("_")[-2].split("-")[-1]), default=None)

    def stats_root(self) -> Path | None:
        """Where the target datasets' statistics are: data/ beside the checkpoint, or the training data folder."""
        bundled = self.folder / "data"
        if bundled.is_dir():
            return bundled
        processed = self.preprocess.get("processed_dir")
        if processed and Path(processed).is_absolute() and Path(processed).is_dir():
            return Path(processed)
        return None

    def problems(self, model_type: str) -> list[str]:
        """What keeps this folder from being used as a `model_type` checkpoint, in words (empty: usable)."""
        if not (self.folder / "args.json").is_file():
            return [f"{self.name} has no args.json (the config the trainer writes beside checkpoint/)."]
        found: list[str] = []
        if self.model_type != model_type:
            found.append(f"{self.name} is a {self.model_type or 'model of unknown type'} checkpoint, "
                         f"not {model_type}.")
        checkpoint = self.latest_checkpoint()
        if checkpoint is None:
            found.append(f"{self.name} has no checkpoint/epoch-…_step-…_loss-… folder.")
        elif not any((checkpoint / name).is_file() for name in MODEL_FILES):
            found.append(f"{checkpoint.name} holds neither {' nor '.join(MODEL_FILES)}.")
        if not self.singers:
            found.append(f"{self.name} has no singer table ({self.singers_file.name}).")
        if self.stats_root() is None:
            found.append(f"{self.name} has no data/<dataset>/ statistics (mel_min_max_stats, pitches) and its "
                         f"training data folder is not on this machine.")
        return found

    def missing_statistics(self, singer: str) -> str | None:
        """What is missing to convert to `singer`, in words, or None."""
        dataset = dataset_of(singer)
        root = self.stats_root()
        if root is None:
            return f"{self.name} has no statistics of the target singers (data/{dataset}/)."
        needed = [root / dataset / "mel_min_max_stats" / "mel_min.npy", root / dataset / "mel_min_max_stats" /
                  "mel_max.npy", root / dataset / "pitches" / "statistics.json"]
        missing = [str(p.relative_to(root.parent)) for p in needed if not p.is_file()]
        return f"{self.name} lacks {', '.join(missing)}, needed to sing as {singer}." if missing else None


def dataset_of(singer: str) -> str:
    """The dataset part of a singer key, split the way Amphion splits it ("vocalist_l1_Adele" -> "vocalist_l1")."""
    return singer.replace("_" + singer.split("_")[-1], "")


def singer_label(singer: str) -> str:
    """'Adele · vocalist_l1' for 'vocalist_l1_Adele'."""
    name = singer.split("_")[-1]
    dataset = dataset_of(singer)
    return f"{name} · {dataset}" if dataset and dataset != singer else singer


def _json5(path: Path) -> Any:
    try:
        stat = path.stat()
    except OSError:
        return {}
    return _cached_json5(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _cached_json5(path: str, mtime: int, size: int) -> Any:
    """Parsed JSON (configs may be json5: comments, trailing commas); {} when unreadable. Do not mutate it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import json5

        return json5.loads(text)
    except (ImportError, ValueError):
        return {}
