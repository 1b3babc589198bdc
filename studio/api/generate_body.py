"""The body of POST /api/generate, and what its top-level profile, seed and language mean for the chosen engine."""
from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field

from engines.contract import Engine, Param

from ..audio_refs import reference_slot
from ..library import LibraryError
from ..services import Services
from .errors import refusals

LANGUAGE_PARAMS = ("language", "target_language")  # the language of the text, as engines name it


class GenerateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: str | None = Field(None, description="Engine id, as listed by GET /api/engines (default: the studio's "
                                                 "default_engine setting)")
    text: str | None = Field(None, max_length=1_000_000, description="The text to speak (speech engines)")
    profile: str | None = Field(None, description="A voice profile (name or id) for the engine's reference voice")
    language: str | None = Field(None, description="The text's language: the engine's language parameter")
    seed: int | None = Field(None, description="The engine's seed parameter; the same seed gives the same audio")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Other input slots, by name")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameter values; missing ones take defaults")


def generate_request(services: Services, engine: Engine, body: GenerateBody) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs, params) for `engine`; HTTPException 404 for an unknown profile, 400 for a field the engine has no
    use for or one given twice."""
    inputs, params = dict(body.inputs), dict(body.params)
    if body.text is not None:
        inputs["text"] = body.text
    if any(isinstance(value, dict) and "path" in value for value in inputs.values()):
        raise HTTPException(400, "Audio inputs cannot name files on the server: upload the audio first "
                                 "(POST /api/uploads) and give {'upload': id}, or name a library "
                                 "{'sample': id} or {'profile': name}.")
    if body.profile is not None:
        slot = reference_slot(engine)
        if slot is None:
            raise HTTPException(400, f"{engine.name} ({engine.id}) takes no reference voice, so it cannot use the "
                                     f"profile {body.profile!r}: leave profile out, or pick an engine that clones a "
                                     f"voice (GET /api/engines).")
        if slot.name in inputs:
            raise HTTPException(400, f"The reference voice is given twice (profile and inputs.{slot.name}): keep one.")
        with refusals(LibraryError):
            inputs[slot.name] = {"profile": services.library.find_profile(body.profile).id}
    for field, value, param in (("seed", body.seed, seed_param(engine)),
                                ("language", body.language, language_param(engine))):
        if value is None:
            continue
        if param is None:
            if field == "language" and engine.languages == (value,):
                continue  # the only language it speaks
            spoken = f" (it speaks {', '.join(engine.languages)})" if field == "language" and engine.languages else ""
            raise HTTPException(400, f"{engine.name} ({engine.id}) has no {field} parameter{spoken}: leave {field} "
                                     f"out.")
        if param.name in params and params[param.name] != value:
            raise HTTPException(400, f"{field} is {value!r} but params.{param.name} is {params[param.name]!r}: "
                                     f"give it once.")
        params[param.name] = value
    return inputs, params


def seed_param(engine: Engine) -> Param | None:
    return next((p for p in engine.params if p.kind == "seed"), None)


def language_param(engine: Engine) -> Param | None:
    return next((p for name in LANGUAGE_PARAMS for p in engine.params if p.name == name), None)
