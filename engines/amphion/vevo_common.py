"""What the Vevo and Vevo1.5 engines share: their parameters, how their checkpoints load, and the stages of a run.

Amphion's pipelines (`VevoInferencePipeline`, `VevosingInferencePipeline`) load every model, but their
`inference_*` methods fix the AR sampling (temperature, top-k, top-p, repetition penalty, lengths) and the
flow-matching guidance to the defaults of `generate()` and `reverse_diffusion()`. The engines therefore build
the pipeline, then make the same calls its methods make, in the same order, on its own models and feature
extractors, passing the user's values; each stage reports progress (token by token, step by step) and is a
point where a job can be cancelled.

Hub repositories hold no configs: every model is built from its stock config in the user's checkout, as Amphion's
own scripts do.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import AudioInput, EngineError, InvalidRequest, Param, Progress, Request, Weights
from ..isolated.worker import on_each_call
from ..requirements import Readiness

SAMPLE_RATE = 24_000
TARGET_DB = -25.0  # Amphion's save_audio brings every result to this RMS level
WHISPER_SECONDS = 30.0  # Vevo1.5's Whisper features cover one 30 s window

LANGUAGES: tuple[tuple[str, str], ...] = (("en", "English"), ("zh", "Chinese"), ("ja", "Japanese"),
                                          ("ko", "Korean"), ("fr", "French"), ("de", "German"))
LANGUAGE_CODES = tuple(code for code, _ in LANGUAGES)


# -- parameters -------------------------------------------------------------------------------------------------


def language_params(text: str = "Text language", reference: str = "Reference language") -> tuple[Param, ...]:
    """Languages passed to the G2P explicitly (Amphion's pipelines assume Chinese when none is given)."""
    return (
        Param("language", "choice", "en", label=text, choices=LANGUAGES,
              help="The language of the text to speak or sing; its phonemes are spelled for this language."),
        Param("reference_language", "choice", "en", label=reference, choices=LANGUAGES,
              help="The language of the reference clip's transcript."),
    )


def flow_matching_params() -> tuple[Param, ...]:
    return (
        Param("flow_matching_steps", "int", 32, min=1, max=128, step=1, unit="steps", label="Flow-matching steps",
              help="Steps from noise to the mel spectrogram. Fewer are faster; below about 16 the voice gets rougher."),
        Param("guidance", "float", 1.0, min=0.0, max=5.0, step=0.1, advanced=True, label="Guidance (CFG)",
              help="Classifier-free guidance of the acoustic model: how strongly the mel follows the tokens and the "
                   "voice prompt. 0 turns it off (one pass per step instead of two)."),
        Param("guidance_rescale", "float", 0.75, min=0.0, max=1.0, step=0.05, advanced=True,
              label="Guidance rescale", help="Pulls guided predictions back toward the unguided spread; reduces "
                                             "the harshness strong guidance can cause."),
    )


def ar_sampling_params(token_rate: float) -> tuple[Param, ...]:
    """The sampling that AutoregressiveTransformer.generate() takes, with its defaults."""
    seconds = 2000 / token_rate
    return (
        Param("temperature", "float", 0.8, min=0.05, max=2.0, step=0.05, label="Temperature",
              help="Randomness of the content-style tokens: lower is steadier, higher is more varied (and riskier)."),
        Param("top_k", "int", 50, min=0, max=1000, step=1, advanced=True, label="Top-k",
              help="Sample only among the k likeliest tokens; 0 means no limit."),
        Param("top_p", "float", 0.9, min=0.05, max=1.0, step=0.05, advanced=True, label="Top-p",
              help="Sample only among the likeliest tokens that together make up this probability."),
        Param("repeat_penalty", "float", 1.0, min=1.0, max=2.0, step=0.05, advanced=True, label="Repetition penalty",
              help="Above 1 discourages repeating tokens already generated (helps against stuck, looping sounds)."),
        Param("max_length", "int", 2000, min=200, max=6000, step=50, unit="tokens", advanced=True,
              label="Max length",
              help=f"Upper bound of the whole token sequence: the prompt (reference and input) plus what is generated "
                   f"({token_rate:g} tokens a second of audio; 2000 leaves room for about {seconds:.0f} s in all)."),
        Param("min_new_tokens", "int", 50, min=0, max=1000, step=10, unit="tokens", advanced=True,
              label="Min new tokens",
              help=f"The fewest tokens generated before the model may stop ({token_rate:g} a second)."),
    )


SEED = Param("seed", "seed", -1, label="Seed",
             help="Fixes the sampling: the same seed with the same inputs gives the same audio. -1 picks a new one "
                  "(the one used is kept with the result).")


def sampling_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    return {name: params[name] for name in ("max_length", "temperature", "top_k", "top_p", "repeat_penalty",
                                            "min_new_tokens")}


# -- weights and loading --------------------------------------------------------------------------------------


def hub_folder(repo_id: str, folder: str, size_bytes: int, label: str, licence: str, **extra: Any) -> Weights:
    return Weights("hub", repo_id, (f"{folder}/*",), size_bytes=size_bytes, license=licence, label=label, **extra)


def fetch_folders(sets: list[Weights], progress: Progress) -> dict[str, Path]:
    """Each set's local folder (downloading what is missing), by its folder inside the repository."""
    from ..weights import ensure

    found = {}
    for i, weights in enumerate(sets):
        local = ensure(weights, progress.span(i / len(sets), (i + 1) / len(sets)))
        if weights.source == "hub":
            folder = weights.files[0].removesuffix("/*")
            found[folder] = local / folder
    return found


def torchvision_problem() -> Readiness | None:
    """None when torchvision is installed for this torch; otherwise the exact build to install.

    Vevo1.5 imports torchvision at load; a torchvision built for another torch fails to import or breaks torch's
    operators, so the series must match (torch 2.N goes with torchvision 0.(N+15)).
    """
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None  # torch itself is reported as missing elsewhere
    major, minor = (int(part) for part in torch_version.split("+")[0].split(".")[:2])
    wanted = f"0.{minor + 15}" if major == 2 else None
    if wanted is None:
        return None
    command = (f"pip install 'torchvision=={wanted}.*' (from the same package index as your torch {torch_version}; "
               f"on a Jetson the CUDA 13 build, not PyPI's CPU-only one)",)
    try:
        installed = importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        return Readiness("missing_dependency", f"Vevo1.5 imports torchvision, which is not installed. It must be the "
                                               f"build for torch {torch_version}: torchvision {wanted}.", command)
    if not installed.split("+")[0].startswith(wanted + ".") or importlib.util.find_spec("PIL") is None:
        return Readiness("missing_dependency", f"torchvision {installed} is installed, but torch {torch_version} "
                                               f"needs torchvision {wanted} (with pillow).", command)
    return None


def import_torchvision() -> None:
    """Import torchvision before Amphion does, turning a broken build into an instruction."""
    try:
        import torchvision  # noqa: F401
    except Exception as exc:  # a mismatched build raises RuntimeError, OSError or ImportError
        problem = torchvision_problem()
        advice = " ".join((problem.message, *problem.hints)) if problem else "Reinstall torchvision for this torch."
        raise EngineError(f"torchvision does not import ({exc}). {advice}") from exc


# -- a run ----------------------------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    """Seed every generator the models draw from (a negative seed leaves them as they are)."""
    import torch

    if seed < 0:
        return
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def cached(request: Request, audio: AudioInput, what: str, compute: Callable[[], Any], device: Any) -> Any:
    """Tokens of a reference clip through the voice prompt cache (kept as numpy, returned as a tensor)."""
    from .prompt_codes import cached_tensors

    (tokens,) = cached_tensors(request, [audio, what], lambda: (compute(),), device)
    return tokens


def generate_tokens(ar_model: Any, progress: Progress, *, token_rate: float, expected: int, prompt_tokens: int,
                    params: dict[str, Any], **inputs: Any) -> Any:
    """ar_model.generate(**inputs) with the user's sampling, reporting each token; [1, T] tokens."""
    need = prompt_tokens + params["min_new_tokens"]
    if need > params["max_length"]:
        raise InvalidRequest(f"The prompt (reference and input) already takes about {prompt_tokens} tokens, so Max "
                             f"length {params['max_length']} leaves no room for the {params['min_new_tokens']} new "
                             f"tokens asked for. Raise Max length to at least {need}, or use shorter clips or text.")
    expected = max(expected, 1)

    def report(tokens: int) -> None:
        progress(min(tokens / expected, 0.98), f"Generating content-style tokens: {tokens} "
                                               f"({tokens / token_rate:.1f} s of audio)")

    progress(0.0, "Generating content-style tokens")
    with on_each_call(ar_model.model, report):
        tokens = ar_model.generate(**inputs, **sampling_kwargs(params))
    if tokens.shape[1] == 0:
        raise EngineError("The model generated no content-style tokens. Try another seed, or a higher temperature.")
    return tokens


def flow_matching(fmt_model: Any, cond: Any, prompt: Any, params: dict[str, Any], progress: Progress) -> Any:
    """fmt_model.reverse_diffusion with the user's steps and guidance, one report per step; [1, T, mels]."""
    steps, guidance = params["flow_matching_steps"], params["guidance"]
    passes = 2 if guidance > 0 else 1  # guided steps run the estimator a second time without conditions

    def report(calls: int) -> None:
        if calls % passes == 0:
            progress(calls / passes / steps, f"Flow matching: step {calls // passes} of {steps}")

    progress(0.0, f"Flow matching: {steps} steps")
    with on_each_call(fmt_model.diff_estimator, report):
        return fmt_model.reverse_diffusion(cond=cond, prompt=prompt, n_timesteps=steps, cfg=guidance,
                                           rescale_cfg=params["guidance_rescale"])


def vocode(vocoder: Any, mel: Any, progress: Progress) -> np.ndarray:
    """Mel [1, T, mels] to 24 kHz audio (1-D float32)."""
    progress(0.0, "Vocoding")
    audio = vocoder(mel.transpose(1, 2)).detach().cpu().float().numpy().reshape(-1)
    if not np.all(np.isfinite(audio)):
        raise EngineError("The vocoder produced invalid samples (NaN or infinity); try again with another seed.")
    return audio


def amphion_level(audio: np.ndarray) -> np.ndarray:
    """Amphion's output level (save_audio: RMS at -25 dBFS), with peaks kept below full scale."""
    rms = float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0
    audio = audio * (10 ** (TARGET_DB / 20) / (rms + 1e-9))
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.99:
        audio = audio * (0.99 / peak)
    return audio.astype(np.float32)


def need_transcript(audio: AudioInput, label: str) -> str:
    text = (audio.transcript or "").strip()
    if not text:
        raise InvalidRequest(f"{label}: give its transcript (what it says or sings); the model reads it with the "
                             f"reference's sound. The Transcribe button fills it in.")
    return text


def phone_ids(g2p: Callable[[str, str], Any], text: str, language: str, what: str) -> list[int]:
    ids = list(g2p(text, language)[1])
    if not ids:
        raise InvalidRequest(f"{what} has nothing the phonemizer can read as {dict(LANGUAGES)[language]}: "
                             f"check the text and its language.")
    return ids
