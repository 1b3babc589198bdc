"""A smoke test of the REST API over real HTTP against the running studio (the app as `amphion-studio serve` starts
it, with NiceGUI in front): voice profiles, a sample upload, transcription, and the 4xx answers of bad input."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import SENTENCE, word_error_rate
from tests.library_fixtures import hibari_speech, padded, wav_bytes


@pytest.fixture
def api(live_studio: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_studio, timeout=60) as client:
        yield client


def test_profiles_a_sample_and_transcription_over_http(api: httpx.Client) -> None:
    name = f"Live {uuid.uuid4().hex[:6]}"
    made = api.post("/api/profiles", json={"name": name, "language": "en"})
    assert made.status_code == 201, made.text
    profile = made.json()
    clash = api.post("/api/profiles", json={"name": name.upper()})
    assert clash.status_code == 409 and "already" in clash.json()["detail"]
    wav = wav_bytes(padded(hibari_speech(SENTENCE), 0.5, 0.5))
    added = api.post(f"/api/profiles/{profile['id']}/samples", data={"transcript": SENTENCE},
                     files={"file": ("take.wav", wav, "audio/wav")})
    assert added.status_code == 201, added.text
    assert api.get(f"/api/profiles/{profile['id']}").json()["samples"] == 1
    media = api.get(added.json()["url"])  # NiceGUI serves the normalised copy the pages play
    assert media.status_code == 200 and media.content[:4] == b"RIFF"

    heard = api.post("/api/transcribe", files={"file": ("take.wav", wav, "audio/wav")},
                     data={"wait": "true", "language": "en"})
    assert heard.status_code == 200, heard.text
    assert word_error_rate(SENTENCE, heard.json()["text"]) < 0.25 and heard.json()["words"]

    renamed = api.patch(f"/api/profiles/{profile['id']}", json={"name": f"{name} renamed"})
    assert renamed.status_code == 200 and renamed.json()["name"] == f"{name} renamed"
    assert api.delete(f"/api/profiles/{profile['id']}").status_code == 204
    assert api.get(f"/api/profiles/{profile['id']}").status_code == 404


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "detail"), [
    ("post", "/api/generate", {"json": {"text": 5}}, 400, "text: Input should be a valid string."),
    ("post", "/api/generate", {"json": {"text": "hi", "voice": "emma"}}, 400,
     "voice is not a field this takes: leave it out (/docs lists the fields)."),
    ("post", "/api/generate", {"content": b"{", "headers": {"content-type": "application/json"}}, 400,
     "The body is not valid JSON."),
    ("get", "/api/history", {"params": {"limit": "ten"}}, 400,
     "limit: Input should be a valid integer, unable to parse string as an integer."),
    ("post", "/api/generate", {"json": {"text": "x" * 20_001}}, 413,
     "Text: 20,001 characters is more than this engine takes at once (20,000)."),
    ("post", "/api/generate", {"json": {"text": "🙂"}}, 400, "Nothing in the text can be spoken"),
    ("post", "/api/generate", {"json": {"text": "hi", "params": {"voice": "fable"}}}, 409,
     "`amphion-studio download builtin.hibari -p voice=fable`"),
    ("post", "/api/uploads", {"files": {"file": ("notes.txt", b"hello", "text/plain")}}, 415, "takes audio"),
    ("get", "/api/history", {"params": {"profile": "Nobody at all"}}, 404, "There is no voice profile"),
])
def test_bad_input_gets_a_4xx_with_a_sentence_over_http(api: httpx.Client, method: str, path: str, kwargs: dict,
                                                        status: int, detail: str) -> None:
    response = api.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]


def test_the_openapi_document_lists_the_endpoints(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/generate", "/api/compare/comparisons", "/api/compare/votes/{round_id}", "/v1/audio/speech"):
        assert path in paths, path
    assert api.get("/docs").status_code == 200
