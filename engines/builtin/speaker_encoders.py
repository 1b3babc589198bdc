"""Speaker encoders for the speaker-similarity metric: one embedding per clip, compared by cosine similarity.

Resemblyzer's GE2E encoder ships in its wheel (offline). WavLM-SV (microsoft/wavlm-base-plus-sv, what Amphion's
`similarity` metric uses by default) runs when its weights are in the Hugging Face cache.
"""
from __future__ import annotations

from typing import Any

from ..contract import Engine, InputSlot, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements

RATE = 16_000
AUDIO = (InputSlot("audio", "audio", "Audio", help="Speech of one speaker."),)


def read_16k(request: Request) -> Any:
    from studio.audio.io import read_audio

    audio, _ = read_audio(request.inputs["audio"].path, RATE)
    return audio


def hub_folder(engine: Engine, progress: Progress) -> Any:
    """The engine's hub weights as a local folder, downloaded first (with progress) when missing."""
    from engines.weights import ensure

    return ensure(engine.weights[0], progress.span(0, 0.7))


class ResemblyzerEncoder(Engine):
    id = "metric.resemblyzer"
    name = "Resemblyzer (GE2E)"
    task = "metric"
    family = "Speaker encoder"
    summary = "256-d speaker embeddings from the GE2E encoder in the resemblyzer wheel; works offline."
    sample_rate = RATE
    license = "Apache-2.0"
    memory_mb = 60
    inputs = AUDIO
    weights = (Weights("package", note="pretrained.pt is inside the resemblyzer package", size_bytes=17_000_000,
                       license="Apache-2.0"),)
    # resemblyzer's declared webrtcvad is an sdist that imports pkg_resources; webrtcvad-wheels is the same module.
    requirements = Requirements(python=(PythonModule("resemblyzer", "--no-deps resemblyzer"),
                                        PythonModule("webrtcvad", "webrtcvad-wheels")))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from resemblyzer import VoiceEncoder

        return VoiceEncoder("cuda" if device.startswith("cuda") else "cpu", verbose=False)

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(read_16k(request), source_sr=RATE)  # volume-normalised, long silences cut
        return Result(None, RATE, {"embedding": model.embed_utterance(wav), "speech_seconds": len(wav) / RATE})


class WavLMSpeakerVerifier(Engine):
    id = "metric.wavlm_sv"
    name = "WavLM-SV"
    task = "metric"
    family = "Speaker encoder"
    summary = "X-vectors from WavLM Base+ fine-tuned for speaker verification: Amphion's default similarity model."
    sample_rate = RATE
    license = "MIT"
    memory_mb = 450
    inputs = AUDIO
    HUB_REPO = "microsoft/wavlm-base-plus-sv"
    weights = (Weights("hub", HUB_REPO, ("config.json", "preprocessor_config.json", "pytorch_model.bin"),
                       size_bytes=403_000_000, license="MIT"),)
    requirements = Requirements(python=(PythonModule("transformers", "transformers"), PythonModule("torch", "torch")))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from transformers import Wav2Vec2FeatureExtractor, WavLMForXVector

        folder = hub_folder(self, progress)
        extractor = Wav2Vec2FeatureExtractor.from_pretrained(folder)
        model = WavLMForXVector.from_pretrained(folder).eval().to(device)
        return extractor, model, device

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        extractor, network, device = model
        inputs = extractor([read_16k(request)], padding=True, return_tensors="pt", sampling_rate=RATE)
        with torch.no_grad():
            embedding = network(**{k: v.to(device) for k, v in inputs.items()}).embeddings[0]
        return Result(None, RATE, {"embedding": embedding.float().cpu().numpy()})
