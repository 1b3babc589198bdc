"""Speaker similarity (Amphion's `similarity`, "pairwith" mode): the cosine similarity of the speaker embeddings of
the generated clip and the clip of the voice it should have (a conversion's target, a TTS prompt, else the reference).

The studio's default encoder is Resemblyzer, because it works offline; Amphion's default is WavLM-SV
(`speaker_model=metric.wavlm_sv` or `wavlm`), which runs once its weights are downloaded, so numbers compare with
papers only with the same encoder. RawNet3 runs when the Amphion checkout is configured and its weights are
downloaded; WeSpeaker when its ONNX graph is downloaded.
"""
from __future__ import annotations

import numpy as np

from .base import Group, Item, Metric, MetricError, Options, Scorers

ENCODERS = ("metric.resemblyzer", "metric.wavlm_sv", "metric.rawnet3", "metric.wespeaker")
# Amphion's `--similarity_model` names (and the plain model names) for the engine ids above
ALIASES = {"resemblyzer": "metric.resemblyzer", "wavlm": "metric.wavlm_sv", "rawnet": "metric.rawnet3",
           "rawnet3": "metric.rawnet3", "wespeaker": "metric.wespeaker"}

SPEAKER_SIMILARITY = Metric("speaker_similarity", "Speaker similarity", "", "voice", True,
                            "Cosine similarity of speaker embeddings (1 = same voice; different voices score clearly "
                            "lower), against the voice the clip should have: a conversion's target, a TTS prompt, "
                            "else the reference. Encoder: Resemblyzer unless chosen (Amphion's default is WavLM-SV).",
                            amphion="similarity", min_seconds=1.6)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    if norm == 0:
        raise MetricError("a speaker embedding is all zeros (no speech found).")
    return float(np.dot(a, b) / norm)


def compute_similarity(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    encoder = ALIASES.get(options.speaker_model, options.speaker_model)
    if encoder not in ENCODERS:
        raise MetricError(f"unknown speaker model {options.speaker_model!r}; use one of {', '.join(ENCODERS)} "
                          f"(or {', '.join(ALIASES)}).")
    voice, generated = item.voice_pair()
    embeddings = [scorers.score(encoder, clip)["embedding"] for clip in (voice, generated)]
    return {"speaker_similarity": cosine(*embeddings)}


GROUPS = (Group("speaker", (SPEAKER_SIMILARITY,), compute_similarity),)
