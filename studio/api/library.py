"""The voice library and transcription over HTTP: profiles, samples, the doctor, fixes, transcribe."""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from ..jobs import JobInfo
from ..library import LibraryError, ProfileInfo, SampleInfo
from ..library.doctor import Report
from ..services import Services
from ..transcription import DEFAULT_ASR
from ..uploads import MAX_UPLOAD_BYTES, StoredAudio, UploadError
from .core import job_json
from .errors import refusals
from .uploads import MULTIPART_OVERHEAD, _chunks

MEDIA = "/media/library"


class ProfileBody(BaseModel):
    name: str = Field(description="Unique, whatever the case")
    description: str = ""
    language: str = Field("", description="A language code such as en, zh, ja, pt-br; empty for unknown")


class ProfileChanges(BaseModel):
    name: str | None = None
    description: str | None = None
    language: str | None = None


class SampleChanges(BaseModel):
    name: str | None = None
    transcript: str | None = None


class FromGeneration(BaseModel):
    job_id: str = Field(description="A finished generation's job id")
    transcript: str | None = Field(None, description="Defaults to the text the generation spoke")


class FixBody(BaseModel):
    fix: Literal["trim", "normalise", "denoise", "best_window"]
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="normalise: target_lufs; best_window: seconds; denoise: attenuation_db")


def profile_json(profile: ProfileInfo) -> dict[str, Any]:
    return dataclasses.asdict(profile)


def sample_json(sample: SampleInfo) -> dict[str, Any]:
    data = dataclasses.asdict(sample)
    data.update(original=sample.original.name, normalised=sample.normalised.name,
                url=f"{MEDIA}/{sample.id}/{sample.normalised.name}", is_version=sample.is_version)
    return data


def report_json(report: Report) -> dict[str, Any]:
    return {"verdict": report.verdict, "summary": report.summary, "fixes": report.fixes, "measures": report.measures,
            "findings": [dataclasses.asdict(f) for f in report.findings],
            "engines": [{**dataclasses.asdict(f), "describe": f.describe} for f in report.fits]}


def _refuse_oversized(request: Request) -> None:
    if int(request.headers.get("content-length") or 0) > MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD:
        raise HTTPException(413, f"Uploads are limited to {MAX_UPLOAD_BYTES // 2**20} MB; trim or compress it.")


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["library"])
    library = services.library

    async def stored_from(request: Request, file: UploadFile | None, upload_id: str | None,
                          **limits: float) -> tuple[StoredAudio, bool]:
        """The audio a request brings (a file, or an earlier upload's id); True when it was stored for this call."""
        if (file is None) == (not upload_id):
            raise HTTPException(400, "Send either a file or the upload_id of an earlier upload (POST /api/uploads).")
        if file is not None:
            _refuse_oversized(request)
            with refusals(LibraryError, UploadError):
                return await services.uploads.store_stream(file.filename or "audio", _chunks(file), **limits), True
        stored = services.uploads.get(str(upload_id))
        if stored is None:
            raise HTTPException(404, f"No upload {upload_id}.")
        return stored, False

    def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with refusals(LibraryError, UploadError):
            return function(*args, **kwargs)

    # -- profiles ------------------------------------------------------------------------------------------

    @router.get("/profiles")
    def profiles() -> list[dict[str, Any]]:
        return [profile_json(p) for p in library.profiles()]

    @router.post("/profiles", status_code=201)
    def create_profile(body: ProfileBody) -> dict[str, Any]:
        """Create a voice profile; 409 when the name (in any case) is taken."""
        return profile_json(call(library.create_profile, body.name, body.description, body.language))

    @router.get("/profiles/{profile_id}")
    def profile(profile_id: str) -> dict[str, Any]:
        """The profile with its samples (every version)."""
        found = call(library.profile, profile_id)
        return {**profile_json(found), "samples_list": [sample_json(s) for s in library.samples(profile_id)]}

    @router.patch("/profiles/{profile_id}")
    def update_profile(profile_id: str, body: ProfileChanges) -> dict[str, Any]:
        """Rename, describe or set the language; fields left out stay as they are."""
        return profile_json(call(library.update_profile, profile_id, **body.model_dump()))

    @router.delete("/profiles/{profile_id}", status_code=204)
    def delete_profile(profile_id: str) -> None:
        """Delete the profile with all its samples, their files and their cached prompts."""
        call(library.delete_profile, profile_id)

    # -- samples -------------------------------------------------------------------------------------------

    @router.get("/profiles/{profile_id}/samples")
    def samples(profile_id: str) -> list[dict[str, Any]]:
        call(library.profile, profile_id)
        return [sample_json(s) for s in library.samples(profile_id)]

    @router.post("/profiles/{profile_id}/samples", status_code=201)
    async def add_sample(profile_id: str, request: Request, file: UploadFile | None = None,
                         upload_id: str | None = Form(None), transcript: str | None = Form(None),
                         transcribe: bool = Form(True)) -> dict[str, Any]:
        """Add a reference sample: a file (WAV, MP3, FLAC, OGG, M4A, or video with sound; 50 MB, 2 s to 5 min) or
        the `upload_id` of an earlier upload. Without a transcript, one is made in a 'library.transcribe' job."""
        call(library.profile, profile_id)
        stored, temporary = await stored_from(request, file, upload_id)
        try:
            sample = await asyncio.to_thread(call, library.add_upload, profile_id, stored.id, transcript=transcript,
                                             transcribe=transcribe)
        finally:
            if temporary:
                services.uploads.delete([stored.id])
        return sample_json(sample)

    @router.post("/profiles/{profile_id}/samples/from-generation", status_code=201)
    def add_generation(profile_id: str, body: FromGeneration) -> dict[str, Any]:
        """Keep a generation as a reference sample (its text becomes the transcript unless one is given)."""
        return sample_json(call(library.add_generation, profile_id, job_id=body.job_id, transcript=body.transcript))

    @router.get("/samples/{sample_id}")
    def sample(sample_id: str) -> dict[str, Any]:
        return {**sample_json(call(library.sample, sample_id)), "doctor": report_json(library.report(sample_id))}

    @router.patch("/samples/{sample_id}")
    def update_sample(sample_id: str, body: SampleChanges) -> dict[str, Any]:
        """Edit the transcript (cached prompts of this sample are dropped) or the name."""
        if body.name is not None:
            call(library.rename_sample, sample_id, body.name)
        if body.transcript is not None:
            call(library.set_transcript, sample_id, body.transcript)
        return sample_json(call(library.sample, sample_id))

    @router.delete("/samples/{sample_id}", status_code=204)
    def delete_sample(sample_id: str) -> None:
        call(library.delete_sample, sample_id)

    @router.get("/samples/{sample_id}/audio", response_class=FileResponse)
    def sample_audio(sample_id: str, which: Literal["normalised", "original"] = "normalised") -> FileResponse:
        found = call(library.sample, sample_id)
        path = found.normalised if which == "normalised" else found.original
        return FileResponse(path, filename=f"{found.name.rsplit('.', 1)[0]}-{which}{path.suffix}")

    @router.get("/samples/{sample_id}/doctor")
    def doctor(sample_id: str) -> dict[str, Any]:
        """Duration against each engine's sweet spot, clipping, speech ratio, silence at the ends, SNR, loudness,
        sample rate; a verdict in words and the fixes that would help."""
        return report_json(call(library.report, sample_id))

    @router.post("/samples/{sample_id}/fix", status_code=202)
    def fix(sample_id: str, body: FixBody) -> dict[str, Any]:
        """Queue a fix; when the job succeeds its result holds the new version's `sample_id`."""
        return job_json(call(library.fix, sample_id, body.fix, body.params))

    @router.post("/samples/{sample_id}/transcribe", status_code=202)
    def transcribe_sample(sample_id: str, engine: str = DEFAULT_ASR) -> dict[str, Any]:
        return job_json(call(library.transcribe, sample_id, engine))

    # -- transcription of any audio ------------------------------------------------------------------------

    @router.post("/transcribe", tags=["transcription"])
    async def transcribe(request: Request, file: UploadFile | None = None, upload_id: str | None = Form(None),
                         engine: str = Form(DEFAULT_ASR), model: str | None = Form(None),
                         language: str = Form("auto"), word_timestamps: bool = Form(True),
                         wait: bool = Form(False), timeout: float = Form(300.0)) -> Any:
        """Transcribe a file (50 MB) or an earlier upload. Answers 202 with the job, or with `wait=true` the
        transcript itself: text, language, segments and timed words."""
        stored, _ = await stored_from(request, file, upload_id)
        params: dict[str, Any] = {"language": language, "word_timestamps": word_timestamps}
        if model is not None:
            params["model"] = model
        job: JobInfo = call(services.transcription.submit, stored.normalised, engine, params,
                            title=f"Transcribe {stored.name}")
        if not wait:
            return JSONResponse(job_json(job), status_code=202)
        try:
            done = await asyncio.to_thread(services.jobs.wait, job.id, timeout)
        except TimeoutError:
            raise HTTPException(504, f"Still transcribing after {timeout:g} s; poll GET /api/jobs/{job.id}.") from None
        if done.state.value != "succeeded":  # as POST /api/generate?wait=true: failed 500, cancelled 409
            raise HTTPException(500 if done.state.value == "failed" else 409,
                                done.error or f"The transcription was {done.state.value}.")
        return {**(done.result or {}), "job_id": done.id, "upload_id": stored.id}

    return router

