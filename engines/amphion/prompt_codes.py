"""Reference encodings through the voice prompt cache (studio/prompt_cache.py): codes and features are kept as
numpy arrays on the CPU, which pickle small, and handed back as tensors on the model's device."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..contract import AudioInput, Request


def cached_tensors(request: Request, key_parts: Sequence[Any], compute: Callable[[], Sequence[Any]],
                   device: Any) -> tuple[Any, ...]:
    """The tensors `compute()` returns, through the cache under `key_parts`, on `device`."""
    import torch

    arrays = request.prompts.get_or_compute(
        key_parts, lambda: tuple(tensor.detach().cpu().numpy() for tensor in compute()))
    return tuple(torch.from_numpy(np.asarray(array)).to(device) for array in arrays)


class CachedEncodec:
    """An EnCodec model (or Amphion's AudioTokenizer around one) whose `encode` of the reference clip goes through
    the voice prompt cache; everything else is the wrapped object's. `encode` returns EnCodec's frames: a list of
    (codes [B, K, T], scale) pairs, and the 24 kHz model has one frame and no scale."""

    def __init__(self, codec: Any, request: Request, reference: AudioInput) -> None:
        self.codec, self.request, self.reference = codec, request, reference

    def encode(self, wav: Any) -> list[tuple[Any, None]]:
        def frames() -> tuple[Any, ...]:
            encoded = self.codec.encode(wav)
            if len(encoded) != 1 or encoded[0][1] is not None:
                raise RuntimeError("expected EnCodec 24 kHz: one frame, no scale")
            return (encoded[0][0],)

        (codes,) = cached_tensors(self.request, [self.reference, "EnCodec codes"], frames, wav.device)
        return [(codes, None)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.codec, name)


@contextmanager
def encodec_cached(owner: Any, attribute: str, request: Request, reference: AudioInput) -> Iterator[None]:
    """`owner.<attribute>` (an EnCodec model) encodes the reference through the cache inside this block."""
    codec = getattr(owner, attribute)
    setattr(owner, attribute, CachedEncodec(codec, request, reference))
    try:
        yield
    finally:
        setattr(owner, attribute, codec)
