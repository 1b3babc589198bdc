"""SpeechTokenizer as a codec: Amphion's copy of the class (models/codec/speechtokenizer) on the released
fnlp/SpeechTokenizer checkpoint, encoding 16 kHz speech to 50 Hz residual codes and decoding them back. Its first
codebook is distilled from HuBERT and carries the content; the others add the voice and the detail (the codec
under Amphion's VALL-E v2)."""
from __future__ import annotations

import json
import math
from typing import Any

from ..contract import EngineError, InputSlot, Param, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements
from . import deps
from .base import AmphionEngine

RATE = 16_000
FOLDER = "speechtokenizer_hubert_avg"


class SpeechTokenizerCodec(AmphionEngine):
    id = "amphion.speechtokenizer"
    name = "SpeechTokenizer"
    task = "codec"
    summary = ("HuBERT-guided residual codec at 16 kHz: 50 frames a second, the first codebook the content, the "
               "other seven the voice and detail (4 kbit/s with all eight).")
    sample_rate = RATE
    license = "Apache-2.0"
    memory_mb = 700
    HUB_REPO = "fnlp/SpeechTokenizer"
    weights = (Weights("hub", HUB_REPO, (f"{FOLDER}/config.json", f"{FOLDER}/SpeechTokenizer.pt"),
                       size_bytes=482_000_000, license="Apache-2.0"),)
    requirements = Requirements(amphion=True, python=(PythonModule("torch", "torch"), deps.EINOPS))
    inputs = (InputSlot("source", "audio", "Speech", min_seconds=0.1, max_seconds=600.0,
                        help="Speech; resampled to 16 kHz, and the result is 16 kHz.", carries=("content", "voice")),)
    params = (Param("codebooks", "int", 8, min=1, max=8, step=1, label="Codebooks",
                    help="How many codebooks to keep: 1 is the content alone (the voice is lost), 8 all of them."),)

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from engines.weights import ensure

        folder = ensure(self.weights[0], progress.span(0, 0.8)) / FOLDER
        progress(0.85, "Building SpeechTokenizer")
        config = json.loads((folder / "config.json").read_text())
        with self.runtime.session():
            from models.codec.speechtokenizer.model import SpeechTokenizer

            try:
                model = SpeechTokenizer.load_from_checkpoint(str(folder / "config.json"),
                                                             str(folder / "SpeechTokenizer.pt"))
            except Exception as error:  # a torn download, or a checkpoint of another architecture
                raise EngineError(f"{folder / 'SpeechTokenizer.pt'} does not load into SpeechTokenizer with its "
                                  f"config.json ({error}); download {self.HUB_REPO} again.") from error
        return model.eval().to(device), config, device

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        from ..conversion_input import fit_length, read_source

        network, config, device = model
        codebooks = request.params["codebooks"]
        if codebooks > network.n_q:
            raise EngineError(f"Codebooks: this checkpoint has {network.n_q}; choose 1 to {network.n_q}.")
        source = read_source(request.inputs["source"].path, RATE)
        audio = source.audio
        progress(0.1, "Encoding")
        with torch.no_grad():
            codes = network.encode(torch.from_numpy(audio).reshape(1, 1, -1).to(device), n_q=codebooks)
            progress(0.5, "Decoding")
            decoded = network.decode(codes).reshape(-1).float().cpu().numpy()
        out = fit_length(decoded, len(audio))  # whole frames in, whole frames out
        frame_rate = RATE / int(network.downsample_rate)
        bits = codebooks * math.log2(config.get("codebook_size", 1024))
        return Result(out, RATE, {"codec": "SpeechTokenizer", "codebooks": codebooks, "frame_rate": frame_rate,
                                  "frames": int(codes.shape[-1]), "bitrate_kbps": round(frame_rate * bits / 1000, 3),
                                  "notes": source.notes})
