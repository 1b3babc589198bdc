"""Audio embeddings for the Fréchet audio distance of two sets: LAION-CLAP (laion/clap-htsat-unfused, through
transformers), when its weights are in the Hugging Face cache.

Amphion's `fad` embeds with VGGish (fetched from GitHub by torch.hub, which the studio does not do); CLAP
embeddings give the FAD variant of fadtk's "clap-laion-audio", so compare FAD numbers only within one model.
"""
from __future__ import annotations

from typing import Any

from ..contract import Engine, InputSlot, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements
from .speaker_encoders import hub_folder

CLAP_RATE = 48_000


class ClapAudioEmbedder(Engine):
    id = "metric.clap"
    name = "LAION-CLAP audio encoder"
    task = "metric"
    family = "Audio embedding"
    summary = "512-d CLAP audio embeddings, for the Fréchet audio distance between two sets of clips."
    sample_rate = CLAP_RATE
    license = "Apache-2.0"
    memory_mb = 800
    inputs = (InputSlot("audio", "audio", "Audio", help="Any audio."),)
    HUB_REPO = "laion/clap-htsat-unfused"
    weights = (Weights("hub", HUB_REPO, ("config.json", "preprocessor_config.json", "model.safetensors"),
                       size_bytes=615_000_000, license="Apache-2.0"),)
    requirements = Requirements(python=(PythonModule("transformers", "transformers"), PythonModule("torch", "torch")))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from transformers import ClapFeatureExtractor, ClapModel

        folder = hub_folder(self, progress)
        extractor = ClapFeatureExtractor.from_pretrained(folder)
        model = ClapModel.from_pretrained(folder).eval().to(device)
        return extractor, model, device

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        from studio.audio.io import read_audio

        extractor, network, device = model
        rate = extractor.sampling_rate
        audio, _ = read_audio(request.inputs["audio"].path, rate)
        # consecutive windows of the model's length, averaged: the extractor alone would crop long clips at random
        window = int(extractor.nb_max_samples)
        windows = [audio[start:start + window] for start in range(0, max(len(audio), 1), window)]
        fusion = bool(network.config.audio_config.enable_fusion)
        features = extractor(windows, sampling_rate=rate, return_tensors="pt", padding="repeatpad",
                             truncation="fusion" if fusion else "rand_trunc")
        with torch.no_grad():
            embeddings = network.get_audio_features(**{k: v.to(device) for k, v in features.items()})
        return Result(None, rate, {"embedding": embeddings.mean(0).float().cpu().numpy()})
