"""Amphion's singing voice conversion recipes: MultipleContentsSVC (released checkpoint), DiffComoSVC,
TransformerSVC and VitsSVC (the user's checkpoints).

Each converts a source performance to a singer of its singer table (a lookup table, not zero-shot: only the
singers the checkpoint was trained on), keeping the melody (transposed by semitones, or automatically to the
target singer's median pitch, Amphion's "autoshift") and timing. The pipeline is Amphion's bins/svc/inference.py
(svc_pipeline.py); checkpoints are experiment folders (svc_checkpoints.py) from the hub or under
<STUDIO_HOME>/checkpoints/<engine id>/<name>/.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any, ClassVar

from ..contract import EngineError, InputSlot, InvalidRequest, Param, Progress, Request, Result, Weights
from ..requirements import Readiness, Requirements
from . import deps
from .base import AmphionEngine, check_amphion, user_checkpoint_dir, user_checkpoints
from .svc_checkpoints import Experiment, singer_label
from .vocoders import BIGVGAN_SINGING, VOCODER_FOLDERS

RELEASED = "released"
RELEASE_FOLDER = "vocalist_l1_contentvec+whisper"
MULTIPLE_CONTENTS_RELEASE = Weights(
    "hub", "amphion/singing_voice_conversion", (RELEASE_FOLDER + "/",), size_bytes=1_100_000_000, license="MIT",
    label="MultipleContentsSVC vocalist_l1 (Whisper + ContentVec)",
    note="acoustic model, singer table and the singers' statistics; size approximate")
# The singers of the released checkpoint as Amphion's demo offers them, listed until its singers.json is on disk
RELEASED_SINGERS = tuple(f"vocalist_l1_{name}" for name in (
    "Adele", "Beyonce", "BrunoMars", "JohnMayer", "MichaelJackson", "TaylorSwift", "张学友", "李健", "汪峰", "王菲",
    "石倚洁", "蔡琴", "那英", "陈奕迅", "陶喆"))
MAX_SOURCE_SECONDS = 20 * 60

SOURCE = InputSlot("source", "audio", "Source singing", min_seconds=0.5, max_seconds=MAX_SOURCE_SECONDS,
                   sweet_spot=(5.0, 120.0), carries=("content",),
                   help="The performance to convert: a dry vocal (a studio take, or a voice separated from its "
                        "music). Its lyrics, melody and timing are kept; long songs are converted in 10 s "
                        "segments and joined.")
PITCH_SHIFT = Param("pitch_shift", "choice", "auto", label="Transposition",
                    choices=(("auto", "Automatic: to the target singer's range"),
                             ("semitones", "By the semitones below")),
                    help="Automatic moves the source's median pitch onto the target singer's (Amphion's "
                         "autoshift); the other keeps the key you set.")
SEMITONES = Param("semitones", "int", 0, min=-24, max=24, step=1, unit="st", label="Semitones",
                  help="Transposition when it is set by semitones: 12 is an octave up, -12 an octave down.")
SEED = Param("seed", "seed", -1, help="The same seed gives the same result.")


class SvcRecipe(AmphionEngine):
    """Shared implementation: a subclass names its model_type and adds its own params."""

    task = "svc"
    sample_rate = 24_000
    languages = ()  # any language: content features, not text
    license = "MIT (Amphion code and released checkpoints)"
    requirements = Requirements(amphion=True, python=deps.SVC_RECIPES, binaries=(deps.FFMPEG,))
    inputs = (SOURCE,)
    model_type: ClassVar[str] = ""
    released: ClassVar[Weights | None] = None  # a hub checkpoint besides the user's
    vocoder: ClassVar[Weights | None] = BIGVGAN_SINGING  # None: the model makes the waveform itself
    model_params: ClassVar[tuple[Param, ...]] = ()

    # -- params and weights from the checkpoints on disk -----------------------------------------------------

    @property
    def params(self) -> tuple[Param, ...]:  # type: ignore[override]
        return (self._checkpoint_param(), self._singer_param(), PITCH_SHIFT, SEMITONES, *self.model_params)

    def checkpoint_names(self) -> list[str]:
        names = [RELEASED] if self.released else []
        return names + [p.name for p in user_checkpoints(self.context, self.id) if p.is_dir()]

    def experiment(self, checkpoint: str | None = None) -> Experiment | None:
        """The experiment folder of a checkpoint choice (default: the param's default), if it is on disk."""
        from ..weights import locate

        name = checkpoint or self._checkpoint_param().default
        if name == RELEASED and self.released is not None:
            snapshot = locate(self.released)
            return Experiment(snapshot / RELEASE_FOLDER) if snapshot is not None else None
        folder = user_checkpoint_dir(self.context, self.id)
        if not name or folder is None or not (folder / name).is_dir():
            return None
        return Experiment(folder / name)

    def _checkpoint_param(self) -> Param:
        names = self.checkpoint_names()
        labels = {RELEASED: "Released by Amphion (vocalist_l1)"}
        return Param("checkpoint", "choice", names[0] if names else "", label="Checkpoint", affects_load=True,
                     choices=tuple((n, labels.get(n, n)) for n in names),
                     help="Which trained model to use: yours are the folders under "
                          f"{user_checkpoint_dir(self.context, self.id) or '<STUDIO_HOME>/checkpoints/' + self.id}.")

    def _singer_param(self) -> Param:
        singers: list[str] = []
        for name in self.checkpoint_names():
            experiment = self.experiment(name)
            table = experiment.singers if experiment else {}
            if not table and name == RELEASED:
                table = {s: i for i, s in enumerate(RELEASED_SINGERS)}
            singers += [s for s in sorted(table, key=table.__getitem__) if s not in singers]
        return Param("singer", "choice", singers[0] if singers else "", label="Target singer",
                     choices=tuple((s, singer_label(s)) for s in singers),
                     help="Who sings the result: one of the singers the checkpoint was trained on (its singer "
                          "table). The model cannot imitate a voice from a clip.")

    def weights_for(self, params: dict[str, Any]) -> list[Weights]:
        """The hub checkpoint when chosen, the vocoder, and the content models the checkpoint reads."""
        values = {**self.defaults(), **params}
        experiment = self.experiment(values.get("checkpoint"))
        uses = (experiment.uses if experiment is not None else lambda feature: feature in ("whisper", "contentvec"))
        needed: list[Weights] = []
        if values.get("checkpoint") == RELEASED and self.released is not None:
            needed.append(self.released)
        if self.vocoder is not None:
            needed.append(self.vocoder)
        if uses("contentvec"):
            needed.append(deps.CONTENTVEC_LEGACY_500)
        if uses("whisper") and (experiment is None or _whisper_name(experiment) == "medium"):
            needed.append(deps.WHISPER_MEDIUM)
        return needed

    # -- readiness ---------------------------------------------------------------------------------------------

    def check(self) -> Readiness:
        readiness = check_amphion(self, recipe_only=self.recipe_only)
        if not readiness.runnable:
            return readiness
        experiment = self.experiment()
        if experiment is None:
            return readiness  # the released checkpoint, to download
        problems = experiment.problems(self.model_type) + self._feature_problems(experiment)
        if problems:
            return Readiness("needs_checkpoint", " ".join(problems),
                             (f"Checkpoints live in {experiment.folder.parent}: one folder per experiment, as "
                              f"Amphion's trainer writes it.",))
        return readiness

    def checkpoint_problems(self, folder: Path) -> list[str]:
        """What keeps `folder` from being one of this engine's checkpoints (the Checkpoints service asks)."""
        experiment = Experiment(folder)
        return experiment.problems(self.model_type) or self._feature_problems(experiment)

    def _feature_problems(self, experiment: Experiment) -> list[str]:
        found = []
        if experiment.uses("mert"):
            found.append(f"{experiment.name} reads MERT features, which the studio does not extract.")
        if experiment.uses("whisper") and _whisper_name(experiment) != "medium" \
                and not Path(_whisper_name(experiment)).is_file():
            found.append(f"{experiment.name} reads features of Whisper {_whisper_name(experiment)!r}; the studio "
                         f"fetches Whisper medium, or give preprocess.whisper_model as the path of the model file.")
        if experiment.uses("wenet"):
            wenet = experiment.preprocess
            missing = [p for p in (wenet.get("wenet_config", ""), wenet.get("wenet_model_path", ""))
                       if not _in_checkout(self.context, p)]
            if missing:
                found.append(f"{experiment.name} reads WeNet features; put the WeNet model where its config says "
                             f"({', '.join(missing)}, relative to the Amphion checkout: see Amphion's "
                             f"pretrained/README.md).")
        return found

    # -- load and run ------------------------------------------------------------------------------------------

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from ..weights import ensure

        from .svc_pipeline import load_svc
        from .vocoders import load_vocoder

        options = options or {}
        name = options.get("checkpoint") or self._checkpoint_param().default
        needed = self.weights_for({"checkpoint": name})
        files: dict[Weights, Path] = {}
        for index, weights in enumerate(needed):
            files[weights] = ensure(weights, progress.span(index / len(needed) * 0.5,
                                                           (index + 1) / len(needed) * 0.5))
        experiment = self.experiment(name)
        if experiment is None:
            raise EngineError(f"{self.name} has no checkpoint {name!r}. Pick one of: "
                              f"{', '.join(self.checkpoint_names()) or 'none yet'}.")
        problems = experiment.problems(self.model_type) + self._feature_problems(experiment)
        if problems:
            raise EngineError(" ".join(problems))
        vocoder = None
        if self.vocoder is not None:
            progress(0.5, "Loading the vocoder")
            vocoder = load_vocoder(self.runtime, files[self.vocoder] / VOCODER_FOLDERS[self.vocoder])
        contentvec = files.get(deps.CONTENTVEC_LEGACY_500)
        whisper = files.get(deps.WHISPER_MEDIUM)
        if whisper is None and experiment.uses("whisper"):
            whisper = Path(_whisper_name(experiment))
        return load_svc(self.runtime, experiment, self.model_type, vocoder=vocoder,
                        contentvec_file=contentvec / deps.CONTENTVEC_LEGACY_500.files[0] if contentvec else None,
                        whisper_file=whisper, progress=progress.span(0.55, 1.0))

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import numpy as np
        import torch

        from studio.audio.io import write_audio

        from ..conversion_input import fit_length, read_source
        from .svc_pipeline import convert, work_folder

        p = request.params
        singer = p["singer"]
        if singer not in model.singers:
            raise InvalidRequest(f"{model.experiment.name} was not trained on {singer!r}; its singers are "
                                 f"{', '.join(sorted(model.singers))}.")
        missing = model.experiment.missing_statistics(singer)
        if missing:
            raise EngineError(missing)
        progress(0.0, "Reading the source")
        source = read_source(request.inputs["source"].path, model.sample_rate)
        seed = int(p.get("seed", 0))
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        trans_key: int | str = "autoshift" if p["pitch_shift"] == "auto" else int(p["semitones"])
        settings = {"steps": p.get("steps"), "noise_scale": p.get("noise_scale"), "seed": seed}
        with work_folder(getattr(self.context, "home", None)) as work:
            wav = work / "source.wav"
            write_audio(wav, source.audio, source.sample_rate)
            done = convert(self.runtime, model, wav, singer, trans_key, settings, work, progress.span(0.02, 1.0))
        audio = fit_length(done.audio, round(source.seconds * done.sample_rate))
        extras: dict[str, Any] = {
            "singer": singer, "semitones_applied": round(done.semitones, 2), "blocks": done.segments,
            "source_median_hz": round(done.source_median_hz, 1), "target_median_hz": round(done.target_median_hz, 1),
            "checkpoint": model.experiment.name,
        }
        if source.notes:
            extras["notes"] = source.notes
        progress(1.0, "Done")
        return Result(audio, done.sample_rate, extras)


def _whisper_name(experiment: Experiment) -> str:
    return str(experiment.preprocess.get("whisper_model", "medium"))


def _in_checkout(context: Any, path: str) -> bool:
    from .runtime import checkout_root

    root = checkout_root(context)
    return bool(path) and (Path(path).is_file() or (root is not None and (root / path).is_file()))


class MultipleContentsSVC(SvcRecipe):
    id = "amphion.multiple_contents_svc"
    name = "MultipleContentsSVC"
    family = "Amphion SVC"
    summary = ("Diffusion singing conversion (DiffWaveNetSVC) from Whisper and ContentVec content: sings the source "
               "as one of 15 pop singers of the released checkpoint, or of your own trained one.")
    memory_mb = 4500
    model_type = "DiffWaveNetSVC"
    released = MULTIPLE_CONTENTS_RELEASE
    weights = (MULTIPLE_CONTENTS_RELEASE, BIGVGAN_SINGING, deps.CONTENTVEC_LEGACY_500, deps.WHISPER_MEDIUM)
    model_params = (
        Param("steps", "int", 1000, min=4, max=1000, step=1, unit="steps", label="Diffusion steps",
              help="Denoising steps of the PNDM sampler (at least 4; it adds 9 warm-up steps). More is cleaner and "
                   "slower; Amphion's default is 1000."),
        SEED,
    )


class DiffComoSVC(SvcRecipe):
    id = "amphion.diffcomo_svc"
    name = "DiffComoSVC"
    family = "Amphion SVC"
    summary = ("Consistency-model singing conversion: the diffusion teacher in a few dozen steps, or its distilled "
               "student in one. Uses your trained checkpoint.")
    memory_mb = 4000
    model_type = "DiffComoSVC"
    recipe_only = True
    weights = (BIGVGAN_SINGING, deps.CONTENTVEC_LEGACY_500, deps.WHISPER_MEDIUM)
    model_params = (
        Param("steps", "int", 40, min=1, max=200, step=1, unit="steps", label="Teacher steps",
              help="Sampling steps of a teacher checkpoint (Amphion's default 40). A distilled student "
                   "checkpoint always takes one step."),
        SEED,
    )


class TransformerSVC(SvcRecipe):
    id = "amphion.transformer_svc"
    name = "TransformerSVC"
    family = "Amphion SVC"
    summary = ("Non-autoregressive Transformer/Conformer singing conversion in one pass: fast and deterministic. "
               "Uses your trained checkpoint.")
    memory_mb = 3500
    model_type = "TransformerSVC"
    recipe_only = True
    weights = (BIGVGAN_SINGING, deps.CONTENTVEC_LEGACY_500, deps.WHISPER_MEDIUM)


class VitsSVC(SvcRecipe):
    id = "amphion.vits_svc"
    name = "VitsSVC"
    family = "Amphion SVC"
    summary = ("VITS singing conversion (so-vits-svc style): makes the waveform itself, no separate vocoder. "
               "Uses your trained checkpoint.")
    memory_mb = 3500
    model_type = "VitsSVC"
    recipe_only = True
    vocoder = None
    weights = (deps.CONTENTVEC_LEGACY_500, deps.WHISPER_MEDIUM)
    model_params = (
        Param("noise_scale", "float", 0.667, min=0.0, max=1.5, step=0.01, label="Noise scale", advanced=True,
              help="Randomness of the prior (Amphion's default 0.667): lower is steadier, higher more varied."),
        SEED,
    )
