"""OpenAI-compatible speech, so the official OpenAI client (and tools built on it) works unchanged.

POST /v1/audio/speech takes `model` (an engine id, or OpenAI's tts-1, tts-1-hd, gpt-4o-mini-tts for the
default engine: the default_engine setting), `voice` (a voice of the engine, OpenAI's voice names mapped to
Hibari's voices, or a voice-library profile's name for engines that take a reference voice), `input`,
`response_format`, `speed` and `instructions`, and answers with the audio bytes. The generation goes through the job queue like any other and is kept in the history.

Errors carry FastAPI's `detail` and OpenAI's `error` object (the official client reads `error.message`),
plus `x-should-retry: false`: retrying would queue the same work again without changing the outcome.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from engines.builtin.hibari_tts import HibariTTS
from engines.contract import Engine, InvalidRequest
from engines.registry import Registry

from ..audio.io import FFMPEG_FORMATS, export, pcm16, read_audio
from ..audio_refs import reference_slot
from ..history import HistoryError
from ..jobs import JobState
from ..readiness import EngineNotReady, weights_readiness_for
from ..services import Services
from .errors import status_of, validation_problems

OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
VOICES_ENGINE = HibariTTS.id  # the engine OpenAI's voice names map to
# OpenAI's voices -> Hibari's nearest voice (by gender and accent). Only "heart" ships with the studio; the
# others download once (8 MB each), so alloy, coral and marin work offline from the start.
OPENAI_VOICES = {
    "alloy": "heart", "coral": "heart", "marin": "heart", "nova": "kore", "shimmer": "kore", "sage": "emma",
    "ash": "fenrir", "echo": "fenrir", "onyx": "fenrir", "cedar": "fenrir", "ballad": "fable", "fable": "fable",
    "verse": "fable",
}
RESPONSE_FORMATS = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
                    "wav": "audio/wav", "pcm": "audio/pcm"}
PCM_RATE = 24_000  # OpenAI's pcm is 24 kHz 16-bit little-endian mono; clients rely on it
MAX_INPUT_CHARS = 1_000_000  # what the body may carry at all; each engine's own limit is checked after
WAIT_SECONDS = 600.0  # the official client's default timeout


class VoiceId(BaseModel):
    id: str


class SpeechBody(BaseModel):
    model: str = Field(description=f"An engine id (GET /v1/models), or {', '.join(OPENAI_MODELS)} for the default "
                                   f"engine")
    input: str = Field(max_length=MAX_INPUT_CHARS, description="The text to speak")
    voice: str | VoiceId = Field(description="A voice of the engine, an OpenAI voice name "
                                             f"({', '.join(OPENAI_VOICES)}), or a voice profile's name")
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0, description="Passed to the engine's speed parameter when it has one")
    instructions: str | None = Field(None, description="Passed on to engines that take instructions; ignored by the "
                                                       "others")
    stream_format: Literal["audio", "sse"] | None = Field(None, description='Only "audio" (the whole file)')


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_response(status: int, message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"detail": message, "error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status, headers={"x-should-retry": "false"})


class OpenAIRoute(APIRoute):
    """Every error of these routes, validation included, in OpenAI's shape (400 rather than FastAPI's 422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except OpenAIError as exc:
                return error_response(exc.status, exc.message, exc.param, exc.code)
            except HTTPException as exc:
                return error_response(exc.status_code, str(exc.detail))
            except RequestValidationError as exc:
                return validation_error(exc)

        return route


def validation_error(exc: RequestValidationError) -> JSONResponse:
    return error_response(*validation_problems(exc))


def resolve_engine(registry: Registry, model: str, default_engine: str) -> Engine:
    if model in OPENAI_MODELS:
        return registry.get(default_engine)
    if model not in registry:
        raise OpenAIError(404, f"No model {model!r}. Use a speech engine id (GET /v1/models lists them) or one of "
                               f"{', '.join(OPENAI_MODELS)} for the default engine.", "model", "model_not_found")
    engine = registry.get(model)
    if engine.task != "tts":
        raise OpenAIError(400, f"{engine.name} ({model}) does not turn text into speech; pick a speech engine "
                               "(GET /v1/models).", "model")
    return engine


def engine_voices(engine: Engine) -> list[str]:
    try:
        return [str(value) for value, _ in engine.param("voice").choices]
    except KeyError:
        return []


def profile_voice(services: Services, engine: Engine, name: str) -> dict[str, Any] | None:
    """The inputs that make `engine` speak as the voice-library profile called `name` (any case), or None when no
    profile is called that. The library turns {'profile': id} into the sample that suits the engine best."""
    profile = services.library.profile_by_name(name)
    if profile is None:
        return None
    slot = reference_slot(engine)
    if slot is None:
        raise OpenAIError(400, f"{engine.name} cannot speak with a voice profile such as “{profile.name}”: use it with "
                               "an engine that takes a reference voice (model = its id), or pick one of "
                               f"{engine.name}'s own voices.", "voice")
    return {slot.name: {"profile": profile.id}}


def resolve_voice(services: Services, engine: Engine, voice: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs, params) that select `voice` on `engine`; OpenAIError 404 when nothing is called that."""
    own = engine_voices(engine)
    name = voice.strip()
    if name in own or name.lower() in own:
        return {}, {"voice": name if name in own else name.lower()}
    if engine.id == VOICES_ENGINE and name.lower() in OPENAI_VOICES:
        return {}, {"voice": OPENAI_VOICES[name.lower()]}
    inputs = profile_voice(services, engine, name)
    if inputs is not None:
        return inputs, {}
    choices = ", ".join(dict.fromkeys(own + (list(OPENAI_VOICES) if engine.id == VOICES_ENGINE else [])))
    raise OpenAIError(404, f"No voice {name!r} for {engine.name}. Use " + (f"one of {choices}, or " if choices else "")
                      + "the name of a voice profile.", "voice", "voice_not_found")


def speech_request(services: Services, body: SpeechBody) -> tuple[Engine, dict[str, Any], dict[str, Any], list[str]]:
    """The engine, inputs and params `body` asks for, and the fields this engine cannot use (ignored)."""
    engine = resolve_engine(services.registry, body.model, services.settings.default_engine)
    readiness = engine.check()
    if not readiness.runnable:
        raise OpenAIError(409, str(EngineNotReady(engine, readiness)), "model", "engine_not_ready")
    if body.stream_format == "sse":
        raise OpenAIError(400, 'stream_format "sse" is not supported; leave it out or use "audio".', "stream_format")
    if body.response_format in FFMPEG_FORMATS and shutil.which("ffmpeg") is None:
        raise OpenAIError(400, f"{body.response_format} needs ffmpeg, which this server lacks: ask for mp3, flac, "
                               "wav or pcm (or install ffmpeg on the server).", "response_format")
    text_slot = next((s for s in engine.inputs if s.name == "text"), None)
    if text_slot and text_slot.max_chars and len(body.input) > text_slot.max_chars:
        raise OpenAIError(413, f"input has {len(body.input):,} characters; {engine.name} takes at most "
                               f"{text_slot.max_chars:,} at once. Split the text.", "input", "input_too_long")
    voice = body.voice.id if isinstance(body.voice, VoiceId) else body.voice
    inputs, params = resolve_voice(services, engine, voice)
    inputs = {**inputs, "text": body.input}
    names = {p.name for p in engine.params}
    ignored = []
    for field, value, default in (("speed", body.speed, 1.0), ("instructions", body.instructions, None)):
        if field in names:
            params[field] = value
        elif value != default:
            ignored.append(field)
    return engine, inputs, params, ignored


def encoded(services: Services, generation_id: str, source: Path, fmt: str) -> bytes:
    """The kept WAV as OpenAI's `response_format` (re-encodings are cached in exports/ like downloads)."""
    if fmt == "pcm":
        audio, _ = read_audio(source, PCM_RATE)
        return pcm16(audio)
    if fmt == "wav":
        return source.read_bytes()
    return export(source, fmt, services.paths.exports / f"{generation_id}.{fmt}").read_bytes()


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)

    @router.post("/audio/speech", response_class=Response,
                 responses={200: {"content": {mime: {} for mime in RESPONSE_FORMATS.values()},
                                  "description": "The audio"}})
    def speech(body: SpeechBody) -> Response:
        """Text to speech, as OpenAI's API does it. Extra response headers: x-studio-generation (the history id)
        and x-studio-ignored (fields the engine cannot use)."""
        engine, inputs, params, ignored = speech_request(services, body)
        try:
            job = services.generation.submit(engine.id, inputs, params)
        except EngineNotReady as exc:  # the engine was checked above: offline, the voice or model is not here
            blamed = "voice" if weights_readiness_for(engine, {}).runnable else "model"
            raise OpenAIError(409, str(exc), blamed, "not_downloaded") from None
        except InvalidRequest as exc:
            raise OpenAIError(status_of(exc), str(exc)) from None
        try:
            item = services.history.wait(job.id, WAIT_SECONDS)
        except TimeoutError:
            raise OpenAIError(504, f"The speech is still being made (job {job.id}); fetch it later from "
                                   f"/api/jobs/{job.id}.") from None
        except HistoryError as exc:
            ended = services.jobs.get(job.id)
            failed = ended is None or ended.state == JobState.failed
            raise OpenAIError(500 if failed else exc.status, f"The speech could not be made: {exc}") from None
        audio = encoded(services, item.id, services.history.audio_path(item), body.response_format)
        headers = {"x-studio-generation": item.id}
        if ignored:
            headers["x-studio-ignored"] = ", ".join(ignored)
        return Response(audio, media_type=RESPONSE_FORMATS[body.response_format], headers=headers)

    @router.get("/models")
    def models() -> dict[str, Any]:
        """The speech engines, and OpenAI's model names as aliases of the default engine."""
        engines = [{"id": e.id, "object": "model", "created": 0, "owned_by": "amphion-studio"}
                   for e in services.registry.for_task("tts")]
        owner = f"amphion-studio ({services.settings.default_engine})"
        aliases = [{"id": name, "object": "model", "created": 0, "owned_by": owner} for name in OPENAI_MODELS]
        return {"object": "list", "data": engines + aliases}

    @router.get("/audio/voices")
    def voices(model: str | None = None) -> dict[str, Any]:
        """The voices `model` (default: the default engine) takes: its own, and for Hibari OpenAI's names with
        what they map to."""
        engine = resolve_engine(services.registry, model or services.settings.default_engine,
                                services.settings.default_engine)
        aliases = OPENAI_VOICES if engine.id == VOICES_ENGINE else {}
        return {"model": engine.id, "voices": list(dict.fromkeys(engine_voices(engine) + list(aliases))),
                "aliases": aliases}

    return router
