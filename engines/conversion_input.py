"""What conversion engines check and note about the audio they are given (any format, rate and channel count)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .contract import EngineError, Progress

SILENCE_DBFS = -70.0  # a clip whose loudest sample is below this holds nothing to convert
NO_VOICE_TO_CONVERT = "there is no voice to convert"  # what a silent source lacks
NO_VOICE_IN_IT = "there is no voice in it"  # what a silent reference lacks (a voice to imitate, to pick out)
LONGEST_SOURCE_SECONDS = 20 * 60.0  # what an engine that converts in pieces accepts: twenty minutes
JOIN_SECONDS = 0.05  # the cross-fade between two converted pieces


def refuse_silence(audio: np.ndarray, what: str, lacking: str = NO_VOICE_TO_CONVERT) -> None:
    """EngineError when `audio` is silent, saying so in words: `what` is, so `lacking`."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 10 ** (SILENCE_DBFS / 20):
        level = f"{20 * np.log10(peak):.0f} dBFS" if peak > 0 else "digital silence"
        raise EngineError(f"{what} is silent (its loudest moment is {level}): {lacking}. "
                          f"Check the recording level, or pick another clip.")


@dataclass
class SourceAudio:
    """A clip read as mono at the rate a model works at, with what the reading did to it."""

    audio: np.ndarray
    sample_rate: int
    original_rate: int
    channels: int
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def read_source(path: str | Path, sample_rate: int, what: str = "The source audio",
                lacking: str = NO_VOICE_TO_CONVERT) -> SourceAudio:
    """`path` as mono float32 at `sample_rate`; refuses silence (`lacking` says what it leaves out); notes a channel
    mix-down and a narrow band."""
    from studio.audio.io import read_audio, resample, to_mono

    audio, rate = read_audio(path, mono=False)
    channels = 1 if audio.ndim == 1 else int(audio.shape[0])
    audio = to_mono(audio) if channels > 1 else audio.reshape(-1)
    refuse_silence(audio, what, lacking)
    notes = []
    if channels > 1:
        notes.append(f"{what} has {channels} channels; they were mixed to one.")
    if rate < sample_rate:
        notes.append(f"{what} is {rate / 1000:g} kHz; it was converted at {sample_rate / 1000:g} kHz, so nothing "
                     f"above {rate / 2000:g} kHz of it was there to convert.")
    if rate != sample_rate:
        audio = resample(audio, rate, sample_rate)
    return SourceAudio(np.ascontiguousarray(audio, dtype=np.float32), sample_rate, rate, channels, notes)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """`audio` cut or padded with silence to `length` samples (a conversion keeps its source's duration)."""
    if len(audio) >= length:
        return audio[:length]
    return np.pad(audio, (0, length - len(audio)))


def pauses(audio: np.ndarray, rate: int, longest: float, shortest: float) -> list[slice]:
    """`audio` cut into pieces of at most `longest` seconds (one piece when it is no longer), each cut at the
    quietest 20 ms between `shortest` and `longest` seconds into the piece; the last piece is at least a second."""
    frame = rate // 50
    frames = len(audio) // frame
    levels = np.append(np.sqrt(np.mean(audio[:frames * frame].reshape(frames, frame) ** 2, axis=1)), 0.0)
    cuts, start = [], 0
    while len(audio) - start > longest * rate:
        low, high = (start + int(shortest * rate)) // frame, (start + int(longest * rate)) // frame
        high = min(high, (len(audio) - rate) // frame)  # leave at least a second for the last piece
        low = min(low, high - 1)
        cut = (low + int(np.argmin(levels[low:high]))) * frame
        cuts.append(slice(start, cut))
        start = cut
    return cuts + [slice(start, len(audio))]


def with_notes(extras: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """A result's extras with the notes on how its inputs were read, when there are any."""
    return {**extras, "notes": notes} if notes else extras


def convert_in_pieces(source: SourceAudio, out_rate: int, convert: Callable[[np.ndarray, Progress], np.ndarray],
                      progress: Progress, piece_seconds: tuple[float, float],
                      keep_timing: bool = True) -> tuple[np.ndarray, int]:
    """`convert` run on each piece of `source` (pieces of `piece_seconds` = (shortest, longest) cut in its pauses;
    one piece when it is short enough), the results cross-faded into one clip at `out_rate`; and how many pieces
    there were. Progress per piece. With `keep_timing` each result is fitted to its piece's length and the clip
    has the source's duration; without, a model that sets its own pace (an AR one) keeps the lengths it made."""
    from studio.audio.io import crossfade_join

    shortest, longest = piece_seconds
    cuts = pauses(source.audio, source.sample_rate, longest, shortest)
    overlap = int(JOIN_SECONDS * source.sample_rate)  # each piece runs on into the next by the cross-fade
    outputs = []
    for i, cut in enumerate(cuts):
        label = f"Part {i + 1} of {len(cuts)}" if len(cuts) > 1 else ""
        stop = cut.stop + overlap if i < len(cuts) - 1 else cut.stop
        converted = convert(source.audio[cut.start:stop], progress.span(i / len(cuts), (i + 1) / len(cuts), label))
        outputs.append(fit_length(converted, round((stop - cut.start) * out_rate / source.sample_rate))
                       if keep_timing else converted)
    joined = crossfade_join(outputs, out_rate, JOIN_SECONDS)
    return (fit_length(joined, round(source.seconds * out_rate)) if keep_timing else joined), len(cuts)
