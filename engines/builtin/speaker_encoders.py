"""Speaker encoders for the speaker-similarity metric: one embedding per clip, compared by cosine similarity.

Resemblyzer's GE2E encoder ships in its wheel (offline). WavLM-SV (microsoft/wavlm-base-plus-sv, what Amphion's
`similarity` metric uses by default) runs when its weights are in the Hugging Face cache. RawNet3 (Amphion's
`rawnet` choice) runs Amphion's own model class from the user's checkout on jungjee/RawNet3's `model.pt`. WeSpeaker
(ResNet34-LM on VoxCeleb) runs its published ONNX graph with onnxruntime, on the features WeSpeaker computes.
"""
from __future__ import annotations

from typing import Any

from ..amphion import deps
from ..amphion.base import AmphionEngine
from ..contract import Engine, EngineError, InputSlot, Progress, Request, Result, Weights
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


def rawnet_segments(audio: Any, n_samples: int = 48_000, n_segments: int = 10) -> Any:
    """`n_segments` windows of `n_samples` spread evenly over the clip, a short clip first wrapped round to fill one:
    the batch Amphion's `extract_rawnet_speaker_embd` gives RawNet3."""
    import numpy as np

    audio = np.asarray(audio, np.float32)
    if len(audio) < n_samples:
        audio = np.pad(audio, (0, n_samples - len(audio) + 1), "wrap")
    starts = np.linspace(0, len(audio) - n_samples, num=n_segments)
    return np.stack([audio[int(start):int(start) + n_samples] for start in starts])


class RawNet3Encoder(AmphionEngine):
    id = "metric.rawnet3"
    name = "RawNet3"
    task = "metric"
    family = "Speaker encoder"
    summary = ("256-d embeddings from RawNet3 (raw waveform, VoxCeleb1+2), Amphion's `rawnet` similarity model: "
               "ten 3 s windows per clip, averaged.")
    sample_rate = RATE
    license = "MIT"
    memory_mb = 400
    inputs = AUDIO
    HUB_REPO = "jungjee/RawNet3"
    # Amphion's pretrained/README.md: download model.pt from this repo (its ["model"] is the state dict).
    # The size is the state dict's of the architecture below; the published file may differ slightly.
    weights = (Weights("hub", HUB_REPO, ("model.pt",), size_bytes=65_300_000, license="MIT"),)
    requirements = Requirements(amphion=True, python=(PythonModule("torch", "torch"), deps.ASTEROID_FILTERBANKS))
    SEGMENT_SAMPLES = 48_000  # 3 s at 16 kHz, as Amphion's extract_similarity passes
    SEGMENTS = 10

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import contextlib
        import io
        import pickle

        import torch

        folder = hub_folder(self, progress)
        progress(0.75, "Building RawNet3")
        with self.runtime.session():
            from evaluation.metrics.similarity.models.RawNetBasicBlock import Bottle2neck
            from evaluation.metrics.similarity.models.RawNetModel import RawNet3

            with contextlib.redirect_stdout(io.StringIO()):  # the constructor prints its encoder type
                model = RawNet3(Bottle2neck, model_scale=8, context=True, summed=True, encoder_type="ECA", nOut=256,
                                out_bn=False, sinc_stride=10, log_sinc=True, norm_sinc="mean", grad_mult=1)
            try:  # tensors only: a pickle that needs more is refused rather than run
                checkpoint = torch.load(str(folder / "model.pt"), map_location="cpu", weights_only=True)
            except pickle.UnpicklingError as error:
                raise EngineError(f"{folder / 'model.pt'} holds more than tensors, so the studio does not load it "
                                  f"({error}); download {self.HUB_REPO} again.") from error
            if not isinstance(checkpoint, dict) or "model" not in checkpoint:
                raise EngineError(f"{folder / 'model.pt'} is not a RawNet3 checkpoint (Amphion reads its 'model' "
                                  f"entry); download {self.HUB_REPO} again.")
            model.load_state_dict(checkpoint["model"])
        return model.eval().to(device), device

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        network, device = model
        segments = torch.from_numpy(rawnet_segments(read_16k(request), self.SEGMENT_SAMPLES, self.SEGMENTS))
        with self.runtime.session(), torch.no_grad():
            embedding = network(segments.to(device)).mean(0)
        return Result(None, RATE, {"embedding": embedding.float().cpu().numpy()})


def wespeaker_features(audio: Any) -> Any:
    """What WeSpeaker feeds its models (wespeaker/bin/infer_onnx.py): 80-bin Kaldi filterbanks of 16-bit-scaled
    16 kHz audio, 25 ms windows every 10 ms, Hamming, no dither, each bin's mean over time removed (CMN)."""
    import torch
    import torchaudio.compliance.kaldi as kaldi

    waveform = torch.as_tensor(audio, dtype=torch.float32)[None] * (1 << 15)
    feats = kaldi.fbank(waveform, num_mel_bins=80, frame_length=25, frame_shift=10, dither=0.0, energy_floor=0.0,
                        sample_frequency=RATE, window_type="hamming", htk_compat=True, use_energy=False)
    return (feats - feats.mean(dim=0)).numpy()


class WeSpeakerEncoder(Engine):
    id = "metric.wespeaker"
    name = "WeSpeaker ResNet34-LM"
    task = "metric"
    family = "Speaker encoder"
    summary = ("256-d embeddings from WeSpeaker's ResNet34 (VoxCeleb2, large-margin fine-tuned), its ONNX export run "
               "by onnxruntime: a strong, small speaker-verification model.")
    sample_rate = RATE
    license = "CC-BY-4.0"
    memory_mb = 120
    inputs = AUDIO
    HUB_REPO = "Wespeaker/wespeaker-voxceleb-resnet34-LM"
    ONNX_FILE = "voxceleb_resnet34_LM.onnx"
    weights = (Weights("hub", HUB_REPO, (ONNX_FILE,), size_bytes=26_500_000, license="CC-BY-4.0"),)
    requirements = Requirements(python=(PythonModule("onnxruntime", "onnxruntime"),
                                        PythonModule("torchaudio", "torchaudio")))
    MIN_FRAMES = 10  # the ResNet downsamples time by 8; fewer frames than this leave nothing to pool

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import onnxruntime

        path = hub_folder(self, progress) / self.ONNX_FILE
        progress(0.8, "Opening the ONNX graph")
        cuda = device.startswith("cuda") and "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
        try:
            session = onnxruntime.InferenceSession(str(path), providers=providers)
        except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph types
            raise EngineError(f"{path} is not an ONNX graph onnxruntime can open ({error}); download "
                              f"{self.HUB_REPO} again.") from error
        names = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
        if names != (["feats"], ["embs"]):
            raise EngineError(f"{path} takes {names[0]} and gives {names[1]}; a WeSpeaker export takes ['feats'] "
                              f"and gives ['embs']. Download {self.HUB_REPO} again.")
        return session

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        feats = wespeaker_features(read_16k(request))
        if len(feats) < self.MIN_FRAMES:
            raise EngineError(f"the clip is {len(feats) / 100:.2f} s long; WeSpeaker needs at least "
                              f"{self.MIN_FRAMES / 100:.1f} s of audio.")
        embedding = model.run(["embs"], {"feats": feats[None]})[0][0]
        return Result(None, RATE, {"embedding": embedding})
