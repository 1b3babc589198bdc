"""The clips a Vevo or Vevo1.5 run reads, as the models take them.

Every clip goes through the studio's reader (engines/conversion_input.py): any format, channel count and rate
comes in as mono 24 kHz, a silent clip is refused in words, and what the reading did (a mix-down, a narrow
band) becomes a note on the result. A long source is converted in pieces by conversion_input.convert_in_pieces.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..contract import AudioInput
from ..conversion_input import NO_VOICE_IN_IT, NO_VOICE_TO_CONVERT, SourceAudio
from .vevo_common import SAMPLE_RATE

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


def clip_of(speech: np.ndarray, device: Any) -> Clip:
    import torch
    import torchaudio

    at_24k = torch.from_numpy(np.ascontiguousarray(speech, dtype=np.float32)).unsqueeze(0).to(device)
    return Clip(speech, at_24k, torchaudio.functional.resample(at_24k, SAMPLE_RATE, 16_000))


def read_24k(audio: AudioInput, what: str, notes: list[str], lacking: str = NO_VOICE_TO_CONVERT) -> SourceAudio:
    """`audio` read as mono 24 kHz (silence refused: `what` names it, `lacking` says what it leaves out), adding
    what the reading did to `notes`."""
    from ..conversion_input import read_source

    source = read_source(audio.path, SAMPLE_RATE, what, lacking)
    notes.extend(source.notes)
    return source


def read_clip(audio: AudioInput, device: Any, what: str, notes: list[str], lacking: str = NO_VOICE_IN_IT) -> Clip:
    """`audio` as read_24k reads it (a reference unless `lacking` says otherwise), with its tensors on `device`."""
    return clip_of(read_24k(audio, what, notes, lacking).audio, device)


def fit_frames(cond: Any, frames: int) -> Any:
    """Trim a condition [1, T, D] to `frames`, or pad it with its last frame (as the Vevo1.5 pipeline does)."""
    import torch

    if cond.shape[1] >= frames:
        return cond[:, :frames]
    return torch.cat([cond, cond[:, -1:].repeat(1, frames - cond.shape[1], 1)], dim=1)


def mel_frames(clip: Clip) -> int:
    """The 50 Hz mel frames that cover a clip."""
    return -(-len(clip.speech) // MEL_HOP)
