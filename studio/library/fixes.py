"""One-click fixes for a reference sample. Each takes audio (and its timed words) and returns new audio with
the words that now belong to it; the library stores the result as a new version of the sample.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.contract import InvalidRequest

from ..audio import quality
from .doctor import TARGET_LUFS

EDGE_MARGIN = 0.15  # seconds of silence kept around the speech when trimming
Words = list[dict[str, Any]]


@dataclass(frozen=True)
class Fixed:
    audio: np.ndarray
    words: Words | None  # the timed words shifted onto the new audio (None: unknown)
    transcript: str | None  # the new transcript when the fix changed it, else None (keep the old one)
    description: str


def trim_silence(audio: np.ndarray, sr: int, words: Words | None, **_: Any) -> Fixed:
    segments = quality.speech_segments(audio, sr)
    if not segments:
        raise InvalidRequest("No speech was found, so there is nothing to trim to.")
    start = max(0.0, segments[0].start - EDGE_MARGIN)
    end = min(len(audio) / sr, segments[-1].end + EDGE_MARGIN)
    cut = audio[int(start * sr):int(end * sr)]
    return Fixed(cut, _shift(words, start, end), None,
                 f"trimmed {start:.2f} s of silence before and {len(audio) / sr - end:.2f} s after")


def normalise(audio: np.ndarray, sr: int, words: Words | None, target_lufs: float = TARGET_LUFS,
              **_: Any) -> Fixed:
    if not -40 <= target_lufs <= -8:
        raise InvalidRequest("Target loudness: use a value from -40 to -8 LUFS.")
    before = quality.loudness_lufs(audio, sr)
    if not np.isfinite(before):
        raise InvalidRequest("The clip is silent (or under 0.4 s), so its loudness cannot be set.")
    louder = quality.normalise_loudness(audio, sr, target_lufs)
    after = quality.loudness_lufs(louder, sr)
    held = "" if after >= target_lufs - 0.5 else " (held lower so the peaks do not clip)"
    return Fixed(louder, words, None, f"loudness {before:.1f} → {after:.1f} LUFS{held}")


def denoise(audio: np.ndarray, sr: int, words: Words | None, progress: Callable[[float], None] | None = None,
            **_: Any) -> Fixed:
    from ..audio.denoise import denoise as deepfilter

    return Fixed(deepfilter(audio, sr, progress=progress), words, None, "denoised with DeepFilterNet3")


def best_window(audio: np.ndarray, sr: int, words: Words | None, seconds: float = 10.0, **_: Any) -> Fixed:
    """The stretch of at most `seconds` with the most speech, cut between words; the transcript cut to match."""
    if not words:
        raise InvalidRequest("The best window needs timed words: transcribe the sample first.")
    if not 2 <= seconds <= 60:
        raise InvalidRequest("Window length: use 2 to 60 seconds.")
    duration = len(audio) / sr
    clipped = np.abs(audio) >= 0.999
    best: tuple[float, int, int] | None = None
    for i in range(len(words)):
        j = i
        while j + 1 < len(words) and _bounds(words, i, j + 1, duration)[1] - _bounds(words, i, j + 1, duration)[0] \
                <= seconds:
            j += 1
        start, end = _bounds(words, i, j, duration)
        if end - start > seconds:
            continue  # one word longer than the window
        speech = sum(w["end"] - w["start"] for w in words[i:j + 1])
        penalty = float(np.mean(clipped[int(start * sr):int(end * sr)])) * 100 if end > start else 0.0
        score = speech - penalty
        if best is None or score > best[0]:
            best = (score, i, j)
    if best is None:
        raise InvalidRequest(f"No stretch of {seconds:g} s holds a whole word; choose a longer window.")
    _, i, j = best
    start, end = _bounds(words, i, j, duration)
    chosen = words[i:j + 1]
    transcript = " ".join(w["word"].strip() for w in chosen).strip()
    return Fixed(audio[int(start * sr):int(end * sr)], _shift(chosen, start, end), transcript,
                 f"best {end - start:.1f} s window ({start:.1f}-{end:.1f} s of the original)")


def _bounds(words: Words, i: int, j: int, duration: float) -> tuple[float, float]:
    """Where to cut around words i..j: in the middle of the pauses next to them, at most EDGE_MARGIN away."""
    start = words[i]["start"]
    before = words[i - 1]["end"] if i > 0 else 0.0
    start = max(before + (start - before) / 2, start - EDGE_MARGIN, 0.0)
    end = words[j]["end"]
    after = words[j + 1]["start"] if j + 1 < len(words) else duration
    end = min(end + (after - end) / 2, end + EDGE_MARGIN, duration)
    return start, end


def _shift(words: Words | None, start: float, end: float) -> Words | None:
    if words is None:
        return None
    return [{**w, "start": round(max(w["start"] - start, 0.0), 3), "end": round(min(w["end"], end) - start, 3)}
            for w in words if w["end"] > start and w["start"] < end]


FIXES: dict[str, tuple[str, Callable[..., Fixed]]] = {
    "trim": ("Trim silence", trim_silence),
    "normalise": ("Normalise loudness", normalise),
    "denoise": ("Denoise", denoise),
    "best_window": ("Cut the best window", best_window),
}
