"""FastSpeech2 (Amphion's recipe, LJSpeech checkpoint) with its HiFiGAN vocoder, through FastSpeech2Inference.

Two traps of the recipe are fixed here, each by a named function with its own test:
- `locate_statistics` (catalog trap 16): the model's constructor opens its pitch and energy statistics at
  `<processed_dir>/<dataset>/<phone_pitch_dir|phone_energy_dir>/statistics.json`, relative to the working
  directory (`data/LJSpeech/...` in the checkout). The checkpoint ships them; processed_dir is pointed there.
- `vocoder_folder` (catalog trap 15): FastSpeech2Inference parses its vocoder folder itself, wants `args.json`
  inside it and takes the step from file names like `epoch-0000_step-0400000_loss-0.000000.pt`, raising
  IndexError for any other name. The hub repository keeps args.json beside `checkpoints/`; the studio gives the
  recipe a folder of links named the way its parser reads them.
English G2P is the checkout's lexicon plus g2p_en, whose NLTK data (catalog trap 17) is declared as weights.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import EngineError, InputSlot, Param, Progress, Request, Result
from . import deps, traps
from .recipes import CONFIG, SPEAKER, RecipeEngine, hub_folder, phones_explained, speaker_name

REPO = "amphion/fastspeech2_ljspeech"
VOCODER_REPO = "amphion/hifigan_ljspeech"
STEP_NAME = re.compile(r"^epoch-\d+_step-(\d+)_loss-[\d.]+$")


def statistics_files(cfg: Any, root: Path) -> list[Path]:
    """Where the model's constructor opens its statistics when processed_dir is `root`."""
    dataset, pre = cfg.dataset[0], cfg.preprocess
    energy = pre.energy_dir if pre.use_frame_energy else pre.phone_energy_dir
    pitch = pre.pitch_dir if pre.use_frame_pitch else pre.phone_pitch_dir
    return [root / dataset / energy / "statistics.json", root / dataset / pitch / "statistics.json"]


def locate_statistics(cfg: Any, checkpoint: Path, checkout: Path) -> Path:
    """Point cfg.preprocess.processed_dir at the folder holding the statistics: inside the checkpoint folder
    (where the hub repository ships them), else the config's own folder in the checkout; returns it."""
    configured = Path(cfg.preprocess.processed_dir)
    candidates = [checkpoint] + sorted({p.parents[2] for p in checkpoint.rglob("statistics.json")
                                        if len(p.relative_to(checkpoint).parts) >= 3})
    candidates.append(configured if configured.is_absolute() else checkout / configured)
    for root in candidates:
        if all(path.is_file() for path in statistics_files(cfg, root)):
            cfg.preprocess.processed_dir = str(root)
            return root
    wanted = ", ".join(str(p.relative_to(checkpoint)) for p in statistics_files(cfg, checkpoint))
    raise EngineError(f"The checkpoint in {checkpoint} has no pitch and energy statistics ({wanted}); FastSpeech2 "
                      f"needs the statistics.json files its training data produced. Copy them from the "
                      f"preprocessed data (data/{cfg.dataset[0]}/...) into the checkpoint folder.")


def vocoder_folder(repo: Path, into: Path) -> Path:
    """A folder FastSpeech2Inference._parse_vocoder reads: args.json and the repository's .pt checkpoints, linked
    under the epoch-..._step-N_loss-... names it parses (N from the original name's digits)."""
    config = next((p for p in (repo / "checkpoints" / CONFIG, repo / CONFIG) if p.is_file()), None)
    checkpoints = sorted((repo / "checkpoints").glob("*.pt")) or sorted(repo.glob("*.pt"))
    if config is None or not checkpoints:
        raise EngineError(f"The vocoder in {repo} needs args.json and a .pt checkpoint (checkpoints/*.pt).")
    into.mkdir(parents=True, exist_ok=True)
    os.symlink(config, into / CONFIG)
    for index, path in enumerate(checkpoints):
        match = STEP_NAME.match(path.stem)
        digits = re.findall(r"\d+", path.stem)
        step = int(match.group(1)) if match else int(digits[-1]) if digits else index
        os.symlink(path, into / f"epoch-0000_step-{step:07d}_loss-0.000000.pt")
    return into


def check_lexicon(cfg: Any, checkout: Path) -> None:
    path = Path(cfg.preprocess.lexicon_path)
    if not (path if path.is_absolute() else checkout / path).is_file():
        raise EngineError(f"The lexicon {cfg.preprocess.lexicon_path} is missing from the Amphion checkout "
                          f"{checkout}; it is part of Amphion's repository (text/lexicon/): update the checkout "
                          f"(git pull, or clone it again).")


class FastSpeech2TTS(RecipeEngine):
    id = "amphion.fastspeech2"
    name = "FastSpeech2"
    summary = ("Amphion's FastSpeech2 trained on LJSpeech with its HiFiGAN vocoder: one English voice whose pitch, "
               "loudness and speed you can set directly.")
    sample_rate = 22_050
    memory_mb = 600
    inputs = (InputSlot("text", "text", "Text", max_chars=20_000, chunk_chars=300,
                        help="English text; words come from the LibriSpeech lexicon, others from g2p_en."),)
    params = (
        Param("pitch_control", "float", 1.0, min=0.5, max=2.0, step=0.05, unit="x", label="Pitch",
              help="Scales the predicted pitch contour: above 1 higher, below 1 lower."),
        Param("energy_control", "float", 1.0, min=0.5, max=2.0, step=0.05, unit="x", label="Energy",
              help="Scales the predicted loudness (energy) of each phone."),
        Param("duration_control", "float", 1.0, min=0.5, max=2.0, step=0.05, unit="x", label="Duration",
              help="Scales every phone's duration: above 1 speaks slower, below 1 faster."),
        SPEAKER,
    )
    weights = (
        hub_folder(REPO, (CONFIG, "checkpoint/", "*statistics.json"), 330_000_000, "FastSpeech2 LJSpeech"),
        hub_folder(VOCODER_REPO, (CONFIG, "checkpoints/"), 1_000_000_000, "HiFiGAN LJSpeech (vocoder)",
                   note="its vocoder"),
    ) + deps.G2P_EN_DATA

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from engines.weights import ensure
        from engines.weights.cache import nltk_data

        folder = ensure(self.weights[0], progress.span(0, 0.4))
        vocoder = ensure(self.weights[1], progress.span(0.4, 0.7))
        for data in deps.G2P_EN_DATA:
            ensure(data, progress.span(0.7, 0.75))
        cfg = self.load_config(folder / CONFIG)
        locate_statistics(cfg, folder, self.runtime.root)
        check_lexicon(cfg, self.runtime.root)
        with self.runtime.session():
            traps.use_nltk_data(nltk_data())
        recipe = self.build(cfg, progress.span(0.75, 1), acoustics_dir=str(folder))
        recipe.args.vocoder_dir = str(vocoder_folder(vocoder, Path(recipe.scratch.name) / "vocoder"))
        recipe.extras["folder"] = folder
        return recipe

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        params = request.params
        model.args.text = request.inputs["text"]
        model.args.speaker_name = speaker_name(model.cfg, model.extras["folder"], params["speaker"])
        model.args.pitch_control = params["pitch_control"]
        model.args.energy_control = params["energy_control"]
        model.args.duration_control = params["duration_control"]
        progress(0.1, "Predicting the mel spectrogram and vocoding")
        with self.runtime.session(), phones_explained(self.name, None):
            audio = model.inference.inference_for_single_utterance()
        progress(1.0, "Done")
        return Result(np.asarray(audio.cpu() if hasattr(audio, "cpu") else audio, np.float32).reshape(-1),
                      model.sample_rate)
