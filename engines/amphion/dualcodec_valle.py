"""DualCodec-VALLE: zero-shot speech from a reference clip and its transcript, a VALL-E (autoregressive semantic
tokens, then non-autoregressive acoustic tokens) over Amphion's 12.5 Hz DualCodec. From the `dualcodec` package
(PyPI), so it needs no Amphion checkout: `infer_process` with its sampling controls, cross-fade between the
parts it splits long text into, and its silence removal.

The architectures come from the package's hydra configs (conf/model, conf_tts/model); the `config` param names
a folder with the three of a fine-tune instead (`dualcodec.yaml`, `valle_ar.yaml`, `valle_nar.yaml`).
"""
from __future__ import annotations

import functools
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..contract import Engine, EngineError, InputSlot, Param, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements
from . import deps, traps
from . import maskgct_parts as parts

CODEC_REPO = "amphion/dualcodec"
TTS_REPO = "amphion/dualcodec-tts"
CODEC = Weights("hub", CODEC_REPO, ("dualcodec_12hz_16384_4096.safetensors", "w2vbert2_mean_var_stats_emilia.pt"),
                size_bytes=420_000_000, license="Apache-2.0", label="DualCodec 12.5 Hz",
                note="size estimated")
VALLE = Weights("hub", TTS_REPO, ("dualcodec_valle_ar_12hzv1.safetensors", "dualcodec_valle_nar_12hzv1.safetensors"),
                size_bytes=1_297_000_000, license="none stated (its model card names no licence)",
                label="DualCodec-VALLE (AR and NAR)")
CONFIGS = {"dualcodec": "conf/model/dualcodec_12hz_16384_4096_8vq.yaml",  # inside the dualcodec package
           "valle_ar": "conf_tts/model/valle_ar/llama_250M.yaml", "valle_nar": "conf_tts/model/valle_nar/valle_nar.yaml"}
LANGUAGES = (("en", "English"), ("zh", "Chinese"), ("ja", "Japanese"), ("ko", "Korean"), ("de", "German"),
             ("fr", "French"))


class DualCodecVALLE(Engine):
    id = "amphion.dualcodec_valle"
    name = "DualCodec-VALLE"
    task = "tts"
    family = "Amphion"
    summary = ("Zero-shot speech in the voice of a reference clip (with its transcript): a VALL-E over the "
               "12.5 Hz DualCodec, sampled like a language model.")
    languages = tuple(code for code, _ in LANGUAGES)
    sample_rate = 24_000
    # amphion/dualcodec's model card says Apache-2.0; amphion/dualcodec-tts's names no licence (the dualcodec code is
    # MIT; both were trained on Emilia, which is CC-BY-NC-4.0)
    license = "codec Apache-2.0; VALL-E weights: no licence stated"
    memory_mb = 5_000  # w2v-BERT 2.0 (2.3 GB), the codec and the two 250M transformers, plus activations
    requirements = Requirements(python=(PythonModule("dualcodec", "dualcodec"), PythonModule("whisper", "openai-whisper"),
                                        PythonModule("hydra", "hydra-core"), PythonModule("audiotools",
                                                                                          "descript-audiotools"),
                                        PythonModule("pydub", "pydub")))
    weights = (deps.W2V_BERT_2, CODEC, VALLE)
    inputs = (
        InputSlot("text", "text", "Text", max_chars=5_000,
                  help="What to say. Long text is split into parts as long as the reference allows (about 22 s of "
                       "speech with it), joined with the cross-fade below."),
        InputSlot("reference", "audio", "Reference voice", min_seconds=1.0, max_seconds=20.0, sweet_spot=(3.0, 10.0),
                  needs_transcript=True, carries=("voice", "style"),
                  help="A clean clip of the voice and exactly what it says."),
    )
    params = (
        Param("language", "choice", "en", choices=LANGUAGES,
              help="The language of the text (its normalisation and the tokenizer's language token)."),
        parts.seed_param(),
        Param("temperature", "float", 1.0, min=0.1, max=2.0, step=0.05,
              help="Randomness of the autoregressive sampling; lower is steadier, higher more varied."),
        Param("top_k", "int", 15, min=1, max=50, step=1, advanced=True, help="Sample among the k likeliest tokens."),
        Param("top_p", "float", 0.85, min=0.1, max=1.0, step=0.05, advanced=True,
              help="Nucleus sampling: keep the likeliest tokens up to this probability mass."),
        Param("repetition_penalty", "float", 1.1, min=1.0, max=2.0, step=0.05, advanced=True,
              help="Discourages repeating the same tokens (stutters, loops)."),
        Param("cross_fade", "float", 0.15, min=0.0, max=0.5, step=0.01, unit="s", label="Cross-fade",
              help="Overlap between the parts of long text; 0 joins them end to end."),
        Param("remove_silence", "bool", False, label="Remove long silences",
              help="Shortens pauses longer than a second to half a second either side (the package's own "
                   "silence removal)."),
        Param("config", "text", "", label="Model configs", advanced=True, affects_load=True,
              help="A folder with a fine-tune's dualcodec.yaml, valle_ar.yaml and valle_nar.yaml (hydra). Empty "
                   "uses the dualcodec package's stock configs."),
    )

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import dualcodec
        import safetensors.torch
        from dualcodec.utils import get_whisper_tokenizer
        from dualcodec.utils.utils_infer import load_checkpoint

        kind = "cuda" if device.startswith("cuda") else "cpu"  # the package uses it as autocast's device_type
        configs = config_files((options or {}).get("config", ""))
        folders = parts.fetch(self.weights, progress.span(0.0, 0.6, "Weights"))
        progress(0.6, "Loading DualCodec and w2v-BERT 2.0")
        codec = instantiate(configs["dualcodec"])
        safetensors.torch.load_model(codec, str(folders[CODEC] / CODEC.files[0]))  # as dualcodec.get_model does
        codec_inference = dualcodec.Inference(dualcodec_model=codec.eval(), dualcodec_path=str(folders[CODEC]),
                                              w2v_path=str(folders[deps.W2V_BERT_2]), device=kind, autocast=True)
        models = {}
        for i, name in enumerate(("valle_ar", "valle_nar")):
            progress(0.7 + 0.1 * i, f"Loading the {'autoregressive' if i == 0 else 'non-autoregressive'} model")
            model = instantiate(configs[name]).half().eval()  # as load_dualcodec_valle_*_12hzv1 do
            load_checkpoint(model, str(folders[VALLE] / VALLE.files[i]), use_ema=False, device=kind)
            models[name] = model
        progress(0.95, "Loading the Whisper tokenizer")
        return {"ar": models["valle_ar"], "nar": models["valle_nar"], "codec": codec_inference,
                "tokenizer": get_whisper_tokenizer(), "device": kind}

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import numpy as np
        from dualcodec.infer.valle.utils_valle_infer import infer_process

        traps.apply_named("torchaudio-io-without-torchcodec")  # infer_process reads the reference with torchaudio
        p = request.params
        reference = request.inputs["reference"]
        steps = parts.StepCounter(progress.span(0.05, 0.9), 1000, "Sampling speech tokens")
        walk = PartsProgress(steps)
        progress(0.0, "Reading the reference and the text")
        with steps.counting([model["ar"].llm]), breakpoints_raise(steps), parts_in_order():
            audio, rate, _ = infer_process(
                parts.audio_path(reference, "Reference voice"), parts.transcript_of(reference, "Reference voice"),
                request.inputs["text"], model["ar"], model["nar"],
                CachedPrompt(model["codec"], request.prompts, reference, p["seed"], progress), model["tokenizer"],
                show_info=lambda *_: None, progress=walk, cross_fade_duration=p["cross_fade"],
                lang=p["language"],
                device=model["device"], top_k=p["top_k"], top_p=p["top_p"], temperature=p["temperature"],
                repeat_penalty=p["repetition_penalty"])
        if audio is None:
            raise EngineError("DualCodec-VALLE produced no audio for this text; check that it has words to say.")
        audio = np.asarray(audio, dtype=np.float32)
        extras: dict[str, Any] = {"ar_steps": walk.done}
        if p["remove_silence"]:
            progress(0.95, "Removing long silences")
            before = len(audio)
            audio = without_long_silences(audio, rate)
            extras["silence_removed_seconds"] = round((before - len(audio)) / rate, 3)
        progress(1.0, "Done")
        return Result(audio, rate, extras)


@contextmanager
def parts_in_order() -> Iterator[None]:
    """infer_process generates the parts of long text in a thread pool; one worker takes them in order, so they
    draw from the random generator in the same order every time and the same seed gives the same audio."""
    from dualcodec.infer.valle import utils_valle_infer

    pool = utils_valle_infer.ThreadPoolExecutor
    utils_valle_infer.ThreadPoolExecutor = functools.partial(pool, max_workers=1)
    try:
        yield
    finally:
        utils_valle_infer.ThreadPoolExecutor = pool


class PartsProgress:
    """What infer_process takes as `progress`: it walks the parts of long text through `progress.tqdm(...)` and
    generates each part as the walk reaches it, so each part gets its own span of the sampling progress."""

    def __init__(self, steps: parts.StepCounter) -> None:
        self.steps, self.whole, self.earlier_steps = steps, steps.progress, 0

    @property
    def done(self) -> int:
        """Sampling steps of every part so far."""
        return self.earlier_steps + self.steps.done

    def tqdm(self, items: Any) -> Iterator[Any]:
        items = list(items)
        for i, item in enumerate(items):
            if len(items) > 1:
                self.earlier_steps, self.steps.done = self.done, 0
                self.steps.progress = self.whole.span(i / len(items), (i + 1) / len(items),
                                                      f"Part {i + 1} of {len(items)}")
            yield item


class CachedPrompt:
    """The codec's Inference object with its `encode` kept in the voice prompt cache: `infer_process` encodes
    the reference (w2v-BERT features, then semantic and acoustic codes) for every part of the text, and the
    same voice costs that once. Encoding draws random numbers, so sampling starts from the seed after it: a
    cached prompt and a fresh one give the same audio."""

    def __init__(self, inference: Any, prompts: Any, reference: Any, seed: int, progress: Progress) -> None:
        self.inference, self.prompts, self.reference, self.seed = inference, prompts, reference, seed
        self.progress = progress

    def _encode(self, audio: Any, n_quantizers: int) -> tuple[Any, Any]:
        self.progress(None, "Encoding the reference")
        return tuple(codes.cpu() for codes in self.inference.encode(audio, n_quantizers=n_quantizers))

    def encode(self, audio: Any, n_quantizers: int = 8) -> Any:
        semantic, acoustic = self.prompts.get_or_compute(
            [self.reference, "codes", n_quantizers, int(audio.shape[-1])],
            lambda: self._encode(audio, n_quantizers))
        parts.seed_everything(self.seed)
        return semantic.to(self.inference.device), acoustic.to(self.inference.device)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inference, name)


@contextmanager
def breakpoints_raise(sampling: parts.StepCounter) -> Iterator[None]:
    """dualcodec's NAR model calls breakpoint() when one of its steps fails, which would park the studio's worker
    in the debugger; inside this block it raises the failure instead."""
    def hook(*_: Any, **__: Any) -> None:
        failure = sys.exc_info()[1]
        if sampling.done <= 1:  # the first token sampled was the end of speech: nothing for the NAR model
            raise EngineError("DualCodec-VALLE ended before saying anything (it sampled the end of speech first). "
                              "Try another seed, or a lower temperature.") from failure
        raise EngineError(f"DualCodec-VALLE failed inside the dualcodec package: {failure!r}") from failure

    previous, sys.breakpointhook = sys.breakpointhook, hook
    try:
        yield
    finally:
        sys.breakpointhook = previous


def config_files(folder: str) -> dict[str, Path]:
    """The three hydra configs: a fine-tune's folder, or the package's stock ones."""
    if folder.strip():
        found = {name: Path(folder).expanduser() / f"{name}.yaml" for name in CONFIGS}
        missing = [str(path) for path in found.values() if not path.is_file()]
        if missing:
            raise EngineError(f"Model configs: {', '.join(missing)} missing. Leave it empty for the stock models.")
        return found
    from dualcodec.utils import package_dir

    return {name: Path(package_dir) / relative for name, relative in CONFIGS.items()}


def instantiate(config: Path) -> Any:
    """The model a hydra config describes (dualcodec's `instantiate_model`, for a config anywhere on disk)."""
    import hydra

    with hydra.initialize_config_dir(config_dir=str(config.parent.absolute()), version_base="1.2"):
        cfg = hydra.compose(config_name=config.name)
    return hydra.utils.instantiate(cfg.model)


def without_long_silences(audio: Any, rate: int) -> Any:
    """dualcodec's `remove_silence_for_generated_wav` (pydub: silences over 1 s below -50 dBFS, 0.5 s kept either
    side), run on a temporary file as the package does."""
    import soundfile as sf
    from dualcodec.utils.utils_infer import remove_silence_for_generated_wav

    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "generated.wav")
        sf.write(path, audio, rate, subtype="PCM_16")
        remove_silence_for_generated_wav(path)
        return sf.read(path, dtype="float32")[0]
