"""Every evaluation metric, one module per family, computed per item with a clear message for what cannot be.

`score_item(item, keys, options, scorers)` runs the selected metrics on one item: a metric that does not apply
or fails gets a message for that item and never stops the others. Keys and units follow Amphion's
`bins/calc_metrics.py` (`Metric.amphion` names Amphion's key, which `select` accepts too), so numbers compare with
papers.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from engines.contract import AudioInput, Cancelled, Engine, EngineError, Progress
from engines.registry import Registry

from . import energy, f0, intelligibility, quality, speaker, spectral
from .base import Clip, Group, InvalidOptions, Item, Metric, MetricError, Options, Scorers, check_item

log = logging.getLogger(__name__)

GROUPS: tuple[Group, ...] = (*f0.GROUPS, *energy.GROUPS, *intelligibility.GROUPS, *speaker.GROUPS,
                             *spectral.GROUPS, *quality.GROUPS)
SET_METRICS: tuple[Metric, ...] = spectral.SET_METRICS
METRICS: dict[str, Metric] = {m.key: m for g in GROUPS for m in g.metrics} | {m.key: m for m in SET_METRICS}
FAMILIES: dict[str, tuple[str, ...]] = {
    "F0": ("f0_rmse_hz", "f0_rmse_cents", "f0_rmse_cents_median", "fpc", "v_uv_f1", "f0_periodicity_rmse"),
    "Energy": ("energy_rmse", "energy_pc"),
    "Intelligibility": ("wer", "cer"),
    "Speaker": ("speaker_similarity",),
    "Spectral": ("mcd", "mstft", "pesq", "pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr", "si_snr", "fad"),
    "Quality (no reference)": ("distillmos", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808",
                               "loudness_lufs", "snr_db"),
}
# Amphion's keys that are not the studio's: each selects the metrics it stands for (f0rmse is Hz or, by default,
# median-subtracted cents in Amphion)
AMPHION_NAMES: dict[str, list[str]] = {
    name: [m.key for m in METRICS.values() if m.amphion == name]
    for name in sorted({m.amphion for m in METRICS.values() if m.amphion} - set(METRICS))}
# Metrics whose value for a set comes from counts summed over its items (Amphion pools V/UV counts over files):
# the counts each item keeps beside its value, and the value of the sums
POOLED: dict[str, tuple[tuple[str, ...], Callable[..., float]]] = {"v_uv_f1": (f0.V_UV_COUNTS, f0.voicing_f1)}
__all__ = ["AMPHION_NAMES", "FAMILIES", "GROUPS", "METRICS", "POOLED", "Clip", "EngineScorers", "InvalidOptions",
           "Item", "ItemScores", "Metric", "MetricError", "Options", "Scorers", "applicable", "pooled", "score_item",
           "select"]


@dataclass
class ItemScores:
    values: dict[str, float] = field(default_factory=dict)  # metric key -> value, and the counts POOLED names
    errors: dict[str, str] = field(default_factory=dict)  # metric key -> why it has no value for this item


def select(keys: Iterable[str] | None) -> list[str]:
    """The metric keys asked for (all when None), checked; Amphion's names select theirs. ValueError lists the known
    ones."""
    if keys is None:
        return list(METRICS)
    chosen = [k.strip() for k in keys if k.strip()]
    unknown = [k for k in chosen if k not in METRICS and k not in AMPHION_NAMES]
    if unknown:
        raise ValueError(f"Unknown metric {', '.join(unknown)}. Known metrics: {', '.join(METRICS)}; Amphion's names "
                         f"{', '.join(AMPHION_NAMES)} work too.")
    if not chosen:
        raise ValueError("Pick at least one metric.")
    return list(dict.fromkeys(key for k in chosen for key in AMPHION_NAMES.get(k, [k])))


def applicable(keys: Iterable[str], has_reference: bool, has_text: bool, has_voice: bool) -> list[str]:
    """The keys that can apply to items with (or without) a reference clip, a text and a clip of the voice."""
    def fits(metric: Metric) -> bool:
        return {"pair": has_reference, "clip": True, "text": has_reference or has_text,
                "voice": has_reference or has_voice}[metric.needs]
    return [k for k in keys if fits(METRICS[k])]


def pooled(key: str, values: Iterable[dict[str, float]]) -> float | None:
    """A set's value of a POOLED metric from its items' values (those that kept the counts), else None."""
    if key not in POOLED:
        return None
    names, compute = POOLED[key]
    counted = [v for v in values if all(n in v for n in names)]
    return compute(*(sum(v[n] for v in counted) for n in names)) if counted else None


def score_item(item: Item, keys: Iterable[str], options: Options, scorers: Scorers,
               progress: Callable[[float], None] | None = None) -> ItemScores:
    """The selected per-item metrics for `item`; each group that fails leaves a message for its keys."""
    wanted = set(keys)
    scores = ItemScores()
    item.note_rates()
    groups = [g for g in GROUPS if wanted & set(g.keys)]
    for n, group in enumerate(groups):
        chosen = [k for k in group.keys if k in wanted]
        try:
            check_item(item, group)
            values = group.compute(item, options, scorers)
            scores.values.update({k: float(values[k]) for k in chosen})
            scores.values.update({c: float(values[c]) for k in chosen if k in POOLED for c in POOLED[k][0]})
        except Cancelled:
            raise
        except (MetricError, EngineError) as exc:  # EngineError: a model refused the input, worded for the user
            scores.errors.update({k: str(exc) for k in chosen})
        except Exception as exc:  # a bug or a library failure must not end the set: say what failed, log the rest
            log.warning("metric group %s failed on %s", group.name, item.name, exc_info=True)
            scores.errors.update({k: f"failed: {type(exc).__name__}: {str(exc)[:200]}" for k in chosen})
        if progress:
            progress((n + 1) / len(groups))
    return scores


UseModel = Callable[[Engine, dict[str, Any], Progress], AbstractContextManager[Any]]


class EngineScorers:
    """Scorers backed by engines of task 'metric' (loaded through `use`, e.g. the model manager's) and an ASR call."""

    def __init__(self, registry: Registry, use: UseModel, transcribe: Callable[..., Any],
                 progress: Progress | None = None) -> None:
        self.registry = registry
        self.use = use
        self._transcribe = transcribe
        self.progress = progress or Progress()

    def score(self, engine_id: str, clip: Clip, params: dict[str, Any] | None = None) -> dict[str, Any]:
        engine = self.registry.get(engine_id)
        readiness = engine.check()
        if not readiness.ready:
            hints = " ".join(readiness.hints)
            raise MetricError(f"{engine.name} is not ready: {readiness.message}" + (f" To fix: {hints}" if hints else ""))
        if clip.path is None:
            raise MetricError(f"{engine.name} reads a file, and this clip has none.")
        request = engine.validate({"audio": AudioInput(str(clip.path))}, params or {})
        with self.use(engine, request.params, self.progress.span(0, 0)) as model:
            return engine.run(model, request, Progress(is_cancelled=lambda: self.progress.cancelled)).extras

    def transcribe(self, clip: Clip, options: Options) -> str:
        if clip.path is None:
            raise MetricError("speech recognition reads a file, and this clip has none.")
        params = {"model": options.asr_model, "language": options.language} if options.asr_engine == "builtin.whisper" \
            else {}
        return str(self._transcribe(clip.path, options.asr_engine, params).text)
