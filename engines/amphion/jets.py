"""Jets (Amphion's recipe; no public weights): end-to-end English TTS from the user's own checkpoint.

JetsInference only has batch inference: it reads a test list (JSON metadata) and, per entry, a label file of
phones at `<processed_dir>/<Dataset>/<lab_dir>/<Uid>.txt`. For one utterance the engine turns the text into phones
with Amphion's own phone extractor (the recipe's lexicon), writes that one-entry list and label into the model's
scratch folder (as the "Dataset" folder, an absolute path), rebuilds the test loader with Amphion's
`_build_test_dataloader` and calls `inference_for_batches`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import EngineError, InputSlot, Param, Progress, Request, Result, Weights
from . import deps, traps
from .fastspeech2 import check_lexicon, locate_statistics
from .recipes import CONFIG, RecipeEngine, phones_explained

UID = "studio"


def write_test_list(cfg: Any, folder: Path, phones: list[str]) -> Path:
    """The one-entry test list and label file JetsTestDataset reads."""
    label = folder / cfg.preprocess.lab_dir / f"{UID}.txt"
    label.parent.mkdir(parents=True, exist_ok=True)
    label.write_text("{" + " ".join(phones) + "}\n")
    listing = folder / "test.json"
    listing.write_text(json.dumps([{"Dataset": str(folder), "Uid": UID, "Singer": "studio", "Text": ""}]))
    return listing


class JetsTTS(RecipeEngine):
    id = "amphion.jets"
    name = "Jets"
    summary = ("Amphion's Jets recipe (FastSpeech2 and HiFi-GAN trained jointly, with its own aligner): English "
               "speech from a checkpoint you trained; there are no public weights.")
    sample_rate = 22_050
    memory_mb = 800
    recipe_only = True
    inputs = (InputSlot("text", "text", "Text", max_chars=20_000, chunk_chars=300,
                        help="English text; words come from the recipe's lexicon, others from g2p_en."),)
    params = (Param("checkpoint", "text", "", advanced=True, affects_load=True, label="Checkpoint folder",
                    help="The folder under the studio's checkpoints/amphion.jets/ to use; empty takes the newest."),)
    weights = (Weights("user", label="Your Jets checkpoint",
                       note="an experiment folder: args.json, checkpoint/epoch-..., and the pitch and energy "
                            "statistics.json of its training data"),) + deps.G2P_EN_DATA

    def checkpoint_folder(self, name: str) -> Path:
        found = self.user_checkpoints()
        if name:
            found = [p for p in found if p.name == name]
        if not found:
            folder = self.user_checkpoints()[0].parent if self.user_checkpoints() else None
            raise EngineError(f"Checkpoint folder: {name!r} is not among your Jets checkpoints"
                              f"{f' in {folder}' if folder else ''}." if name else
                              "Jets has no public weights: put your experiment folder (args.json, checkpoint/) "
                              "under the studio's checkpoints/amphion.jets/.")
        return found[0]

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from engines.weights.cache import nltk_data
        from engines.weights import ensure

        folder = self.checkpoint_folder((options or {}).get("checkpoint", ""))
        for data in deps.G2P_EN_DATA:
            ensure(data, progress.span(0, 0.2))
        cfg = self.load_config(folder / CONFIG)
        locate_statistics(cfg, folder, self.runtime.root)
        check_lexicon(cfg, self.runtime.root)
        with self.runtime.session():
            traps.use_nltk_data(nltk_data())
        recipe = self.build(cfg, progress.span(0.2, 1), acoustics_dir=str(folder))
        recipe.extras["folder"] = folder
        return recipe

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        inference, args = model.inference, model.args
        progress(0.0, "Reading the text")
        with self.runtime.session(), phones_explained(self.name, None):
            from processors.phone_extractor import phoneExtractor

            phones = phoneExtractor(model.cfg).extract_phone(request.inputs["text"])
            work = Path(model.scratch.name) / "utterance"
            args.test_list_file = str(write_test_list(model.cfg, work, phones))
            args.dataset = str(work)
            inference.test_dataloader = inference.accelerator.prepare(inference._build_test_dataloader())
            progress(0.3, "Speaking")
            (audio,) = inference.inference_for_batches()
        progress(1.0, "Done")
        return Result(np.asarray(audio, dtype=np.float32).reshape(-1), model.sample_rate, {"phones": len(phones)})
