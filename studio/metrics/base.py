"""What every metric family shares: the metric declarations, the clips an item compares, options, and the checks
that turn unusable input into a clear message instead of a meaningless number.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ..audio.io import read_audio, resample

# a reference clip / the generated clip alone / a transcript to compare with / a clip of the voice it should have
Needs = Literal["pair", "clip", "text", "voice"]

SILENCE_PEAK = 1e-4  # -80 dBFS: a clip whose peak stays below this holds nothing to measure
NEEDS_REFERENCE = "needs a reference clip to compare with."
NEEDS_VOICE = "needs a clip of the voice it should have (a reference or target voice) to compare with."
F0_SUBTRACT_MEDIAN_REMOVED = ("Option f0_subtract_median no longer exists: f0_rmse_cents is always in absolute cents, "
                              "and the median-subtracted value (Amphion's default f0rmse) is always reported as "
                              "f0_rmse_cents_median. Remove the option and read f0_rmse_cents_median instead.")


class MetricError(Exception):
    """This metric cannot be computed for this item; the message says why (and what to do, where there is a fix)."""


@dataclass(frozen=True)
class Metric:
    key: str  # the JSON key, e.g. "f0_rmse_cents"
    label: str
    unit: str  # "Hz", "cents", "dB", "" (a ratio or a score)
    needs: Needs
    higher_is_better: bool | None  # None: neither (loudness)
    description: str
    amphion: str | None = None  # Amphion's key in bins/calc_metrics.py, when it has this metric
    min_seconds: float = 0.0

    def format(self, value: float | None, unit: bool = True) -> str:
        if value is None or not np.isfinite(value):
            return "—" if value is None else str(value)
        digits = 1 if self.unit in ("Hz", "cents", "dB", "LUFS") else 3
        return f"{value:.{digits}f}" + (f" {self.unit}" if self.unit and unit else "")

    def format_stats(self, mean: float, std: float) -> str:
        return f"{self.format(mean, unit=False)} ± {self.format(std)}"


@dataclass(frozen=True)
class Options:
    """How the metrics are computed. The defaults are Amphion's (`bins/calc_metrics.py`) except two, chosen to run
    offline and keep each number's meaning plain: F0 cents are absolute (Amphion's --f0_subtract_mean defaults to True;
    its median-subtracted value is always reported too, as f0_rmse_cents_median), and the speaker encoder is
    Resemblyzer, which ships in its package (Amphion's default, WavLM-SV, is a 403 MB download: choose it here)."""

    sample_rate: int = 22_050  # analysis rate of the frame metrics (Amphion loads audio at librosa's 22.05 kHz)
    hop_length: int = 256  # samples per frame at `sample_rate`
    f0_method: Literal["parselmouth", "pyworld"] = "parselmouth"
    f0_min: float = 50.0
    f0_max: float = 1100.0
    align: Literal["dtw", "cut"] = "dtw"  # frames of clips of different lengths: DTW on MFCCs, or cut to the shorter
    energy_db: bool = True
    periodicity_model: Literal["auto", "full", "tiny"] = "auto"  # CREPE size; auto: full on CUDA, tiny on a CPU
    asr_engine: str = "builtin.whisper"
    asr_model: str = "tiny.en"
    language: str = "en"
    speaker_model: str = "metric.resemblyzer"  # offline; Amphion's default is WavLM-SV (metric.wavlm_sv, a download)
    fad_model: Literal["auto", "vggish", "clap"] = "auto"  # auto: VGGish (as Amphion) when downloaded, else CLAP

    CHOICES = {"f0_method": ("parselmouth", "pyworld"), "align": ("dtw", "cut"),
               "periodicity_model": ("auto", "full", "tiny"), "fad_model": ("auto", "vggish", "clap")}

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> Options:
        """Options from JSON-like values; InvalidOptions names the bad one and what is allowed."""
        values = dict(values or {})
        # removed: off asks for what f0_rmse_cents always is (and jobs queued before carry it); on is refused
        if _flag(values.pop("f0_subtract_median", False)):
            raise InvalidOptions(F0_SUBTRACT_MEDIAN_REMOVED)
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise InvalidOptions(f"Unknown option {', '.join(sorted(unknown))}; known: {', '.join(known)}.")
        checked: dict[str, Any] = {}
        for name, value in values.items():
            default = getattr(cls, name)
            try:
                if isinstance(default, bool):
                    value = _flag(value)
                elif isinstance(default, (int, float)):
                    value = type(default)(value)
                    if value <= 0:
                        raise ValueError(value)
                else:
                    value = str(value)
            except (TypeError, ValueError):
                raise InvalidOptions(f"Option {name}: {value!r} is not a valid {type(default).__name__}.") from None
            if name in cls.CHOICES and value not in cls.CHOICES[name]:
                raise InvalidOptions(f"Option {name}: {value!r} is not one of {', '.join(cls.CHOICES[name])}.")
            checked[name] = value
        if checked.get("f0_min", cls.f0_min) >= checked.get("f0_max", cls.f0_max):
            raise InvalidOptions("Option f0_min must be below f0_max.")
        return cls(**checked)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def hop_seconds(self) -> float:
        return self.hop_length / self.sample_rate


class InvalidOptions(ValueError):
    pass


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


@dataclass
class Clip:
    """One mono clip; `path` is its file (model-backed metrics read it)."""

    audio: np.ndarray
    sample_rate: int
    path: Path | None = None
    _resampled: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | Path) -> Clip:
        audio, sr = read_audio(path)
        return cls(audio, sr, Path(path))

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    @property
    def silent(self) -> bool:
        return not self.audio.size or float(np.max(np.abs(self.audio))) < SILENCE_PEAK

    def at(self, rate: int) -> np.ndarray:
        """The clip at `rate` (computed once per rate)."""
        if rate not in self._resampled:
            self._resampled[rate] = resample(self.audio, self.sample_rate, rate)
        return self._resampled[rate]


@dataclass
class Item:
    """What one row of an evaluation compares: the generated clip, and a reference clip and/or a text.

    `reference` has the generated clip's content (for a conversion, its source); `voice` is the clip whose speaker it
    should sound like, when that is another clip (a conversion's target voice, a TTS prompt). Without `voice`,
    speaker similarity compares with `reference`, unless `voice_problem` says why the voice given cannot be used."""

    name: str
    generated: Clip
    reference: Clip | None = None
    text: str | None = None
    voice: Clip | None = None
    notes: list[str] = field(default_factory=list)
    voice_problem: str | None = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Features several metrics share (resampled audio, the frame alignment) are computed once per item."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def pair(self) -> tuple[Clip, Clip]:
        if self.reference is None:
            raise MetricError(NEEDS_REFERENCE)
        return self.reference, self.generated

    def voice_pair(self) -> tuple[Clip, Clip]:
        """The clip of the voice to compare the generated clip's speaker with, and the generated clip."""
        if self.voice_problem:
            raise MetricError(self.voice_problem)
        voice = self.voice or self.reference
        if voice is None:
            raise MetricError(NEEDS_VOICE)
        return voice, self.generated

    def note_rates(self) -> None:
        """Say so when the clips compared sample by sample have different rates (each metric resamples both)."""
        if self.reference is not None and self.reference.sample_rate != self.generated.sample_rate:
            self.note(f"The clips have different sample rates ({self.reference.sample_rate} Hz reference, "
                      f"{self.generated.sample_rate} Hz generated); each metric resamples both to its own rate.")

    def pair_at(self, rate: int) -> tuple[np.ndarray, np.ndarray]:
        """Reference and generated at `rate`, cut to the same length (sample-level metrics need aligned samples)."""
        def compute() -> tuple[np.ndarray, np.ndarray]:
            reference, generated = self.pair()
            ref, gen = reference.at(rate), generated.at(rate)
            n = min(len(ref), len(gen))
            if abs(len(ref) - len(gen)) > 0.05 * rate:
                self.note(f"The clips differ in length ({reference.duration:.2f} s against {generated.duration:.2f} s): "
                          f"sample-level metrics (PESQ, STOI, SI-SDR, multi-resolution STFT) compare the first "
                          f"{n / rate:.2f} s; they only make sense for time-aligned audio such as a vocoder's output.")
            return ref[:n], gen[:n]
        return self.cached(("pair_at", rate), compute)


class Scorers(Protocol):
    """The models some metrics need (speech recognition, speaker encoders, MOS predictors), provided by the caller."""

    def transcribe(self, clip: Clip, options: Options) -> str: ...

    def score(self, engine_id: str, clip: Clip, params: dict[str, Any] | None = None) -> dict[str, Any]: ...


Compute = Callable[[Item, Options, Scorers], dict[str, float]]


@dataclass(frozen=True)
class Group:
    """Metrics computed together from shared features (e.g. every F0 metric from one pitch track per clip)."""

    name: str
    metrics: tuple[Metric, ...]
    compute: Compute

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.metrics)


def check_clip(clip: Clip, role: str, min_seconds: float = 0.0) -> None:
    """MetricError when `clip` holds nothing a metric can measure."""
    if not clip.audio.size:
        raise MetricError(f"the {role} clip is empty.")
    if clip.silent:
        raise MetricError(f"the {role} clip is silent (its peak stays below -80 dBFS).")
    if clip.duration < min_seconds:
        raise MetricError(f"needs at least {min_seconds:g} s of audio; the {role} clip lasts {clip.duration:.2f} s.")


def check_item(item: Item, metric_group: Group) -> None:
    """The checks every group shares, from what its metrics need."""
    min_seconds = max(m.min_seconds for m in metric_group.metrics)
    needs = {m.needs for m in metric_group.metrics}
    check_clip(item.generated, "generated", min_seconds)
    if "pair" in needs:
        check_clip(item.pair()[0], "reference", min_seconds)
    if "voice" in needs:
        check_clip(item.voice_pair()[0], "voice reference" if item.voice is not None else "reference", min_seconds)
    if "text" in needs and not (item.text or "").strip() and item.reference is None:
        raise MetricError("needs the text that was spoken, or a reference clip to transcribe.")


def finite(value: float, what: str) -> float:
    value = float(value)
    if not np.isfinite(value):
        raise MetricError(f"{what} is undefined for this input (constant or silent frames).")
    return value
