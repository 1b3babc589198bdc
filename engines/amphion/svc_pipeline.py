"""Amphion's singing voice conversion pipeline (bins/svc/inference.py), with every model loaded once.

`bins/svc/inference.py` converts an audio file in steps, all of which run here through Amphion's own code:
slice the source into 10 s segments overlapping by 1 s (`prepare_source_eval_file` -> `split_audio`), extract
mel, pitch and energy per segment (`acoustic_extractor`) with the source's pitch statistics, extract the
content features the model reads (Whisper, ContentVec, WeNet: `content_extractor`'s extractors and datasets),
build the test set (`SVCTestDataset`: target singer id, transposition by semitones or to the target's median,
min-max mel normalisation), run the acoustic model per batch (the inference class's `_inference_each_batch`),
vocode (`synthesis_audios`), and merge the segments with their overlaps cross-faded (`merge_for_audio_segments`).

What differs from running the script: the inference object, the content extractors and the vocoder are built
once in `load_svc` (the script builds them per file); ContentVec runs on transformers (engines/amphion/hubert.py)
because fairseq does not install on current Python; data loaders run in the calling thread (no worker
processes forked from the studio); and progress and cancellation reach into the diffusion loop.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..contract import EngineError, Progress
from .svc_checkpoints import Experiment, dataset_of
from .vocoders import AmphionVocoder

SEGMENT_SECONDS, OVERLAP_SECONDS = 10.0, 1.0  # what bins/svc/inference.py sets for audio files
SOURCE_NAME = "source"  # the source's "dataset" and "singer" name in Amphion's metadata
INFERENCE_CLASSES = {
    "DiffWaveNetSVC": ("models.svc.diffusion.diffusion_inference", "DiffusionInference"),
    "DiffComoSVC": ("models.svc.comosvc.comosvc_inference", "ComoSVCInference"),
    "TransformerSVC": ("models.svc.transformer.transformer_inference", "TransformerInference"),
    "VitsSVC": ("models.svc.vits.vits_inference", "VitsInference"),
}
CONTENT_DATASETS = {"whisper": ("FFmpegDataset", "whisper_sample_rate"),
                    "contentvec": ("LibrosaDataset", "contentvec_sample_rate"),
                    "wenet": ("TorchaudioDataset", "wenet_sample_rate")}


@dataclass
class LoadedSvc:
    """Everything a conversion needs, loaded. The modules are attributes so the model manager counts them."""

    experiment: Experiment
    model_type: str
    cfg: Any
    args: Any
    inference: Any  # Amphion's inference object, checkpoint loaded, no dataset yet
    acoustic: Any  # its model (torch module)
    extractors: dict[str, Any]  # "whisper" / "contentvec" / "wenet" -> Amphion extractor, model loaded
    whisper: Any = None
    contentvec: Any = None
    vocoder: AmphionVocoder | None = None
    vocoder_model: Any = None
    singers: dict[str, int] = field(default_factory=dict)

    @property
    def sample_rate(self) -> int:
        return int(self.cfg.preprocess.sample_rate)


def build_inference(model_type: str, args: Any, cfg: Any) -> Any:
    """Amphion's inference class for `model_type`, constructed as the script constructs it (accelerate, model,
    latest checkpoint) except that the source dataset is built per conversion instead of first."""
    import importlib

    module, name = INFERENCE_CLASSES[model_type]
    amphion_class = getattr(importlib.import_module(module), name)

    class ModelOnly(amphion_class):  # type: ignore[misc, valid-type]
        def _build_dataloader(self) -> None:
            return None

    return ModelOnly(args, cfg, "from_file")


def load_svc(runtime: Any, experiment: Experiment, model_type: str, *, vocoder: AmphionVocoder | None,
             contentvec_file: Path | None, whisper_file: Path | None, progress: Progress) -> LoadedSvc:
    """The experiment's acoustic model, content extractors and (given) vocoder, loaded once."""
    from .hubert import load_fairseq_hubert

    scratch = Path(tempfile.mkdtemp(prefix="svc-load-"))
    try:
        with runtime.session():
            cfg = runtime.load_config(experiment.folder / "args.json")
            if whisper_file is not None:
                cfg.preprocess.whisper_model = str(whisper_file)  # whisper.load_model takes a file path too
            cfg.preprocess.processed_dir = str(scratch)
            args = SimpleNamespace(acoustics_dir=str(experiment.folder), vocoder_dir="", target_singer="",
                                   trans_key=0, source="", output_dir=str(scratch), log_level="warning",
                                   diffusion_inference_steps=1000, keep_cache=False)
            progress(0.1, "Loading the acoustic model")
            inference = build_inference(model_type, args, cfg)
            device = inference.accelerator.device
            extractors: dict[str, Any] = {}
            from processors.content_extractor import ContentvecExtractor, WenetExtractor, WhisperExtractor

            if cfg.model.condition_encoder.use_whisper:
                progress(0.4, "Loading Whisper")
                extractors["whisper"] = WhisperExtractor(cfg)
                extractors["whisper"].device = device
                extractors["whisper"].load_model()
            if cfg.model.condition_encoder.use_contentvec:
                progress(0.7, "Loading ContentVec")
                assert contentvec_file is not None
                extractors["contentvec"] = ContentvecExtractor(cfg)
                extractors["contentvec"].model = load_fairseq_hubert(contentvec_file, str(device))
            if cfg.model.condition_encoder.use_wenet:
                progress(0.8, "Loading WeNet")
                extractors["wenet"] = WenetExtractor(cfg)
                extractors["wenet"].load_model()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return LoadedSvc(experiment, model_type, cfg, args, inference, inference.model, extractors,
                     whisper=getattr(extractors.get("whisper"), "model", None),
                     contentvec=getattr(extractors.get("contentvec"), "model", None),
                     vocoder=vocoder, vocoder_model=vocoder.model if vocoder else None,
                     singers=experiment.singers)


@dataclass
class Conversion:
    audio: np.ndarray
    sample_rate: int
    segments: int
    semitones: float
    source_median_hz: float
    target_median_hz: float


def convert(runtime: Any, model: LoadedSvc, source: Path, singer: str, trans_key: int | str,
            settings: dict[str, Any], work: Path, progress: Progress) -> Conversion:
    """`source` (a mono WAV at the model's rate) sung by `singer`; `trans_key` is semitones or "autoshift".

    `settings`: "steps" (diffusion / teacher steps), "noise_scale" and "seed" (VitsSVC)."""
    import torch

    cfg, args = model.cfg, model.args
    stats_root = model.experiment.stats_root()
    assert stats_root is not None
    target_dataset = dataset_of(singer)
    with runtime.session():
        from bins.svc.inference import merge_for_audio_segments, prepare_source_eval_file
        from processors import acoustic_extractor

        from utils.util import JsonHParams

        if "inference" not in cfg:  # TransformerSVC's config has none, and bins/svc/inference.py fails on it
            cfg.inference = JsonHParams()
        cfg.preprocess.processed_dir = str(work)
        cfg.inference.source_audio_path = str(source)
        cfg.inference.source_audio_name = SOURCE_NAME
        cfg.inference.segments_max_duration = SEGMENT_SECONDS
        cfg.inference.segments_overlap_duration = OVERLAP_SECONDS
        (work / target_dataset).symlink_to(stats_root / target_dataset, target_is_directory=True)
        source_dir = work / SOURCE_NAME

        progress(0.0, "Slicing the source")
        metadata = json.loads(Path(prepare_source_eval_file(cfg, str(source_dir), SOURCE_NAME)).read_text())
        progress(0.03, f"Pitch, energy and mel of {len(metadata)} segment{'s' * (len(metadata) > 1)}")
        acoustic_extractor.extract_utt_acoustic_features_serial(metadata, str(source_dir), cfg)
        _require_voiced(source_dir / cfg.preprocess.pitch_dir)
        if cfg.preprocess.use_min_max_norm_mel:
            acoustic_extractor.cal_mel_min_max(dataset=SOURCE_NAME, output_path=str(work), cfg=cfg,
                                               metadata=metadata)
        acoustic_extractor.cal_pitch_statistics_svc(dataset=SOURCE_NAME, output_path=str(work), cfg=cfg,
                                                    metadata=metadata)
        extract_content(model, metadata, progress.span(0.1, 0.3))

        args.source = str(source_dir / "eval.json")
        args.target_singer = singer
        args.trans_key = trans_key
        args.output_dir = str(work / "converted")
        os.makedirs(args.output_dir, exist_ok=True)
        dataset, loader = test_set(model)
        files = synthesize_segments(runtime, model, dataset, loader, settings, progress.span(0.3, 0.97))
        progress(0.97, "Merging the segments")
        merge_for_audio_segments(files, args, cfg)
        merged = Path(args.output_dir) / f"{SOURCE_NAME}_{singer}.wav"
        from utils.audio import load_audio_torch

        audio, _ = load_audio_torch(str(merged), model.sample_rate)
    source_median = float(dataset.source_pitch_median)
    target_median = float(dataset.target_pitch_median)
    semitones = (12 * math.log2(target_median / source_median) if trans_key == "autoshift"
                 else float(trans_key))
    return Conversion(audio.numpy().astype(np.float32), model.sample_rate, len(metadata), semitones,
                      source_median, target_median)


def extract_content(model: LoadedSvc, metadata: list[dict[str, Any]], progress: Progress) -> None:
    """content_extractor.extract_utt_content_features_dataloader, with the loaded extractors and no workers."""
    import torch
    from torch.utils.data import DataLoader
    from utils import io_optim

    cfg = model.cfg
    for index, (kind, extractor) in enumerate(model.extractors.items()):
        progress(index / len(model.extractors), f"{kind.capitalize()} content features")
        dataset_name, rate_key = CONTENT_DATASETS[kind]
        waveforms = getattr(io_optim, dataset_name)(cfg, SOURCE_NAME, cfg.preprocess[rate_key], metadata=metadata)
        loader = DataLoader(waveforms, num_workers=0, shuffle=False, drop_last=False,
                            batch_size=cfg.preprocess.content_feature_batch_size, collate_fn=io_optim.collate_batch)
        with torch.no_grad():
            for batch_metadata, wavs, lens in loader:
                features = (extractor.extract_content_features(wavs, lens) if kind == "wenet"
                            else extractor.extract_content_features(wavs))
                for i, utt in enumerate(batch_metadata):
                    extractor.save_feature(utt, features[i])


def test_set(model: LoadedSvc) -> tuple[Any, Any]:
    """SVCTestDataset and a loader over it, as the inference class's `_build_dataloader` makes them."""
    from models.svc.base.svc_dataset import SVCTestCollator, SVCTestDataset
    from torch.utils.data import DataLoader

    dataset = SVCTestDataset(model.args, model.cfg, "from_file")
    batch = model.cfg.inference.batch_size if model.model_type == "VitsSVC" else model.cfg.train.batch_size
    size = min(int(batch), len(dataset.metadata))
    loader = DataLoader(dataset, collate_fn=SVCTestCollator(model.cfg), num_workers=0, batch_size=size,
                        shuffle=False)
    model.inference.test_dataset, model.inference.test_batch_size = dataset, size
    return dataset, loader


def synthesize_segments(runtime: Any, model: LoadedSvc, dataset: Any, loader: Any, settings: dict[str, Any],
                        progress: Progress) -> list[str]:
    """Every segment through the acoustic model and the vocoder, saved as BaseInference.inference saves them."""
    import torch
    from utils.audio_slicer import is_silence
    from utils.io import save_audio

    inference, cfg = model.inference, model.cfg
    rate, hop = model.sample_rate, int(cfg.preprocess.hop_size)
    batches = len(loader)
    mels: list[np.ndarray] = []
    audios: list[np.ndarray] = []
    with torch.inference_mode():
        for number, batch in enumerate(loader):
            step = progress.span(number / batches, (number + 1) / batches)
            lengths = batch["target_len"].tolist()
            if model.model_type == "VitsSVC":
                step(0.0, "VITS decoding")
                batch = {k: v.to(inference.accelerator.device) for k, v in batch.items()}
                waves, _ = inference.model.infer(batch, noise_scale=settings["noise_scale"], seed=settings["seed"])
                audios += [w.squeeze(0).numpy(force=True)[: n * hop] for w, n in zip(waves, lengths)]
                continue
            with _denoiser_progress(model, settings, step.span(0.0, 0.75)):
                y_pred = inference._inference_each_batch(batch).cpu()
            if cfg.preprocess.use_min_max_norm_mel:
                mel_min, mel_max = dataset.target_mel_extrema
                y_pred = (y_pred + 1.0) / 2.0 * (mel_max - mel_min + 1e-12) + mel_min
            mels += [item[:n].numpy(force=True).T for item, n in zip(y_pred, lengths)]
    if mels:
        assert model.vocoder is not None
        progress(0.8 if batches else 0.0, "Vocoding")
        audios = model.vocoder.synthesize(runtime, mels)
    files = []
    for utt, wav in zip(dataset.metadata, audios):
        path = os.path.join(model.args.output_dir, f"{utt['Uid']}.wav")
        save_audio(path, wav, rate, add_silence=False, turn_up=not is_silence(wav, rate))
        files.append(path)
    return sorted(files)


@contextmanager
def _denoiser_progress(model: LoadedSvc, settings: dict[str, Any], progress: Progress) -> Iterator[None]:
    """Report each call of the diffusion denoiser (and stop there when cancelled)."""
    inference = model.inference
    network: Any = None
    total: Callable[[], int] = lambda: 1  # noqa: E731
    if model.model_type == "DiffWaveNetSVC":
        inference.pipeline.num_inference_timesteps = settings["steps"]
        network = inference.pipeline.network
        total = lambda: len(inference.pipeline.scheduler.timesteps)  # noqa: E731 - set inside the pipeline call
    elif model.model_type == "DiffComoSVC":
        model.cfg.inference.comosvc.inference_steps = settings["steps"]
        decoder = inference.acoustic_mapper.decoder
        network = decoder.denoise_fn if decoder.teacher else decoder.denoise_fn_ema
        # the teacher's Karras sampler evaluates steps + 1 times; the distilled student once
        total = lambda: settings["steps"] + 1 if decoder.teacher else 1  # noqa: E731
    if network is None:
        progress(0.0, "Acoustic model")
        yield
        return
    calls = 0

    def report(_module: Any, _inputs: Any) -> None:
        nonlocal calls
        calls += 1
        steps = max(total(), calls)
        progress(calls / steps, f"Diffusion step {calls}/{steps}")

    handle = network.register_forward_pre_hook(report)
    try:
        yield
    finally:
        handle.remove()


def _require_voiced(pitch_dir: Path) -> None:
    """Amphion's pitch statistics fail on a source with no voiced frame; say what is wrong instead."""
    voiced = sum(int(np.count_nonzero(np.load(p))) for p in pitch_dir.glob("*.npy"))
    if voiced == 0:
        raise EngineError("No sung or spoken pitch was found in the source (it sounds like silence, noise or "
                          "whispering), so there is no melody to convert. Pick a clip with a singing voice.")


@contextmanager
def work_folder(home: Path | None) -> Iterator[Path]:
    """A scratch folder for one conversion (Amphion's processed_dir), removed afterwards."""
    root = (home / "tmp") if home else None
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="svc-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
