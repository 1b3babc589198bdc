"""The engine contract: what every model, Amphion or not, declares and implements.

An engine is a small class with declarative metadata (inputs, params, weights, requirements) and two methods,
`load(device, progress)` and `run(model, request, progress)`. Importing an engine module must stay cheap:
heavy imports (torch, onnxruntime, Amphion) happen inside `load` and `run`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Literal, Protocol, Sequence, TypeVar

import numpy as np

from .requirements import Readiness, Requirements, check_requirements


class EngineError(Exception):
    """A failure whose message is written for the user: what went wrong and what to do."""


class InvalidRequest(EngineError):
    """The request does not fit the engine's declared inputs or params."""


class TooLarge(InvalidRequest):
    """The request is bigger than the engine takes at once (longer text than its limit)."""


class Cancelled(Exception):
    """Raised by Progress when the user cancelled the job."""


ParamKind = Literal["float", "int", "bool", "choice", "text", "seed"]


@dataclass(frozen=True)
class Param:
    """One user-facing control. Values and ranges are the model's own."""

    name: str
    kind: ParamKind
    default: Any
    label: str = ""
    help: str = ""
    min: float | None = None
    max: float | None = None
    step: float | None = None
    unit: str = ""
    advanced: bool = False
    choices: tuple[tuple[Any, str], ...] = ()  # (value, label)
    affects_load: bool = False  # the value selects which weights are loaded (e.g. a voice file)

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def coerce(self, value: Any) -> Any:
        """The value in this param's type, or InvalidRequest with a message naming the param and its range."""
        if value is None:
            return self.default
        try:
            if self.kind == "bool":
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(value)
                    return value.lower() in ("true", "1", "yes")
                return bool(value)
            if self.kind == "choice":
                allowed = [c[0] for c in self.choices]
                if value not in allowed:
                    raise InvalidRequest(f"{self.title}: {value!r} is not one of {', '.join(map(str, allowed))}.")
                return value
            if self.kind == "text":
                return str(value)
            if self.kind in ("int", "seed"):
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                number: float = int(value)
            else:
                number = float(value)
                if not math.isfinite(number):
                    raise ValueError(value)
        except InvalidRequest:
            raise
        except (TypeError, ValueError):
            kind = {"int": "a whole number", "seed": "a whole number", "float": "a number", "bool": "true or false"}
            raise InvalidRequest(f"{self.title}: {value!r} is not {kind.get(self.kind, 'valid')}.") from None
        if self.kind == "seed":
            if number < -1 or number > 2**32 - 1:
                raise InvalidRequest(f"{self.title}: {number} is outside 0 to {2**32 - 1} (or -1 for random).")
            return number
        if (self.min is not None and number < self.min) or (self.max is not None and number > self.max):
            raise InvalidRequest(f"{self.title}: {self.format(number)} is outside "
                                 f"{self.format(self.min)} to {self.format(self.max)}.")
        return number

    def format(self, value: Any) -> str:
        """A value with its unit, as the page shows it: '1.5x', '25 steps', '0.75'."""
        if value is None:
            return "none"
        text = f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
        if not self.unit:
            return text
        return f"{text}{self.unit}" if self.unit in ("x", "%") else f"{text} {self.unit}"


SlotKind = Literal["text", "audio"]
# What a result keeps of an audio input: its content (words, melody, timing), its voice (timbre), its style.
# Evaluation compares a result with the input that gave its content, and its speaker with the one that gave its voice.
Aspect = Literal["content", "voice", "style"]


@dataclass(frozen=True)
class InputSlot:
    """A slot a request fills: the text to speak, a reference clip with its transcript, a source clip, ..."""

    name: str
    kind: SlotKind
    label: str
    required: bool = True
    help: str = ""
    max_chars: int | None = None  # text
    chunk_chars: int | None = None  # text: longer text is spoken in chunks of about this size, cross-faded
    min_seconds: float | None = None  # audio
    max_seconds: float | None = None  # audio
    sweet_spot: tuple[float, float] | None = None  # audio: the duration range the model likes best
    needs_transcript: bool = False  # audio
    carries: tuple[Aspect, ...] = ()  # audio: what the result keeps of this clip (declared by generating engines)
    transcript_optional_with: str = ""  # audio that needs a transcript: a bool param that, when on, lifts the need

    def transcript_needed(self, params: dict[str, Any] | None = None) -> bool:
        """Whether a clip in this slot needs its transcript with these params (without params: whatever they are)."""
        if not self.needs_transcript:
            return False
        if not self.transcript_optional_with:
            return True
        return params is not None and not params.get(self.transcript_optional_with)

    def check_text(self, value: Any) -> str:
        """The text without control characters and outer space; InvalidRequest when none is left or it is too long."""
        text = without_control_characters("" if value is None else str(value))
        if not text.strip():
            raise InvalidRequest(f"{self.label}: enter some text first.")
        if self.max_chars is not None and len(text) > self.max_chars:
            raise TooLarge(
                f"{self.label}: {len(text):,} characters is more than this engine takes at once "
                f"({self.max_chars:,}). Split the text into parts of at most {self.max_chars:,} characters.")
        return text.strip()


# Line breaks other than line feed: carriage return (alone or before a line feed), vertical tab, form feed and
# next line (U+0085)
LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85]")
# Unicode's control characters (category Cc: C0 and C1) but line feed and tab, and lone surrogates (Cs)
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def without_control_characters(text: str) -> str:
    """`text` without control characters (NUL, escapes, lone surrogates); every line break becomes a line feed, and
    tabs stay."""
    return CONTROL_CHARACTERS.sub("", LINE_BREAKS.sub("\n", text))


def transcript_of(value: Any) -> str:
    """The transcript given with an audio input (a resolved reference or an AudioInput); "" when there is none."""
    text = value.get("transcript") if isinstance(value, dict) else getattr(value, "transcript", None)
    return (text or "").strip()


@dataclass(frozen=True)
class AudioInput:
    """An audio file given to a slot; engines read `path` (a normalised mono copy when it came from the library)."""

    path: str
    transcript: str | None = None


@dataclass(frozen=True)
class Weights:
    """Where an engine's checkpoints come from: a hub repository, a URL, a package, or the user.

    The weight manager (studio/weights.py) downloads, finds and deletes them. `when` limits a set to the
    param values that need it (a voice, a model size); an empty `when` means the engine always needs it.
    """

    source: Literal["hub", "package", "user", "url"]
    repo_id: str = ""
    files: tuple[str, ...] = ()  # exact files or glob patterns; empty means the whole repository
    size_bytes: int = 0
    license: str = ""
    note: str = ""  # e.g. "extra pretrained model: speech features"
    label: str = ""  # what the Models page calls it, e.g. "Whisper small"
    revision: str = "main"
    url: str = ""  # source "url": the file to fetch
    path: str = ""  # source "url": where it lands, relative to the `cache` folder, in the fetching library's layout
    cache: Literal["torch", "whisper", "nltk"] = "torch"  # source "url": TORCH_HOME (torch.hub), openai-whisper's
    # cache or NLTK's data folder
    when: tuple[tuple[str, Any], ...] = ()  # (param, value) pairs that need this set

    @property
    def title(self) -> str:
        return self.label or self.repo_id or self.path or self.note or self.source

    @property
    def downloadable(self) -> bool:
        return self.source in ("hub", "url")

    def needed_for(self, params: dict[str, Any]) -> bool:
        return all(params.get(name) == value for name, value in self.when)


T = TypeVar("T")


class PromptStore(Protocol):
    """Where an engine keeps what it computes from reference audio (speaker embedding, semantic tokens, codes).

    `request.prompts.get_or_compute([reference], lambda: encode(model, reference))` returns the cached value
    when the same engine already encoded the same audio (by content) with the same transcript, else computes
    and keeps it. Key parts may be AudioInput, paths (hashed by content) and plain values.
    """

    def get_or_compute(self, key_parts: Sequence[Any], compute: Callable[[], T]) -> T: ...


class NoPromptCache:
    """The store a request has outside the studio (tests, scripts): always computes."""

    def get_or_compute(self, key_parts: Sequence[Any], compute: Callable[[], T]) -> T:
        return compute()


@dataclass
class Request:
    """What a job asks of an engine: filled input slots, validated params, and the store for voice prompts."""

    inputs: dict[str, Any]
    params: dict[str, Any]
    prompts: PromptStore = field(default_factory=NoPromptCache, repr=False)


@dataclass
class Result:
    """Audio (float32, mono 1-D or channels-first 2-D) at `sample_rate`, plus anything else the model gives.

    Engines whose output is not audio (transcription) return `audio=None` and put their output in `extras`.
    """

    audio: np.ndarray | None
    sample_rate: int
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return 0.0 if self.audio is None else self.audio.shape[-1] / self.sample_rate


class Progress:
    """Reports `(fraction, stage)` and is the engine's cancellation point.

    Calling it raises Cancelled once the user cancelled. `span(start, end)` gives a child that maps its own
    0..1 onto part of this one, so a stage can report without knowing where it sits in the whole job.
    """

    def __init__(self, report: Callable[[float | None, str], None] | None = None,
                 is_cancelled: Callable[[], bool] | None = None, start: float = 0.0, end: float = 1.0) -> None:
        self._report = report or (lambda fraction, stage: None)
        self._is_cancelled = is_cancelled or (lambda: False)
        self._start, self._end = start, end

    @property
    def cancelled(self) -> bool:
        return self._is_cancelled()

    def check(self) -> None:
        if self._is_cancelled():
            raise Cancelled()

    def __call__(self, fraction: float | None = None, stage: str = "") -> None:
        self.check()
        mapped = None if fraction is None else self._start + (self._end - self._start) * min(max(fraction, 0.0), 1.0)
        self._report(mapped, stage)

    def span(self, start: float, end: float, label: str = "") -> Progress:
        """A child covering `start`..`end` of this one; its stages are prefixed with `label` when given."""
        width = self._end - self._start
        report = self._report if not label else (lambda f, s: self._report(f, f"{label} · {s}" if s else label))
        return Progress(report, self._is_cancelled, self._start + width * start, self._start + width * end)


Task = Literal["tts", "vc", "svc", "tta", "codec", "vocoder", "asr", "enhance", "metric", "test"]

TASK_TITLES: dict[str, str] = {
    "tts": "Speech synthesis", "vc": "Voice conversion", "svc": "Singing voice conversion",
    "tta": "Text to audio", "codec": "Codec", "vocoder": "Vocoder", "asr": "Transcription",
    "enhance": "Enhancement", "metric": "Evaluation models", "test": "Test",
}


class Engine:
    """Base class of every engine. Subclasses set the class attributes and implement load and run.

    Engines keep no state between calls: the loaded model lives in the model manager. An instance only
    carries its context (settings such as the Amphion checkout), so creating one is free.
    """

    id: ClassVar[str] = ""
    name: ClassVar[str] = ""
    task: ClassVar[Task]
    family: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    languages: ClassVar[tuple[str, ...]] = ()
    sample_rate: ClassVar[int] = 0  # of the output; 0 when it follows the input (DSP converters)
    license: ClassVar[str] = ""
    memory_mb: ClassVar[int] = 0  # estimate before the first load; the manager measures the real footprint
    inputs: ClassVar[tuple[InputSlot, ...]] = ()
    params: ClassVar[tuple[Param, ...]] = ()
    weights: ClassVar[tuple[Weights, ...]] = ()
    requirements: ClassVar[Requirements] = Requirements()
    prompt_version: ClassVar[str] = "1"  # bump when what the engine caches in request.prompts changes

    def __init__(self, context: Any = None) -> None:
        self.context = context

    # -- declarations turned into behaviour ------------------------------------------------------------------

    def check(self) -> Readiness:
        """Whether the engine can run here with its default params, and if not, exactly what is missing."""
        readiness = check_requirements(self.requirements, self.context)
        if not readiness.ready:
            return readiness
        from engines.weights import weights_readiness

        return weights_readiness(self, self.weights_for(self.defaults()))

    def weights_for(self, params: dict[str, Any]) -> list[Weights]:
        """The weight sets a run with these params needs (missing params take their defaults)."""
        values = {**self.defaults(), **params}
        return [w for w in self.weights if w.needed_for(values)]

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every param's value, checked and in its type (missing ones take defaults); InvalidRequest otherwise."""
        unknown = set(params) - {p.name for p in self.params}
        if unknown:
            raise InvalidRequest(f"{self.name} has no parameter {', '.join(sorted(unknown))}.")
        return {p.name: p.coerce(params.get(p.name)) for p in self.params}

    def validate(self, inputs: dict[str, Any], params: dict[str, Any]) -> Request:
        """A Request checked against the declared slots and params (InvalidRequest says what to fix)."""
        checked_params = self.check_params(params)
        checked_inputs: dict[str, Any] = {}
        for slot in self.inputs:
            value = inputs.get(slot.name)
            if slot.kind == "text":
                if value is None and not slot.required:
                    continue
                checked_inputs[slot.name] = slot.check_text(value)
            elif value is None:
                if slot.required:
                    raise InvalidRequest(f"{slot.label}: {self.name} needs this audio.")
            else:
                if slot.transcript_needed(checked_params) and not transcript_of(value):
                    unless = f" unless {self.param(slot.transcript_optional_with).title} is on" \
                        if slot.transcript_optional_with else ""
                    raise InvalidRequest(f"{slot.label}: {self.name} needs the clip's transcript{unless}; enter its "
                                         f"transcript (exactly what the clip says), or transcribe the clip first.")
                checked_inputs[slot.name] = value
        request = Request(checked_inputs, checked_params)
        self.check_request(request)
        return request

    def check_request(self, request: Request) -> None:
        """Engine-specific checks of a validated request, cheap enough to run before a job is queued (text the
        model cannot read, a language its weights do not know): raise InvalidRequest saying what to change."""

    def with_seeds_drawn(self, request: Request) -> Request:
        """The request with every random (-1) seed replaced by a drawn one, so the job can be replayed exactly."""
        params = dict(request.params)
        for p in self.params:
            if p.kind == "seed" and params.get(p.name, -1) < 0:
                params[p.name] = int(np.random.default_rng().integers(0, 2**31 - 1))
        return Request(request.inputs, params, request.prompts)

    def load_key(self, params: dict[str, Any]) -> str:
        """Identifies the loaded model: the engine id plus the params that select weights."""
        parts = [f"{p.name}={params.get(p.name, p.default)}" for p in self.params if p.affects_load]
        return self.id + ("[" + ",".join(parts) + "]" if parts else "")

    # -- what subclasses implement ---------------------------------------------------------------------------

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        """Build the model on `device` and return it. `options` holds the values of the affects_load params."""
        raise NotImplementedError

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        raise NotImplementedError

    def unload(self, model: Any) -> None:
        """Release what dropping the reference does not (a worker process, a file handle). Optional."""
