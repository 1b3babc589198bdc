"""Whisper through transformers: OpenAI's checkpoints from the Hugging Face hub, on the GPU (the Jetson's path).

Language hint or detection (with its probability), word timestamps from the cross-attention alignment heads,
audio of any length in 30 s chunks. Weights download once into the standard hub cache.
"""
from __future__ import annotations

from typing import Any

from ..contract import Engine, Param, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements
from .whisper_asr import AUDIO_SLOT, BEAM_SIZE, LANGUAGES, WORD_TIMESTAMPS, check_english_only

DEFAULT = "large-v3-turbo"
# size -> (label, hub repository, download size in bytes of the safetensors weights and the small files)
MODELS: dict[str, tuple[str, str, int]] = {
    "tiny": ("tiny (multilingual)", "openai/whisper-tiny", 152_000_000),
    "base": ("base (multilingual)", "openai/whisper-base", 291_000_000),
    "small": ("small (multilingual)", "openai/whisper-small", 968_000_000),
    "medium": ("medium (multilingual)", "openai/whisper-medium", 3_060_000_000),
    "large-v3": ("large-v3 (multilingual, best)", "openai/whisper-large-v3", 3_090_000_000),
    "large-v3-turbo": ("large-v3-turbo (multilingual, fast)", "openai/whisper-large-v3-turbo", 1_620_000_000),
    "small.en": ("small.en (English)", "openai/whisper-small.en", 968_000_000),
}
FILES = ("*.json", "*.txt", "model.safetensors")  # config, tokenizer, preprocessor, weights (not the .bin/.h5 copies)
CHUNK_SECONDS = 30


class WhisperTransformers(Engine):
    id = "builtin.whisper_hf"
    name = "Whisper (transformers)"
    task = "asr"
    family = "Whisper"
    summary = "OpenAI Whisper on the GPU through transformers: 99 languages, word timestamps; downloads once."
    languages = tuple(code for code, _ in LANGUAGES if code != "auto")
    sample_rate = 16_000
    license = "MIT"
    memory_mb = 1700
    inputs = (AUDIO_SLOT,)
    params = (
        Param("model", "choice", DEFAULT, help="Bigger is more accurate and slower; each size downloads once.",
              choices=tuple((size, label) for size, (label, _, _) in MODELS.items()), affects_load=True),
        Param("language", "choice", "auto", help="The spoken language, or detect it.", choices=LANGUAGES),
        WORD_TIMESTAMPS,
        BEAM_SIZE,
    )
    weights = tuple(Weights("hub", repo, FILES, size_bytes, "MIT", label=f"Whisper {size}", when=(("model", size),))
                    for size, (_, repo, size_bytes) in MODELS.items())
    requirements = Requirements(python=(PythonModule("transformers", "transformers"), PythonModule("torch", "torch")))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import torch
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        from engines.weights import ensure

        size = (options or {}).get("model", DEFAULT)
        (weights,) = self.weights_for({"model": size})
        path = ensure(weights, progress.span(0, 0.8), advice="'Whisper (faster-whisper)' has tiny.en built in "
                                                             "(English) and works offline.")
        progress(0.8, f"Loading Whisper {size}")
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        processor = WhisperProcessor.from_pretrained(path)
        model = WhisperForConditionalGeneration.from_pretrained(path, torch_dtype=dtype)
        return {"model": model.to(device).eval(), "processor": processor, "device": device, "dtype": dtype,
                "english_only": size.endswith(".en")}

    def check_request(self, request: Request) -> None:
        check_english_only(request)

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        from studio.audio.io import read_audio

        p = request.params
        language = None if p["language"] == "auto" else p["language"]
        progress(0.0, "Reading the audio")
        audio, _ = read_audio(request.inputs["audio"].path, self.sample_rate)
        duration = len(audio) / self.sample_rate
        net, processor = model["model"], model["processor"]
        probability = 1.0
        if model["english_only"]:
            language = "en"
        elif language is None:
            progress(0.05, "Detecting the language")
            language, probability = _detect_language(net, processor, audio, model["device"], model["dtype"])
        segments: list[dict[str, Any]] = []
        words: list[dict[str, Any]] = []
        step = CHUNK_SECONDS * self.sample_rate
        for offset in range(0, max(len(audio), 1), step):
            chunk = audio[offset:offset + step]
            start = offset / self.sample_rate
            text, timed = _transcribe_chunk(net, processor, chunk, model, language, p)
            if text:
                segments.append({"start": start, "end": start + len(chunk) / self.sample_rate, "text": text})
            words += [{**w, "start": round(w["start"] + start, 3), "end": round(w["end"] + start, 3)} for w in timed]
            end = min(offset + step, len(audio)) / self.sample_rate
            progress(end / max(duration, 1e-6), f"Transcribed {end:.0f} of {duration:.0f} s")
        return Result(None, self.sample_rate, {
            "text": " ".join(s["text"] for s in segments).strip(), "language": language,
            "language_probability": probability, "duration": duration, "segments": segments, "words": words})


def _features(processor: Any, audio: Any, device: str, dtype: Any) -> Any:
    inputs = processor.feature_extractor(audio, sampling_rate=16_000, return_tensors="pt")
    return inputs.input_features.to(device, dtype)


def _detect_language(net: Any, processor: Any, audio: Any, device: str, dtype: Any) -> tuple[str, float]:
    """The most likely language of the first 30 s, and its probability (the first decoding step's softmax)."""
    import torch

    lang_to_id: dict[str, int] = net.generation_config.lang_to_id
    features = _features(processor, audio[: CHUNK_SECONDS * 16_000], device, dtype)
    start = torch.tensor([[net.generation_config.decoder_start_token_id]], device=device)
    with torch.no_grad():
        logits = net(input_features=features, decoder_input_ids=start).logits[0, -1].float()
    ids = torch.tensor(list(lang_to_id.values()), device=device)
    probs = torch.softmax(logits[ids], dim=-1)
    best = int(torch.argmax(probs))
    token = list(lang_to_id)[best]  # '<|en|>'
    return token.strip("<|>"), float(probs[best])


def _transcribe_chunk(net: Any, processor: Any, chunk: Any, model: dict[str, Any], language: str | None,
                      p: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    import torch

    if len(chunk) < 1600:  # under 0.1 s: nothing to hear
        return "", []
    features = _features(processor, chunk, model["device"], model["dtype"])
    kwargs: dict[str, Any] = {"num_beams": p["beam_size"], "return_token_timestamps": p["word_timestamps"]}
    if not model["english_only"]:
        kwargs.update(language=language, task="transcribe")
    with torch.no_grad():
        out = net.generate(features, **kwargs)
    sequences = out["sequences"] if isinstance(out, dict) or hasattr(out, "keys") else out
    tokenizer = processor.tokenizer
    text = tokenizer.decode(sequences[0], skip_special_tokens=True).strip()
    if not p["word_timestamps"]:
        return text, []
    return text, _words(tokenizer, sequences[0].tolist(), out["token_timestamps"][0].tolist())


def _words(tokenizer: Any, tokens: list[int], times: list[float]) -> list[dict[str, Any]]:
    """Group timed tokens into words: a token that starts with a space starts a new word. Token i is said
    from times[i] to times[i + 1] (the alignment heads' jumps)."""
    special = set(tokenizer.all_special_ids)
    first_timestamp = tokenizer.convert_tokens_to_ids("<|notimestamps|>")
    words: list[dict[str, Any]] = []
    for index, token in enumerate(tokens):
        if token in special or token >= first_timestamp:
            continue
        piece = tokenizer.decode([token])
        start = times[index]
        end = times[index + 1] if index + 1 < len(times) else start
        if not words or piece.startswith(" ") or not piece.strip():
            if piece.strip():
                words.append({"start": float(start), "end": float(end), "word": piece.strip(), "probability": 1.0})
        else:
            words[-1]["word"] += piece
            words[-1]["end"] = float(end)
    return words
