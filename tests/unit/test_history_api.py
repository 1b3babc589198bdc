"""The history API over HTTP against the running studio: generate with wait=true, list, change, download, delete,
takes, statistics, votes, and a 4xx that says what to fix for every bad request."""
from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import soundfile as sf


@pytest.fixture
def api(live_studio: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_studio, timeout=60) as client:
        yield client


def generated(api: httpx.Client, text: str, engine: str = "builtin.hibari", **params: object) -> dict:
    response = api.post("/api/generate", params={"wait": True}, json={"engine": engine, "text": text, "params": params})
    assert response.status_code == 200, response.text
    return response.json()


def kept(api: httpx.Client, job_id: str, timeout: float = 30) -> dict:
    """The generation a queued job makes, once it is in the history."""
    deadline = time.monotonic() + timeout
    while (response := api.get(f"/api/history/{job_id}")).status_code == 404:
        assert time.monotonic() < deadline, api.get(f"/api/jobs/{job_id}").json()
        time.sleep(0.05)
    return response.json()


def unique(words: str) -> str:
    return f"{words} {uuid.uuid4().hex[:8]}"  # the live studio is shared by the session: find our own items


def test_generate_with_wait_returns_the_kept_generation(api: httpx.Client) -> None:
    text = unique("Waiting is easier")
    item = generated(api, text, seed=4, speed=1.1)
    assert item["text"] == text and item["seed"] == 4 and item["params"]["speed"] == 1.1
    assert item["engine_id"] == "builtin.hibari" and item["sample_rate"] == 24_000 and 1 < item["duration"] < 9
    assert api.get(f"/api/history/{item['id']}").json() == item
    wav = api.get(item["media_url"], headers={"Range": "bytes=0-99"})  # the page's players stream it
    assert wav.status_code == 206 and len(wav.content) == 100
    for fmt, container in (("wav", "WAV"), ("mp3", "MP3"), ("flac", "FLAC"), ("ogg", "OGG")):
        audio = api.get(item["audio_url"], params={"format": fmt})
        assert audio.status_code == 200 and f"-{item['id']}.{fmt}" in audio.headers["content-disposition"]
        info = sf.info(io.BytesIO(audio.content))
        assert info.format == container and info.duration == pytest.approx(item["duration"], abs=0.01)


def test_wait_reports_a_failed_job_and_answers_a_slow_one_with_the_job(api: httpx.Client) -> None:
    failed = api.post("/api/generate", params={"wait": True}, json={"engine": "test.tone", "text": "fail"})
    assert failed.status_code == 500
    assert failed.json()["detail"].startswith("The generation failed: Unexpected error (RuntimeError: the tone "
                                              "generator was asked to fail)")
    assert failed.json()["job"]["state"] == "failed"
    slow = api.post("/api/generate", params={"wait": True, "timeout": 0.3},
                    json={"engine": "test.tone", "text": "slow", "params": {"steps": 100, "step_seconds": 0.02}})
    assert slow.status_code == 202 and slow.json()["state"] in ("queued", "running")
    assert api.post(f"/api/jobs/{slow.json()['id']}/cancel").status_code == 200


def test_list_search_filter_change_and_delete(api: httpx.Client) -> None:
    marker = uuid.uuid4().hex[:8]
    first = generated(api, f"Alpha {marker} one.")
    second = generated(api, f"Beta {marker} two.")
    beep = generated(api, f"beep {marker}", "test.tone", seconds=0.4, steps=1, step_seconds=0)
    listing = api.get("/api/history", params={"search": marker, "limit": 2}).json()
    assert listing["total"] == 3 and [i["id"] for i in listing["items"]] == [beep["id"], second["id"]]
    assert [i["id"] for i in api.get("/api/history", params={"search": marker, "offset": 2}).json()["items"]] == \
        [first["id"]]
    assert [i["id"] for i in api.get("/api/history", params={"search": marker, "engine": "test.tone"})
            .json()["items"]] == [beep["id"]]

    changed = api.patch(f"/api/history/{second['id']}", json={"favourite": True, "rating": 5, "tags": ["best"],
                                                              "notes": "use this one"})
    assert changed.status_code == 200
    assert {k: changed.json()[k] for k in ("favourite", "rating", "tags", "notes")} == \
        {"favourite": True, "rating": 5, "tags": ["best"], "notes": "use this one"}
    favourites = api.get("/api/history", params={"search": marker, "favourite": True}).json()
    assert [i["id"] for i in favourites["items"]] == [second["id"]]
    stats = api.get("/api/history/stats", params={"search": marker}).json()
    assert stats["count"] == 3 and stats["favourites"] == 1
    assert {b["key"]: b["count"] for b in stats["by_engine"]} == {"builtin.hibari": 2, "test.tone": 1}
    assert stats["duration"] == pytest.approx(first["duration"] + second["duration"] + 0.4)

    assert api.delete(f"/api/history/{first['id']}").status_code == 204
    assert api.get(f"/api/history/{first['id']}").status_code == 404
    assert api.get(first["media_url"]).status_code == 404  # the file went with the row
    many = api.post("/api/history/delete", json={"ids": [second["id"], "nope"]}).json()
    assert many == {"deleted": [second["id"]], "missing": ["nope"]}
    assert api.get("/api/history", params={"search": marker}).json()["total"] == 1


def test_rerun_and_variation_make_takes(api: httpx.Client) -> None:
    original = generated(api, unique("Again and again"), seed=21)
    rerun = api.post(f"/api/history/{original['id']}/rerun")
    variation = api.post(f"/api/history/{original['id']}/variation", json={"params": {"speed": 1.5}})
    assert rerun.status_code == variation.status_code == 202
    for job in (rerun.json(), variation.json()):
        assert kept(api, job["id"])["original_id"] == original["id"]
    takes = api.get(f"/api/history/{original['id']}/takes").json()
    assert [(t["take"], t["seed"] == 21, t["params"]["speed"]) for t in takes] == \
        [(1, True, 1.0), (2, True, 1.0), (3, False, 1.5)]
    grouped = api.get("/api/history", params={"search": original["text"], "grouped": True}).json()
    assert grouped["total"] == 1 and grouped["items"][0]["group_size"] == 3


def test_votes_are_tallied_per_engine(api: httpx.Client) -> None:
    before = api.get("/api/compare/tally").json()
    hibari = generated(api, unique("Vote for me"))
    tone = generated(api, unique("beep"), "test.tone", seconds=0.3, steps=1, step_seconds=0)
    clips = [f"generation:{tone['id']}", f"generation:{hibari['id']}"]
    assert api.post("/api/compare/votes", json={"clips": clips, "chosen": clips[1]}).status_code == 201
    assert api.post("/api/compare/votes", json={"clips": clips, "chosen": None}).status_code == 201
    after = api.get("/api/compare/tally").json()
    assert after["rounds"] == before["rounds"] + 2 and after["no_preference"] == before["no_preference"] + 1

    def engine_row(tally: dict, engine: str) -> tuple[int, int]:
        row = next((r for r in tally["by_engine"] if r["key"] == engine), {"appearances": 0, "wins": 0})
        return row["appearances"], row["wins"]

    assert engine_row(after, "builtin.hibari") == tuple(x + y for x, y in zip(engine_row(before, "builtin.hibari"),
                                                                               (2, 1)))
    assert engine_row(after, "test.tone") == tuple(x + y for x, y in zip(engine_row(before, "test.tone"), (2, 0)))


@pytest.mark.parametrize(("method", "path", "body", "status", "reason"), [
    ("get", "/api/history/nope", None, 404, "No generation nope"),
    ("patch", "/api/history/nope", {"rating": 1}, 404, "No generation nope"),
    ("delete", "/api/history/nope", None, 404, "No generation nope"),
    ("get", "/api/history/nope/audio", None, 404, "No generation nope"),
    ("post", "/api/history/nope/rerun", None, 404, "No generation nope"),
    ("get", "/api/history?sort=loudest", None, 400, "Unknown sort 'loudest'"),
    ("get", "/api/history?limit=0", None, 400, "limit must be between 1 and 500"),
    ("get", "/api/history?date_from=2026-02-01&date_to=2026-01-01", None, 400, "before it starts"),
    ("post", "/api/compare/votes", {"clips": ["generation:x"], "chosen": None}, 400, "at least two clips"),
    ("post", "/api/compare/votes", {"clips": ["generation:x", "upload:y"]}, 404, "no generation x"),
    ("post", "/api/compare/votes", {"clips": ["x", "y"]}, 400, "is not a clip"),
])
def test_bad_requests_get_a_4xx_with_a_reason(api: httpx.Client, method: str, path: str, body: dict | None,
                                              status: int, reason: str) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == status
    assert reason.lower() in response.json()["detail"].lower()


def test_bad_changes_are_refused(api: httpx.Client) -> None:
    item = generated(api, unique("Do not spoil me"), "test.tone", seconds=0.3, steps=1, step_seconds=0)
    for body, reason in (({"rating": 9}, "from 0 (none) to 5"), ({"tags": ["x" * 50]}, "longer than 40"),
                         ({"notes": "n" * 10_001}, "more than the 10,000 kept")):
        response = api.patch(f"/api/history/{item['id']}", json=body)
        assert response.status_code == 400 and reason in response.json()["detail"]
    assert api.get(f"/api/history/{item['id']}").json() == item
    variation = api.post(f"/api/history/{item['id']}/variation", json={"params": {"hz": 99999}})
    assert variation.status_code == 400 and "outside 50 Hz to 2000 Hz" in variation.json()["detail"]
