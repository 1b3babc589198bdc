"""Mel spectrograms to audio for the Amphion models that stop at a mel (the SVC recipes, Noro).

Amphion's own vocoders (`models/vocoders`, loaded with `load_nnvocoder` and run with `synthesis_audios`, as
`models/base/new_inference.py` does), the released checkpoints as weight sets, Griffin-Lim as the fallback
that needs no download, and `adapt_mel` for a vocoder trained on other mel settings than the model's.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import EngineError, Weights

# Released Amphion vocoders (24 kHz, 100 mel bands, hop 256, up to 12 kHz). Sizes are approximate.
BIGVGAN_SINGING = Weights("hub", "amphion/BigVGAN_singing_bigdata", ("bigvgan_singing/400000.pt",
                                                                     "bigvgan_singing/args.json"),
                          size_bytes=1_300_000_000, license="MIT", label="Amphion Singing BigVGAN",
                          note="vocoder: BigVGAN fine-tuned on 120 hours of singing (24 kHz)")
HIFIGAN_SPEECH = Weights("hub", "amphion/hifigan_speech_bigdata", ("hifigan_speech/args.json",
                                                                   "hifigan_speech/checkpoint/"),
                         size_bytes=1_000_000_000, license="MIT", label="Amphion Speech HiFi-GAN",
                         note="vocoder: HiFi-GAN trained on 685 hours of speech (24 kHz)")
VOCODER_FOLDERS = {BIGVGAN_SINGING: "bigvgan_singing", HIFIGAN_SPEECH: "hifigan_speech"}


@dataclass(frozen=True)
class MelSpec:
    """How a log-mel spectrogram was made (Amphion's utils/mel.py: natural log of the magnitude, Slaney mels)."""

    sample_rate: int
    n_mel: int
    n_fft: int
    hop: int
    win: int
    fmin: float
    fmax: float

    @classmethod
    def of(cls, cfg: Any) -> MelSpec:
        """From a config section holding sample_rate, n_mel, n_fft, hop_size, win_size, fmin, fmax."""
        return cls(int(cfg.sample_rate), int(cfg.n_mel), int(cfg.n_fft), int(cfg.hop_size), int(cfg.win_size),
                   float(cfg.fmin), float(cfg.fmax or cfg.sample_rate / 2))

    def describe(self) -> str:
        return f"{self.n_mel} mel bands at {self.sample_rate / 1000:g} kHz, hop {self.hop}"


def adapt_mel(mel: np.ndarray, source: MelSpec, target: MelSpec) -> np.ndarray:
    """A log-mel (n_mel, frames) made with `source` settings, re-expressed in `target` settings: magnitudes
    recovered by non-negative least squares, moved onto the target's frequency grid (nothing above the source's
    top), scaled for the window length, re-binned, and resampled in time to the target's frame rate."""
    import librosa
    from scipy.interpolate import interp1d

    if source == target:
        return mel
    source_basis = librosa.filters.mel(sr=source.sample_rate, n_fft=source.n_fft, n_mels=source.n_mel,
                                       fmin=source.fmin, fmax=source.fmax)
    magnitude = librosa.util.nnls(source_basis, np.exp(mel.astype(np.float64)))
    source_freqs = np.linspace(0, source.sample_rate / 2, source.n_fft // 2 + 1)
    target_freqs = np.linspace(0, target.sample_rate / 2, target.n_fft // 2 + 1)
    on_target_grid = interp1d(source_freqs, magnitude, axis=0, bounds_error=False, fill_value=0.0)(target_freqs)
    on_target_grid *= target.win / source.win  # a Hann window's sum grows with its length
    target_basis = librosa.filters.mel(sr=target.sample_rate, n_fft=target.n_fft, n_mels=target.n_mel,
                                       fmin=target.fmin, fmax=target.fmax)
    adapted = np.log(np.maximum(target_basis @ on_target_grid, 1e-5))
    frames = mel.shape[1]
    seconds = frames * source.hop / source.sample_rate
    target_frames = max(1, int(round(seconds * target.sample_rate / target.hop)))
    times = (np.arange(target_frames) + 0.5) * target.hop / target.sample_rate
    source_times = (np.arange(frames) + 0.5) * source.hop / source.sample_rate
    resampled = interp1d(source_times, adapted, axis=1, bounds_error=False,
                         fill_value=(adapted[:, 0], adapted[:, -1]))(times)
    return resampled.astype(np.float32)


def griffin_lim(mel: np.ndarray, spec: MelSpec, iterations: int = 32) -> np.ndarray:
    """Audio from a log-mel by Griffin-Lim phase recovery: no download, audibly phasey."""
    import librosa

    audio = librosa.feature.inverse.mel_to_audio(
        np.exp(mel.astype(np.float64)), sr=spec.sample_rate, n_fft=spec.n_fft, hop_length=spec.hop,
        win_length=spec.win, power=1.0, n_iter=iterations, fmin=spec.fmin, fmax=spec.fmax)
    length = mel.shape[1] * spec.hop  # what a vocoder gives for these frames
    return np.pad(audio, (0, max(0, length - len(audio))))[:length].astype(np.float32)


@dataclass
class AmphionVocoder:
    """A loaded Amphion vocoder: its config (args.json, lower-cased keys as Amphion loads it) and generator."""

    cfg: Any
    model: Any  # torch.nn.Module
    folder: Path

    @property
    def spec(self) -> MelSpec:
        return MelSpec.of(self.cfg.preprocess)

    @property
    def sample_rate(self) -> int:
        return int(self.cfg.preprocess.sample_rate)

    def synthesize(self, runtime: Any, mels: list[np.ndarray]) -> list[np.ndarray]:
        """Audio for each (n_mel, frames) log-mel, as Amphion's `synthesis` makes it with a loaded vocoder."""
        import torch

        with runtime.session():
            from models.vocoders.gan.gan_vocoder_inference import synthesis_audios

            device = next(self.model.parameters()).device
            tensors = [torch.as_tensor(m, dtype=torch.float32, device=device) for m in mels]
            audios = synthesis_audios(self.cfg, self.model, tensors, batch_size=len(tensors))
        return [a.numpy(force=True).astype(np.float32) for a in audios]


def load_vocoder(runtime: Any, folder: Path) -> AmphionVocoder:
    """A vocoder folder (args.json plus `<step>.pt`, or an accelerate checkpoint/ folder) loaded with Amphion's
    `load_nnvocoder`, as TTS and SVC inference load theirs."""
    if not (folder / "args.json").is_file():
        raise EngineError(f"The vocoder folder {folder} has no args.json.")
    steps = sorted((p for p in folder.glob("*.pt") if p.stem.isdigit()), key=lambda p: int(p.stem))
    weights = steps[-1] if steps else folder
    if not steps and not (folder / "checkpoint").is_dir():
        raise EngineError(f"The vocoder folder {folder} has neither a <step>.pt file nor a checkpoint/ folder.")
    with runtime.session():
        from models.vocoders.vocoder_inference import _vocoders, load_nnvocoder

        cfg = runtime.load_config(folder / "args.json", lowercase=True)
        name = cfg.model.generator
        if name not in _vocoders or name in ("diffwave", "wavernn", "wavenet", "waveglow"):
            raise EngineError(f"The vocoder in {folder} is a {name}; the studio runs Amphion's GAN vocoders "
                              f"(BigVGAN, HiFi-GAN, MelGAN, NSF-HiFi-GAN, APNet).")
        with trusted_pickles():
            model = load_nnvocoder(cfg, name, weights_file=str(weights), from_multi_gpu=True)
    return AmphionVocoder(cfg, model, folder)


@contextmanager
def trusted_pickles():  # type: ignore[no-untyped-def]
    """torch.load without the weights-only restriction for the block: Amphion's `.pt` training checkpoints
    (a released download or the user's own) may hold more than tensors, and its loaders call torch.load plainly."""
    previous = os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
        else:
            os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = previous
