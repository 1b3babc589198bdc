"""Saved comparisons: named sets of clips kept, listed, reopened, changed and deleted, in the service and over HTTP."""
from __future__ import annotations

import httpx
import pytest

from studio.history import HistoryError
from studio.projects import ProjectError, Selection
from studio.services import Services
from tests.unit.test_api import client  # noqa: F401  (the API on the test's services)


def tones(services: Services, *hz: float) -> list[str]:
    """Clip keys of kept generations: short tones of the given pitches."""
    keys = []
    for pitch in hz:
        job = services.generation.submit("test.tone", {"text": f"{pitch} Hz"},
                                         {"hz": pitch, "seconds": 0.3, "steps": 1, "step_seconds": 0})
        keys.append(f"generation:{services.history.wait(job.id, 30).id}")
    return keys


def test_save_list_reopen_change_and_delete(services: Services) -> None:
    saved_comparisons = services.saved_comparisons
    low, high, middle = tones(services, 220, 880, 440)
    first = saved_comparisons.save("  Low   against high ", [low, high])
    assert first.name == "Low against high" and first.clips == [low, high]
    second = saved_comparisons.save("Three", [middle, low, high])
    assert [s.id for s in saved_comparisons.list()] == [second.id, first.id]  # the latest change first
    assert saved_comparisons.get(first.id) == first
    changed = saved_comparisons.change(first.id, name="Octaves", keys=[low, middle, high])
    assert (changed.name, changed.clips) == ("Octaves", [low, middle, high]) and changed.updated_at > first.updated_at
    assert [s.id for s in saved_comparisons.list()] == [first.id, second.id]
    assert sorted(saved_comparisons.using(middle)) == sorted([first.id, second.id])
    saved_comparisons.delete(second.id)
    assert [s.id for s in saved_comparisons.list()] == [first.id]
    with pytest.raises(HistoryError, match=f"No saved comparison {second.id}") as gone:
        saved_comparisons.get(second.id)
    assert gone.value.status == 404


@pytest.mark.parametrize(("name", "keys", "status", "message"), [
    ("One", ["LOW"], 400, "at least two clips"),
    ("", ["LOW", "HIGH"], 400, "Give the comparison a name"),
    ("x" * 81, ["LOW", "HIGH"], 400, "keep it under 80"),
    ("Gone", ["LOW", "generation:nope"], 404, "There is no generation nope"),
    ("Odd", ["LOW", "clip 2"], 400, "'clip 2' is not a clip"),
    ("Twice", ["LOW", "LOW"], 400, "The same clip is listed twice"),
    ("Nine", [f"generation:g{i}" for i in range(9)], 400, "At most 8 clips"),
])
def test_refusals_say_what_to_fix(services: Services, name: str, keys: list[str], status: int, message: str) -> None:
    low, high = tones(services, 220, 880)
    keys = [{"LOW": low, "HIGH": high}.get(k, k) for k in keys]
    with pytest.raises(HistoryError, match=message) as refused:
        services.saved_comparisons.save(name, keys)
    assert refused.value.status == status and services.saved_comparisons.list() == []


async def test_saved_comparisons_over_http(client: httpx.AsyncClient, services: Services) -> None:  # noqa: F811
    low, high, middle = tones(services, 220, 880, 440)
    made = await client.post("/api/compare/comparisons", json={"name": "Pitches", "clips": [low, high, middle]})
    assert made.status_code == 201, made.text
    saved = made.json()
    assert (await client.get("/api/compare/comparisons")).json() == [saved]
    services.history.delete([high.partition(":")[2]])
    opened = (await client.get(f"/api/compare/comparisons/{saved['id']}")).json()
    assert [item["key"] for item in opened["items"]] == [low, middle] and opened["missing"] == [high]
    assert opened["items"][0]["details"]["engine"] == "Test tone"
    renamed = await client.patch(f"/api/compare/comparisons/{saved['id']}", json={"name": "Two pitches",
                                                                                   "clips": [low, middle]})
    assert renamed.status_code == 200 and renamed.json()["clips"] == [low, middle]
    for method, path, body, status, reason in (
            ("post", "/api/compare/comparisons", {"name": "x", "clips": [low]}, 400, "at least two clips"),
            ("post", "/api/compare/comparisons", {"name": "x", "clips": [low, high]}, 404, "There is no generation"),
            ("post", "/api/compare/comparisons", {"clips": [low, middle]}, 400, "name is required."),
            ("patch", f"/api/compare/comparisons/{saved['id']}", {"title": "x"}, 400, "title is not a field"),
            ("get", "/api/compare/comparisons/nope", None, 404, "No saved comparison nope"),
            ("delete", "/api/compare/comparisons/nope", None, 404, "No saved comparison nope")):
        response = await client.request(method, path, json=body)
        assert response.status_code == status and reason in response.json()["detail"], (path, response.text)
    assert (await client.delete(f"/api/compare/comparisons/{saved['id']}")).status_code == 204
    assert (await client.get("/api/compare/comparisons")).json() == []


def test_a_comparison_left_with_one_clip_is_not_exported_as_one(services: Services, tmp_path) -> None:
    low, high = tones(services, 220, 880)
    saved = services.saved_comparisons.save("Octave", [low, high])
    services.history.delete([high.partition(":")[2]])
    for selection in (Selection(comparisons=(saved.id,)), Selection(everything=True)):
        with pytest.raises(ProjectError) as refused:
            services.projects.export(selection, tmp_path / "octave.zip")
        assert refused.value.status == 409 and str(refused.value) == (
            "The saved comparison “Octave” has only 1 clip left (the others were deleted) and a comparison needs at "
            "least 2: delete it on the Compare page or leave it out of the export.")
    assert not (tmp_path / "octave.zip").exists()
