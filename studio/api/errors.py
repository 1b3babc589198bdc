"""How the REST API refuses: a body or query FastAPI cannot parse becomes one readable sentence (400, or 413 for
text past its limit) instead of FastAPI's 422 list, and the studio's own refusals get their HTTP status."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from engines.contract import InvalidRequest, TooLarge

from ..audio_refs import MissingAudio
from ..readiness import EngineNotReady

WHERE = ("body", "query", "path", "header", "cookie", "form")  # where FastAPI found it: not said to the user
TYPES = ("str", "int", "float", "bool", "list", "dict", "none")  # a union's member, as pydantic names it


def field_path(location: tuple[int | str, ...]) -> list[str]:
    """('body', 'reference', 'LibraryVoice', 'path') -> ['reference', 'path']: the fields, as the user wrote them."""
    parts = [str(p) for p in (location[1:] if location and location[0] in WHERE else location)]
    # pydantic names the union member it tried in the middle of a path; the last name is always the user's
    return [p for p in parts[:-1] if not (p in TYPES or p[:1].isupper() or "[" in p)] + parts[-1:]


def validation_problems(exc: RequestValidationError) -> tuple[int, str, str | None]:
    """(status, one sentence naming each field and what to fix, the first field at fault)."""
    problems, param, status = [], None, 400
    for error in exc.errors():
        where = field_path(tuple(error.get("loc", ())))
        name = ".".join(where) or "the body"
        param = param or (where[0] if where else None)
        kind = error.get("type")
        if kind == "string_too_long":
            status = 413
            limit = (error.get("ctx") or {}).get("max_length")
            problems.append(f"{name} is longer than {limit:,} characters; split the text.")
        elif kind == "missing":
            problems.append(f"{name} is required.")
        elif kind == "json_invalid":
            problems.append("The body is not valid JSON.")
        elif kind == "extra_forbidden":
            problems.append(f"{name} is not a field this takes: leave it out (/docs lists the fields).")
        else:
            problems.append(f"{name}: {error.get('msg')}.")
    return status, " ".join(dict.fromkeys(problems)), param


async def api_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """/api answers bad input with 400 and a `detail` sentence; other paths keep FastAPI's answer."""
    if not request.url.path.startswith("/api/"):
        return await request_validation_exception_handler(request, exc)
    status, message, _ = validation_problems(exc)
    return JSONResponse({"detail": message}, status_code=status)


def status_of(exc: InvalidRequest | EngineNotReady) -> int:
    """The HTTP status of a refusal: not ready 409, too large 413, a clip that does not exist 404, else 400."""
    if isinstance(exc, EngineNotReady):
        return 409
    if isinstance(exc, TooLarge):
        return 413
    if isinstance(exc, MissingAudio):
        return 404
    return 400


@contextmanager
def refusals(*studio_errors: type[Exception]) -> Iterator[None]:
    """A request the engine or the studio refuses (invalid, too large, not ready), or one of `studio_errors` (each
    with the HTTP `status` to answer, e.g. HistoryError), as an HTTP answer with its reason as `detail`."""
    try:
        yield
    except (InvalidRequest, EngineNotReady) as exc:
        raise HTTPException(status_of(exc), str(exc)) from None
    except studio_errors as exc:
        raise HTTPException(getattr(exc, "status", 400), str(exc)) from None
