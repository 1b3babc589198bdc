"""The clips a Vevo or Vevo1.5 run reads, and a long source cut into the pieces a model converts one by one.

Every clip goes through the studio's reader (engines/conversion_input.py): any format, channel count and rate
comes in as mono 24 kHz, a silent clip is refused in words, and what the reading did (a mix-down, a narrow
band) becomes a note on the result. A source longer than a model reads at once is cut at its quietest moments,
converted piece by piece (each piece a point where the job can be cancelled) and joined with a short cross-fade;
each piece after the first starts a cross-fade early, so that the joined result keeps the source's timing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..contract import AudioInput, Progress
from .vevo_common import SAMPLE_RATE

LONGEST_SOURCE_SECONDS = 20 * 60.0  # the longest source a conversion takes, in however many pieces
SEAM_SECONDS = 0.02  # the cross-fade between two converted pieces
MEL_HOP = 480  # 24 kHz samples per mel frame of both families' acoustic models


@dataclass(frozen=True)
class Clip:
    """A clip as the pipelines' load_wav gives it: samples at 24 kHz, and [1, N] tensors at 24 and 16 kHz."""

    speech: np.ndarray
    at_24k: Any
    at_16k: Any

    @property
    def seconds(self) -> float:
        return len(self.speech) / SAMPLE_RATE

    def piece(self, part: slice) -> Clip:
        return clip_of(self.speech[part], self.at_24k.device)


def clip_of(speech: np.ndarray, device: Any) -> Clip:
    import torch
    import torchaudio

    at_24k = torch.from_numpy(np.ascontiguousarray(speech, dtype=np.float32)).unsqueeze(0).to(device)
    return Clip(speech, at_24k, torchaudio.functional.resample(at_24k, SAMPLE_RATE, 16_000))


def read_clip(audio: AudioInput, device: Any, what: str, notes: list[str]) -> Clip:
    """`audio` read as mono 24 kHz (silence refused: `what` names it), adding what the reading did to `notes`."""
    from ..conversion_input import read_source

    source = read_source(audio.path, SAMPLE_RATE, what)
    notes.extend(source.notes)
    return clip_of(source.audio, device)


def with_notes(extras: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """A result's extras with the reading's notes, when there are any."""
    return {**extras, "notes": notes} if notes else extras


def source_pieces(speech: np.ndarray, shortest: float, longest: float) -> list[slice]:
    """The whole 24 kHz source when it is at most `longest` seconds, else pieces cut at quiet moments, each after
    the first reaching back over the cross-fade of its seam."""
    from ..conversion_input import pauses

    cuts = pauses(speech, SAMPLE_RATE, longest, shortest)
    seam = int(SEAM_SECONDS * SAMPLE_RATE)
    return cuts[:1] + [slice(cut.start - seam, cut.stop) for cut in cuts[1:]]


def piece_progress(progress: Progress, index: int, count: int) -> Progress:
    """The share of `progress` for piece `index` of `count`, its stages headed "Part i of n" when there are several."""
    return progress.span(index / count, (index + 1) / count, f"Part {index + 1} of {count}" if count > 1 else "")


def fit_frames(cond: Any, frames: int) -> Any:
    """Trim a condition [1, T, D] to `frames`, or pad it with its last frame (as the Vevo1.5 pipeline does)."""
    import torch

    if cond.shape[1] >= frames:
        return cond[:, :frames]
    return torch.cat([cond, cond[:, -1:].repeat(1, frames - cond.shape[1], 1)], dim=1)


def mel_frames(clip: Clip) -> int:
    """The 50 Hz mel frames that cover a clip."""
    return -(-len(clip.speech) // MEL_HOP)


def join_pieces(audio: list[np.ndarray]) -> np.ndarray:
    """The converted pieces as one clip, each seam cross-faded."""
    from studio.audio.io import crossfade_join

    return crossfade_join(audio, SAMPLE_RATE, SEAM_SECONDS) if len(audio) > 1 else audio[0]
