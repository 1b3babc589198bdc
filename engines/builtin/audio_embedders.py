"""Audio embeddings for the Fréchet audio distance of two sets.

VGGish is what Amphion's `fad` uses (frechet_audio_distance with model "vggish", no PCA, no output activation):
the network class comes from the `torchvggish` package and its weights from the release torch.hub fetches, into
torch.hub's cache. LAION-CLAP (laion/clap-htsat-unfused, through transformers) gives the FAD variant of fadtk's
"clap-laion-audio". FAD numbers compare only within one model.
"""
from __future__ import annotations

from typing import Any

from ..contract import Engine, EngineError, InputSlot, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements
from .speaker_encoders import hub_folder

CLAP_RATE = 48_000
VGGISH_RATE = 16_000
AUDIO = (InputSlot("audio", "audio", "Audio", help="Any audio."),)


class VGGishEmbedder(Engine):
    id = "metric.vggish"
    name = "VGGish"
    task = "metric"
    family = "Audio embedding"
    summary = ("128-d VGGish embeddings of every 0.96 s of audio: the Fréchet audio distance as Amphion computes it, "
               "so the numbers compare with papers that report FAD.")
    sample_rate = VGGISH_RATE
    license = "Apache-2.0"
    memory_mb = 320
    inputs = AUDIO
    WEIGHTS_URL = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"
    weights = (Weights("url", url=WEIGHTS_URL, path="hub/checkpoints/vggish-10086976.pth", size_bytes=288_600_000,
                       license="Apache-2.0", label="vggish-10086976.pth (torchvggish release)"),)
    requirements = Requirements(python=(PythonModule("torchvggish", "torchvggish"), PythonModule("resampy", "resampy"),
                                        PythonModule("torch", "torch")))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import pickle

        import torch
        from torchvggish.torchvggish import VGG, make_layers

        from engines.weights import ensure

        path = ensure(self.weights[0], progress.span(0, 0.7))
        progress(0.75, "Building VGGish")
        model = VGG(make_layers(), postprocess=False)
        try:
            model.load_state_dict(torch.load(str(path), map_location="cpu", weights_only=True))
        except (pickle.UnpicklingError, RuntimeError) as error:
            raise EngineError(f"{path} is not the VGGish checkpoint ({error}); delete it and download "
                              f"metric.vggish again.") from error
        # Amphion's FAD takes the last layer before its ReLU (frechet_audio_distance's use_activation=False)
        model.embeddings = torch.nn.Sequential(*list(model.embeddings.children())[:-1])
        return model.eval().to(device), device

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch
        from torchvggish import vggish_input

        from studio.audio.io import read_audio

        network, device = model
        audio, rate = read_audio(request.inputs["audio"].path)  # VGGish resamples with resampy, as Amphion's does
        examples = vggish_input.waveform_to_examples(audio, rate, return_tensor=True)
        if len(examples) == 0:
            raise EngineError(f"the clip is {len(audio) / rate:.2f} s long; VGGish embeds 0.96 s at a time, so "
                              f"FAD needs clips of at least 0.96 s.")
        with torch.no_grad():
            frames = network(examples.detach().to(device)).float().cpu().numpy()
        return Result(None, VGGISH_RATE, {"embedding": frames.mean(0), "frames": frames})


class ClapAudioEmbedder(Engine):
    id = "metric.clap"
    name = "LAION-CLAP audio encoder"
    task = "metric"
    family = "Audio embedding"
    summary = "512-d CLAP audio embeddings, for the Fréchet audio distance between two sets of clips."
    sample_rate = CLAP_RATE
    license = "Apache-2.0"
    memory_mb = 800
    inputs = AUDIO
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
