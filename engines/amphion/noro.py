"""Noro: noise-robust one-shot voice conversion (models/vc/Noro), with a vocoder of the user's choice.

Amphion's models/vc/Noro/noro_inference.py is a script: it reads the source and a reference at 16 kHz, takes
mHuBERT units of the source (fairseq HuBERT + k-means, `HubertExtractor`), its DIO pitch (interpolated and
normalised), the reference's mel, runs `Noro_VCmodel.inference` with 200 diffusion steps and sigma 1.2 fixed,
and saves the converted mel. This adapter does the same with Amphion's own functions and classes, exposes the
steps and sigma, runs the HuBERT on transformers (engines/amphion/hubert.py), and vocodes the mel. The reference's
mel is kept in the voice prompt cache; a source longer than 30 s is converted in pieces cut in its pauses.

Noro's weights are on Google Drive only, so the checkpoint is the user's: a folder under
<STUDIO_HOME>/checkpoints/amphion.noro/<name>/ holding the model (model.safetensors, or accelerate's
checkpoint/<epoch...>/model.safetensors), its config (config.json, args.json or exp_config*.json), the fairseq
HuBERT checkpoint and the k-means model the config names (or files named *hubert*.pt and *km*), and optionally a
vocoder/ folder trained on Noro's mel settings (16 kHz, 80 bands, hop 200).
"""
from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..contract import EngineError, InputSlot, Param, Progress, Request, Result
from ..conversion_input import LONGEST_SOURCE_SECONDS, NO_VOICE_IN_IT, convert_in_pieces, read_source, with_notes
from ..requirements import Readiness, Requirements
from . import deps
from .base import AmphionEngine, check_amphion, user_checkpoint_dir, user_checkpoints
from .vocoders import BIGVGAN_SINGING, HIFIGAN_SPEECH, VOCODER_FOLDERS, AmphionVocoder, MelSpec

CONFIG_NAMES = ("config.json", "args.json", "exp_config_clean.json", "exp_config_noisy.json", "exp_config.json")
OWN_VOCODER = "checkpoint"
HUB_VOCODERS = {"hifigan_speech": HIFIGAN_SPEECH, "bigvgan_singing": BIGVGAN_SINGING}
GRIFFIN_LIM = "griffin_lim"
SAMPLE_RATE = 16_000  # Noro reads its inputs at 16 kHz
PIECE_SECONDS = (20.0, 30.0)  # a longer source is converted in pieces of 20 to 30 s, cut in its pauses


@dataclass(frozen=True)
class NoroCheckpoint:
    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def config(self) -> Path | None:
        return next((self.folder / n for n in CONFIG_NAMES if (self.folder / n).is_file()), None)

    @property
    def weights(self) -> Path | None:
        if (self.folder / "model.safetensors").is_file():
            return self.folder / "model.safetensors"
        found = sorted(self.folder.glob("checkpoint/*/model.safetensors"))
        return found[-1] if found else None

    def named_file(self, key: str, pattern: str) -> Path | None:
        """The file the config's preprocess.<key> names (absolute, or beside the config), else one matching
        `pattern` in the folder."""
        from .svc_checkpoints import _json5

        config = _json5(self.config) if self.config else {}
        named = str(config.get("preprocess", {}).get(key, ""))
        for candidate in (Path(named), self.folder / Path(named).name) if named else ():
            if candidate.is_file():
                return candidate
        found = sorted(p for p in self.folder.glob(pattern) if p.is_file())
        return found[0] if found else None

    @property
    def hubert(self) -> Path | None:
        return self.named_file("hubert_model_path", "*hubert*.pt")

    @property
    def kmeans(self) -> Path | None:
        return self.named_file("kmeans_model_path", "*km*")

    @property
    def vocoder(self) -> Path | None:
        return self.folder / "vocoder" if (self.folder / "vocoder" / "args.json").is_file() else None

    def problems(self) -> list[str]:
        found = []
        if self.config is None:
            found.append(f"{self.name} has no config ({', '.join(CONFIG_NAMES[:3])}).")
        if self.weights is None:
            found.append(f"{self.name} has no model.safetensors.")
        if self.hubert is None:
            found.append(f"{self.name} has no HuBERT checkpoint (the fairseq .pt its config names, or *hubert*.pt).")
        if self.kmeans is None:
            found.append(f"{self.name} has no k-means model (the file its config names, or one named *km*).")
        return found


@dataclass
class LoadedNoro:
    checkpoint: NoroCheckpoint
    cfg: Any
    model: Any  # Noro_VCmodel
    content: Any  # Amphion's HubertExtractor, on transformers
    vocoder: AmphionVocoder | None
    vocoder_model: Any = None

    @property
    def spec(self) -> MelSpec:
        return MelSpec.of(self.cfg)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def output_rate(self) -> int:
        return self.vocoder.sample_rate if self.vocoder else self.spec.sample_rate


class Noro(AmphionEngine):
    id = "amphion.noro"
    name = "Noro"
    task = "vc"
    family = "Amphion"
    summary = ("Noise-robust one-shot voice conversion: speaks the source's words in the voice of one reference clip, "
               "even a noisy one. Uses your Noro checkpoint (its weights are published on Google Drive only).")
    languages = ()  # content units, not text; trained on English (LibriLight)
    sample_rate = 0  # the vocoder's
    license = "MIT (Amphion code); the checkpoint's own terms"
    memory_mb = 2500
    recipe_only = True
    requirements = Requirements(amphion=True, python=deps.NORO)
    inputs = (
        InputSlot("source", "audio", "Source speech", min_seconds=0.5, max_seconds=LONGEST_SOURCE_SECONDS,
                  sweet_spot=(2.0, 20.0), help=f"What is said, and how: its words and timing are kept. Longer than "
                                               f"30 s is converted in parts cut in its pauses (up to "
                                               f"{LONGEST_SOURCE_SECONDS / 60:g} min).",
                  carries=("content",)),
        InputSlot("reference", "audio", "Target voice", min_seconds=1.0, max_seconds=30.0, sweet_spot=(3.0, 10.0),
                  help="One clip of the voice to speak in; background noise is tolerated.", carries=("voice",)),
    )
    weights = tuple(dataclasses.replace(w, when=(("vocoder", name),)) for name, w in HUB_VOCODERS.items())
    SEED: ClassVar[Param] = Param("seed", "seed", -1, help="The same seed gives the same result.")

    # -- params from the checkpoints on disk ---------------------------------------------------------------------

    @property
    def params(self) -> tuple[Param, ...]:  # type: ignore[override]
        names = [p.name for p in user_checkpoints(self.context, self.id) if p.is_dir()]
        folder = user_checkpoint_dir(self.context, self.id)
        default = self.checkpoint(names[0]) if names else None
        vocoders = [(OWN_VOCODER, "The checkpoint's own vocoder (its vocoder/ folder)")] \
            if default and default.vocoder else []
        vocoders += [("hifigan_speech", "Amphion Speech HiFi-GAN (24 kHz; the mel is adapted)"),
                     ("bigvgan_singing", "Amphion Singing BigVGAN (24 kHz; the mel is adapted)"),
                     (GRIFFIN_LIM, "Griffin-Lim (no download; phasey)")]
        return (
            Param("checkpoint", "choice", names[0] if names else "", label="Checkpoint", affects_load=True,
                  choices=tuple((n, n) for n in names),
                  help=f"Your Noro checkpoints: the folders under {folder or '<STUDIO_HOME>/checkpoints/amphion.noro'}."),
            Param("steps", "int", 200, min=1, max=1000, step=1, unit="steps", label="Diffusion steps",
                  help="Steps of the reverse diffusion (Amphion fixes 200; 150 to 300 is the range it suggests)."),
            Param("sigma", "float", 1.2, min=0.95, max=1.5, step=0.05, label="Sigma", advanced=True,
                  help="Scale of the starting noise (Amphion fixes 1.2; 0.95 to 1.5 is the range it suggests)."),
            Param("vocoder", "choice", vocoders[0][0], label="Vocoder", affects_load=True, choices=tuple(vocoders),
                  help="Noro makes a mel spectrogram (16 kHz, 80 bands); a vocoder turns it into sound. One trained "
                       "on Noro's mel settings sounds best; the others get the mel re-expressed in theirs."),
            self.SEED,
        )

    def checkpoint(self, name: str | None = None) -> NoroCheckpoint | None:
        name = name or self.param("checkpoint").default
        folder = user_checkpoint_dir(self.context, self.id)
        return NoroCheckpoint(folder / name) if name and folder and (folder / name).is_dir() else None

    def checkpoint_problems(self, folder: Path) -> list[str]:
        """What keeps `folder` from being a Noro checkpoint (the Checkpoints service asks)."""
        return NoroCheckpoint(folder).problems()

    def check(self) -> Readiness:
        readiness = check_amphion(self, recipe_only=True)
        if not readiness.runnable:
            return readiness
        checkpoint = self.checkpoint()
        problems = checkpoint.problems() if checkpoint else []
        if problems:
            return Readiness("needs_checkpoint", " ".join(problems),
                             ("Noro's weights: the Google Drive folder linked from Amphion's egs/vc/Noro/README.md; "
                              "HuBERT and k-means: fairseq's examples/hubert.",))
        return readiness

    # -- load and run --------------------------------------------------------------------------------------------

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from ..weights import ensure

        from .vocoders import load_vocoder

        options = options or {}
        checkpoint = self.checkpoint(options.get("checkpoint"))
        if checkpoint is None:
            raise EngineError(f"There is no Noro checkpoint {options.get('checkpoint')!r}.")
        if checkpoint.problems():
            raise EngineError(" ".join(checkpoint.problems()))
        choice = options.get("vocoder") or self.param("vocoder").default
        vocoder = None
        if choice == OWN_VOCODER:
            if checkpoint.vocoder is None:
                raise EngineError(f"{checkpoint.name} has no vocoder/ folder; choose another vocoder.")
            vocoder = load_vocoder(self.runtime, checkpoint.vocoder)
        elif choice in HUB_VOCODERS:
            weights = HUB_VOCODERS[choice]
            folder = ensure(weights, progress.span(0.0, 0.5)) / VOCODER_FOLDERS[weights]
            progress(0.5, "Loading the vocoder")
            vocoder = load_vocoder(self.runtime, folder)
        rt = self.runtime
        with rt.session():
            from models.vc.Noro.noro_model import Noro_VCmodel

            cfg = rt.load_config(checkpoint.config)  # type: ignore[arg-type]
            cfg.preprocess.hubert_model_path = str(checkpoint.hubert)
            cfg.preprocess.kmeans_model_path = str(checkpoint.kmeans)
            progress(0.6, "Loading Noro")
            model = Noro_VCmodel(cfg=cfg.model)
            rt.load_safetensors(model, checkpoint.weights)  # type: ignore[arg-type]
            model = model.to(device).eval()
            progress(0.8, "Loading HuBERT")
            content = _hubert_extractor(cfg).to(device).eval()
        return LoadedNoro(checkpoint, cfg, model, content, vocoder, vocoder.model if vocoder else None)

    def run(self, model: LoadedNoro, request: Request, progress: Progress) -> Result:
        import numpy as np
        import torch

        from .prompt_codes import cached_tensors

        p = request.params
        progress(0.0, "Reading the clips")
        source = read_source(request.inputs["source"].path, SAMPLE_RATE)
        reference = read_source(request.inputs["reference"].path, SAMPLE_RATE, "The target voice clip", NO_VOICE_IN_IT)
        progress(0.01, "Reference mel")
        (ref_mel,) = cached_tensors(request, [request.inputs["reference"], "mel"],
                                    lambda: (self._mel(model, reference.audio),), model.device)
        seed = int(p["seed"])
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        voiced = []

        def convert(piece: Any, span: Progress) -> Any:
            mel, any_voiced = self._convert(model, piece, ref_mel, int(p["steps"]), float(p["sigma"]),
                                            span.span(0.0, 0.9))
            voiced.append(any_voiced)
            span(0.9, "Vocoding")
            return self._vocode(model, mel)

        audio, blocks = convert_in_pieces(source, model.output_rate, convert, progress.span(0.02, 1.0),
                                          PIECE_SECONDS)
        notes = source.notes + reference.notes
        if not any(voiced):
            notes.append("No spoken pitch was found in the source (a whisper or noise): it was converted without "
                         "a pitch contour.")
        if model.vocoder is not None and model.vocoder.spec != model.spec:
            notes.append(f"The vocoder was trained on {model.vocoder.spec.describe()}; Noro's mel "
                         f"({model.spec.describe()}) was re-expressed in those settings.")
        extras = with_notes({"steps": int(p["steps"]), "checkpoint": model.checkpoint.name, "vocoder": p["vocoder"],
                             "blocks": blocks}, notes)
        progress(1.0, "Done")
        return Result(audio, model.output_rate, extras)

    def _mel(self, model: LoadedNoro, reference: Any) -> Any:
        """The reference's mel [1, frames, n_mel] as noro_inference.py makes it: Noro's voice prompt."""
        import numpy as np
        import torch

        with self.runtime.session(), torch.no_grad():
            from utils.mel import mel_spectrogram_torch

            wav = np.pad(reference, (0, 200 - len(reference) % 200))
            return mel_spectrogram_torch(torch.from_numpy(wav).to(model.device)[None, :], model.cfg).transpose(1, 2)

    def _convert(self, model: LoadedNoro, source: Any, ref_mel: Any, steps: int, sigma: float,
                 progress: Progress) -> tuple[Any, bool]:
        """noro_inference.py's main() after the reference's mel: the source's content units and pitch, then the
        reverse diffusion; the mel (n_mel, T) and whether the source had any voiced frame."""
        import numpy as np
        import torch
        from torch.nn.utils.rnn import pad_sequence

        cfg = model.cfg
        device = model.device
        with self.runtime.session():
            from utils.f0 import get_f0_features_using_dio, interpolate

            wav = np.pad(source, (0, 1600 - len(source) % 1600))
            audio = torch.from_numpy(wav).to(device)[None, :]
            with torch.no_grad():
                ref_mask = torch.ones(ref_mel.shape[0], ref_mel.shape[1], device=device).bool()
                progress(0.0, "Content units (HuBERT)")
                _, content_feature = model.content.extract_content_features(audio)
                progress(0.1, "Pitch")
                pitch_raw = get_f0_features_using_dio(wav, cfg.preprocess)
                voiced = bool(np.any(pitch_raw > 0))
                pitch_raw, _ = interpolate(pitch_raw)
                frames = len(wav) // cfg.preprocess.hop_size
                pitch = pad_sequence([torch.from_numpy(pitch_raw[:frames]).float()], batch_first=True).float()
                pitch = (pitch - pitch.mean(dim=1, keepdim=True)) / (pitch.std(dim=1, keepdim=True) + 1e-6)
                calls = 0

                def report(_module: Any, _inputs: Any) -> None:
                    nonlocal calls
                    calls += 1
                    progress(0.12 + 0.88 * calls / steps, f"Diffusion step {calls}/{steps}")

                handle = model.model.diffusion.diff_estimator.register_forward_pre_hook(report)
                try:
                    x0 = model.model.inference(content_feature=content_feature.to(device), pitch=pitch.to(device),
                                               x_ref=ref_mel, x_ref_mask=ref_mask, inference_steps=steps,
                                               sigma=sigma)
                finally:
                    handle.remove()
        return x0[0].transpose(0, 1).numpy(force=True), voiced  # (n_mel, frames)

    def _vocode(self, model: LoadedNoro, mel: Any) -> Any:
        from .vocoders import adapt_mel, griffin_lim

        if model.vocoder is None:
            return griffin_lim(mel, model.spec)
        (audio,) = model.vocoder.synthesize(self.runtime, [adapt_mel(mel, model.spec, model.vocoder.spec)])
        return audio


def _hubert_extractor(cfg: Any) -> Any:
    """Amphion's HubertExtractor (mHuBERT units: layer 9, k-means) with its network on transformers."""
    import joblib
    import torch
    from processors.content_extractor import HubertExtractor

    from .hubert import load_fairseq_hubert

    class TransformersHubertExtractor(HubertExtractor):
        def load_model(self) -> None:  # Amphion's, with load_fairseq_hubert for fairseq's loader
            self.model = load_fairseq_hubert(Path(self.cfg.preprocess.hubert_model_path))
            self.kmeans = joblib.load(self.cfg.preprocess.kmeans_model_path)
            self.register_buffer("cluster_centers", torch.from_numpy(self.kmeans.cluster_centers_))

    return TransformersHubertExtractor(cfg)
