"""Tiny random-weight checkpoints of Amphion's classic TTS recipes, laid out as their hub repositories are.

Each builder runs in the Amphion runtime of the checkout under test and uses Amphion's own pieces: the recipe's
config chain (egs/tts/<Model>/exp_config.json, with small sizes), its model class, the trainer's config dump
(`utils.util.save_config` -> args.json), accelerate's `save_state` for the checkpoint folder
(checkpoint/epoch-..._step-..._loss-.../pytorch_model.bin, as the 2023 trainers wrote them), and the phone set
written by Amphion's phoneExtractor (symbols.dict). The weights are random: the audio is noise, but every file
goes through the loading calls the real checkpoints go through.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

CHECKPOINT = "checkpoint/epoch-0000_step-0000001_loss-1.000000"


def merged_config(recipe: str, **sections: dict[str, Any]) -> dict[str, Any]:
    """The recipe's merged config dict (as the trainer dumps it), with `sections` updated in place."""
    from utils.util import _load_config

    cfg = _load_config(recipe)
    for section, values in sections.items():
        _update(cfg.setdefault(section, {}), values)
    return cfg


def _update(node: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(node.get(key), dict):
            _update(node[key], value)
        else:
            node[key] = value


def dump_config(cfg: dict[str, Any], folder: Path) -> Any:
    """args.json as Amphion's trainers write it; returns the config as Amphion loads it."""
    from utils.util import load_config, save_config

    folder.mkdir(parents=True, exist_ok=True)
    save_config(str(folder / "args.json"), cfg)
    return load_config(str(folder / "args.json"))


def save_checkpoint(model: Any, folder: Path) -> Path:
    """An accelerate save_state folder with pytorch_model.bin (safe_serialization=False, as accelerate 0.24 did)."""
    import accelerate

    accelerator = accelerate.Accelerator(cpu=True)
    prepared = accelerator.prepare(model)
    target = folder / CHECKPOINT
    accelerator.save_state(str(target), safe_serialization=False)
    accelerator.free_memory(prepared)
    return target


def symbols_dict(cfg: Any, texts: list[str], folder: Path) -> Path:
    """symbols.dict as Amphion's preprocessing writes it: the phones of `texts` (the 'training data')."""
    from processors.phone_extractor import phoneExtractor

    extractor = phoneExtractor(cfg, phone_symbol_file=str(folder / "symbols.dict"))
    for text in texts:
        extractor.extract_phone(text)
    extractor.save_dataset_phone_symbols_to_table()
    return folder / "symbols.dict"


def tiny_vits(folder: Path, texts: list[str]) -> Path:
    """amphion/vits_ljspeech: args.json, symbols.dict, checkpoint/<epoch...>/pytorch_model.bin."""
    import torch
    from models.tts.vits.vits import SynthesizerTrn

    torch.manual_seed(0)
    raw = merged_config("egs/tts/VITS/exp_config.json", model={
        "inter_channels": 8, "hidden_channels": 8, "filter_channels": 16, "n_heads": 2, "n_layers": 1,
        "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 3, 5]], "upsample_initial_channel": 16,
        "n_layers_q": 1, "gin_channels": 8})
    cfg = dump_config(raw, folder)
    symbols_dict(cfg, texts, folder)
    model = SynthesizerTrn(cfg.model.text_token_num, cfg.preprocess.n_fft // 2 + 1,
                           cfg.preprocess.segment_size // cfg.preprocess.hop_size, **cfg.model)
    save_checkpoint(model, folder)
    return folder


def nltk_data(root: Path, words: dict[str, list[str]]) -> Path:
    """NLTK's zips as nltk_data serves them, with a tiny CMU dictionary (`words`) and an empty English tagger
    (every word tagged with the fallback class): what g2p_en loads, in NLTK's own formats."""
    (root / "corpora").mkdir(parents=True, exist_ok=True)
    (root / "taggers").mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{word.upper()} 1 {' '.join(phones)}\n" for word, phones in sorted(words.items()))
    with zipfile.ZipFile(root / "corpora" / "cmudict.zip", "w") as z:
        z.writestr("cmudict/cmudict", lines)
        z.writestr("cmudict/README", "tiny test dictionary\n")
    name = "averaged_perceptron_tagger_eng"
    with zipfile.ZipFile(root / "taggers" / f"{name}.zip", "w") as z:
        z.writestr(f"{name}/{name}.weights.json", json.dumps({}))
        z.writestr(f"{name}/{name}.tagdict.json", json.dumps({}))
        z.writestr(f"{name}/{name}.classes.json", json.dumps(["NN"]))
    with zipfile.ZipFile(root / "taggers" / "averaged_perceptron_tagger.zip", "w") as z:
        z.writestr("averaged_perceptron_tagger/README", "g2p_en only checks that this package exists\n")
    return root


def lexicon(path: Path, words: dict[str, list[str]]) -> Path:
    """A pronunciation lexicon in the format of Amphion's text/lexicon/librispeech-lexicon.txt."""
    path.write_text("".join(f"{word.upper()}\t{' '.join(phones)}\n" for word, phones in sorted(words.items())))
    return path


def statistics(folder: Path, dataset: str, directory: str, mean: float, std: float, low: float,
               high: float) -> None:
    """statistics.json as Amphion's preprocessing writes it for phone-level pitch or energy."""
    target = folder / dataset / directory / "statistics.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({f"{dataset}_{dataset}": {
        "voiced_positions": {"mean": mean, "std": std, "min": low, "max": high},
        "total_positions": {"mean": mean, "std": std, "min": low, "max": high}}}, indent=4))


def tiny_fastspeech2(folder: Path, lexicon_path: Path) -> Path:
    """amphion/fastspeech2_ljspeech: args.json, checkpoint/<epoch...>/, LJSpeech/<phone_*>/statistics.json."""
    import torch
    from models.tts.fastspeech2.fs2 import FastSpeech2

    torch.manual_seed(0)
    raw = merged_config("egs/tts/FastSpeech2/exp_config.json", preprocess={"lexicon_path": str(lexicon_path)},
                        model={"transformer": {"encoder_layer": 1, "encoder_head": 1, "encoder_hidden": 16,
                                               "decoder_layer": 1, "decoder_head": 1, "decoder_hidden": 16,
                                               "conv_filter_size": 32},
                               "variance_predictor": {"filter_size": 16}, "variance_embedding": {"n_bins": 16}})
    cfg = dump_config(raw, folder)
    pre = cfg.preprocess
    statistics(folder, cfg.dataset[0], pre.phone_pitch_dir, 200.0, 50.0, 80.0, 400.0)
    statistics(folder, cfg.dataset[0], pre.phone_energy_dir, 30.0, 10.0, 1.0, 90.0)
    processed = cfg.preprocess.processed_dir
    cfg.preprocess.processed_dir = str(folder)  # the model reads them at construction, here from the new folder
    model = FastSpeech2(cfg)
    cfg.preprocess.processed_dir = processed
    steady_durations(model.variance_adaptor.duration_predictor.linear_layer, frames=4)
    save_checkpoint(model, folder)
    return folder


def steady_durations(layer: Any, frames: int) -> None:
    """Random weights predict durations that round to nothing; a trained duration predictor's output layer says
    about `frames` frames per phone (log(frames + 1)), so the length of the audio follows the text."""
    import math

    import torch

    with torch.no_grad():
        layer.weight.mul_(0.001)
        layer.bias.fill_(math.log(frames + 1))


def tiny_hifigan(folder: Path, checkpoint_name: str = "400000.pt") -> Path:
    """amphion/hifigan_ljspeech: args.json beside checkpoints/<name>.pt holding generator_state_dict."""
    import torch
    from models.vocoders.gan.generator.hifigan import HiFiGAN
    from utils.util import load_config

    torch.manual_seed(0)
    raw = merged_config("egs/vocoder/gan/hifigan/exp_config.json",
                        preprocess={"n_mel": 80, "sample_rate": 22050, "hop_size": 256, "n_fft": 1024,
                                     "win_size": 1024, "fmax": 8000},
                        model={"hifigan": {"upsample_initial_channel": 16, "resblock_kernel_sizes": [3],
                                           "resblock_dilation_sizes": [[1, 2]]}})
    dump_config(raw, folder)
    cfg = load_config(str(folder / "args.json"), lowercase=True)
    generator = HiFiGAN(cfg)
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    torch.save({"generator_state_dict": generator.state_dict(), "steps": 400000}, folder / "checkpoints" /
               checkpoint_name)
    return folder


def tiny_encodec(torch_home: Path) -> Path:
    """EnCodec 24 kHz with random weights where torch.hub keeps encodec_24khz-d7cc33bc.th (the hash in the name is
    checked only when torch.hub downloads; EncodecModel.encodec_model_24khz() loads whatever is there)."""
    import torch
    from encodec import EncodecModel

    target = torch_home / "hub" / "checkpoints" / "encodec_24khz-d7cc33bc.th"
    if not target.is_file():
        torch.manual_seed(0)
        model = EncodecModel.encodec_model_24khz(pretrained=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), target)
    return target


NS2_TINY = {"prior_encoder": {
    "encoder": {"encoder_layer": 1, "encoder_hidden": 16, "encoder_head": 2, "conv_filter_size": 32},
    "duration_predictor": {"input_size": 16, "filter_size": 16, "conv_layers": 3, "cross_attn_per_layer": 3,
                           "attn_head": 2},
    "pitch_predictor": {"input_size": 16, "filter_size": 16, "conv_layers": 3, "cross_attn_per_layer": 3,
                        "attn_head": 2}},
    "diffusion": {"wavenet": {"hidden_size": 16, "num_layers": 2, "cross_attn_per_layer": 2, "attn_head": 2}},
    "prompt_encoder": {"encoder_layer": 1, "encoder_hidden": 16, "encoder_head": 2, "conv_filter_size": 32},
    "query_emb": {"query_token_num": 4, "hidden_size": 16, "head_num": 2}}


def tiny_naturalspeech2(folder: Path, config: Path, lexicon_path: Path) -> Path:
    """amphion/naturalspeech2_libritts: checkpoint/epoch-0089_step-0512912_loss-6.367693/pytorch_model.bin (the hub
    repository has no config; `config` is the fine-tune-style config the engine is pointed at)."""
    import torch
    from models.tts.naturalspeech2.ns2 import NaturalSpeech2
    from utils.util import load_config

    torch.manual_seed(0)
    config.write_text(json.dumps({"base_config": "egs/tts/NaturalSpeech2/exp_config.json",
                                  "preprocess": {"lexicon_path": str(lexicon_path)}, "model": NS2_TINY}, indent=2))
    cfg = load_config(str(config))
    model = NaturalSpeech2(cfg.model)
    steady_durations(model.prior_encoder.duration_predictor.linear, frames=3)
    target = folder / "checkpoint" / "epoch-0089_step-0512912_loss-6.367693"
    target.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), target / "pytorch_model.bin")
    return folder


def tiny_valle(folder: Path, texts: list[str]) -> Path:
    """amphion/valle_libritts: args.json, symbols.dict, checkpoint/<epoch...>/pytorch_model.bin."""
    import torch
    from models.tts.valle.valle import VALLE

    torch.manual_seed(0)
    raw = merged_config("egs/tts/VALLE/exp_config.json",
                        model={"decoder_dim": 16, "nhead": 2, "num_decoder_layers": 1})
    cfg = dump_config(raw, folder)
    symbols_dict(cfg, texts, folder)
    save_checkpoint(VALLE(cfg.model), folder)
    return folder


def tiny_jets(folder: Path, lexicon_path: Path) -> Path:
    """A Jets experiment folder as the trainer leaves it (args.json, checkpoint/<epoch...>/), with the pitch and
    energy statistics of its training data copied in."""
    import torch
    from models.tts.jets.jets import Jets

    torch.manual_seed(0)
    raw = merged_config("egs/tts/Jets/exp_config.json", preprocess={"lexicon_path": str(lexicon_path)},
                        model={"transformer": {"encoder_layer": 1, "decoder_layer": 1, "conv_filter_size": 32},
                               "variance_predictor": {"filter_size": 16}, "variance_embedding": {"n_bins": 16}})
    cfg = dump_config(raw, folder)
    pre = cfg.preprocess
    for pitch in (pre.phone_pitch_dir, pre.pitch_dir):  # Jets reads frame-level ones, FastSpeech2 phone-level
        statistics(folder, cfg.dataset[0], pitch, 200.0, 50.0, 80.0, 400.0)
    for energy in (pre.phone_energy_dir, pre.energy_dir):
        statistics(folder, cfg.dataset[0], energy, 30.0, 10.0, 1.0, 90.0)
    processed = cfg.preprocess.processed_dir
    cfg.preprocess.processed_dir = str(folder)
    model = Jets(cfg)
    cfg.preprocess.processed_dir = processed
    steady_durations(model.variance_adaptor.duration_predictor.linear_layer, frames=2)
    save_checkpoint(model, folder)
    return folder
