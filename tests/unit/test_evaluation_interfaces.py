"""Evaluation from the outside: the REST API (paths and uploads, reports, exports, a generation's scores) and the
`amphion-studio evaluate` command (table, --json keyed by metric name, --metrics, folders, bad input)."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import httpx
import pytest

from studio.cli import main
from tests.evaluation_fixtures import SENTENCE_A, speech, write  # noqa: F401
from tests.unit.test_api import client, finished  # noqa: F401


async def test_metrics_are_listed_with_units_and_amphion_names(client: httpx.AsyncClient) -> None:
    listing = (await client.get("/api/metrics")).json()
    metrics = {m["key"]: m for m in listing["metrics"]}
    assert metrics["f0_rmse_cents"]["unit"] == "cents" and metrics["f0_rmse_cents_median"]["amphion"] == "f0rmse"
    assert metrics["pesq"]["amphion"] == "pesq" and metrics["pesq_wb"]["amphion"] is None  # pypesq's raw P.862
    assert metrics["pesq_wb"]["higher_is_better"] and not metrics["mcd"]["higher_is_better"]
    assert listing["options"]["f0_method"] == "parselmouth" and "Spectral" in listing["families"]


async def test_upload_a_pair_then_read_export_and_find_the_report(client: httpx.AsyncClient, speech,
                                                                  tmp_path: Path) -> None:
    reference = write(tmp_path / "ref.wav", *speech["a"]).read_bytes()
    generated = write(tmp_path / "gen.wav", *speech["b"]).read_bytes()
    response = await client.post("/api/evaluations/upload", files={"reference": ("ref.wav", reference, "audio/wav"),
                                                                  "generated": ("gen.wav", generated, "audio/wav")},
                                 data={"metrics": "mcd,speaker_similarity", "options": json.dumps({"align": "cut"})})
    assert response.status_code == 202, response.text
    job = await finished(client, response.json()["id"])
    assert job["state"] == "succeeded" and job["task"] == "evaluation"
    report = (await client.get(f"/api/evaluations/{job['id']}")).json()
    assert report["mode"] == "pair" and report["options"]["align"] == "cut"
    assert set(report["items"][0]["values"]) == {"mcd", "speaker_similarity"}
    exported = await client.get(f"/api/evaluations/{job['id']}/export", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv") and "mcd (dB)" in exported.text
    as_json = await client.get(f"/api/evaluations/{job['id']}/export", params={"format": "json"})
    assert as_json.json()["id"] == job["id"]
    assert [e["id"] for e in (await client.get("/api/evaluations")).json()] == [job["id"]]
    assert (await client.delete(f"/api/evaluations/{job['id']}")).status_code == 200
    assert (await client.get(f"/api/evaluations/{job['id']}")).status_code == 404


async def test_amphions_metric_names_are_accepted_by_the_api(client: httpx.AsyncClient, speech, tmp_path: Path) -> None:
    path = str(write(tmp_path / "a.wav", *speech["a"]))
    response = await client.post("/api/evaluations", json={"mode": "pair", "generated": path, "reference": path,
                                                           "metrics": ["similarity", "f0rmse", "pesq"]})
    assert response.status_code == 202, response.text
    job = await finished(client, response.json()["id"])
    report = (await client.get(f"/api/evaluations/{job['id']}")).json()
    assert report["metrics"] == ["speaker_similarity", "f0_rmse_hz", "f0_rmse_cents_median", "pesq"]
    assert report["items"][0]["values"]["pesq"] == pytest.approx(4.5, abs=1e-4)
    uploaded = await client.post("/api/evaluations/upload", data={"metrics": "similarity"},
                                 files={"reference": ("r.wav", Path(path).read_bytes(), "audio/wav"),
                                        "generated": ("g.wav", Path(path).read_bytes(), "audio/wav")})
    assert uploaded.status_code == 202, uploaded.text
    job = await finished(client, uploaded.json()["id"])
    assert (await client.get(f"/api/evaluations/{job['id']}")).json()["metrics"] == ["speaker_similarity"]


async def test_uploaded_zips_are_a_set(client: httpx.AsyncClient, speech, tmp_path: Path) -> None:
    clip = write(tmp_path / "x.wav", *speech["a"]).read_bytes()
    zips = {}
    for role, names in (("reference", ("a", "b")), ("generated", ("a", "c"))):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            for name in names:
                zf.writestr(f"{name}.wav", clip)
        zips[role] = (f"{role}.zip", buffer.getvalue(), "application/zip")
    response = await client.post("/api/evaluations/upload", files=zips, data={"metrics": "mcd"})
    job = await finished(client, response.json()["id"])
    report = (await client.get(f"/api/evaluations/{job['id']}")).json()
    assert report["mode"] == "set"
    items = {i["name"]: i for i in report["items"]}
    assert items["a"]["values"] == {"mcd": 0.0} and "No reference named" in items["c"]["error"]
    assert "No generated clip named" in items["b"]["error"]


async def test_scores_of_a_generation_are_found_by_its_job(client: httpx.AsyncClient) -> None:
    generated = (await client.post("/api/generate", json={"text": SENTENCE_A})).json()
    generated = await finished(client, generated["id"])
    response = await client.post("/api/evaluations", json={"mode": "jobs", "jobs": [generated["id"]],
                                                           "metrics": ["wer", "loudness_lufs"]})
    assert response.status_code == 202
    await finished(client, response.json()["id"])
    (score,) = (await client.get(f"/api/jobs/{generated['id']}/evaluations")).json()
    assert score["evaluation_id"] == response.json()["id"] and score["values"]["wer"] == 0.0
    assert score["source_job"] == generated["id"] and score["text"] == SENTENCE_A


@pytest.mark.parametrize(("files", "data", "status", "message"), [
    ({"generated": ("notes.txt", b"hello", "text/plain")}, {}, 415, "the studio takes audio"),
    ({"generated": ("a.wav", b"RIFFjunk", "audio/wav")}, {}, 400, "a.wav"),
    ({"generated": ("a.zip", b"PK", "application/zip"), "reference": ("r.wav", b"RIFF", "audio/wav")}, {}, 400,
     "not one of each"),
    ({"generated": ("a.zip", b"nope", "application/zip")}, {}, 400, "not a valid zip"),
    ({"generated": ("a.wav", b"RIFF", "audio/wav")}, {"options": "[1]"}, 400, "options must be a JSON object"),
])
async def test_bad_uploads_get_4xx_with_the_reason(client: httpx.AsyncClient, files: dict, data: dict, status: int,
                                                   message: str) -> None:
    response = await client.post("/api/evaluations/upload", files=files, data=data)
    assert response.status_code == status and message in response.json()["detail"]


async def test_bad_json_requests_get_400_with_the_reason(client: httpx.AsyncClient, speech, tmp_path: Path) -> None:
    path = str(write(tmp_path / "a.wav", *speech["a"]))
    response = await client.post("/api/evaluations", json={"mode": "clip", "generated": path, "metrics": ["pesq_wb"]})
    assert response.status_code == 400 and "pesq_wb cannot apply here" in response.json()["detail"]
    assert (await client.get("/api/evaluations/nothing")).status_code == 404


def test_cli_prints_every_metric_of_a_pair_and_json_keyed_by_metric(speech, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    reference, generated = write(tmp_path / "r.wav", *speech["a"]), write(tmp_path / "g.wav", *speech["a"])
    assert main(["evaluate", str(reference), str(generated), "--metrics", "mcd,pesq_wb,f0_rmse_cents", "--json"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert values == {"mcd": 0.0, "pesq_wb": pytest.approx(4.64, abs=0.01), "f0_rmse_cents": 0.0}
    assert main(["evaluate", str(generated), "-t", SENTENCE_A, "-m", "wer,loudness_lufs"]) == 0
    out = capsys.readouterr().out
    assert "wer" in out and "0.000" in out and "LUFS" in out
    assert main(["evaluate", str(reference), str(generated), "--metrics", "f0rmse,similarity,pesq", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"f0_rmse_hz": 0.0, "f0_rmse_cents_median": 0.0,
                                                   "speaker_similarity": pytest.approx(1.0, abs=1e-5),
                                                   "pesq": pytest.approx(4.5, abs=1e-4)}


def test_cli_scores_folders_as_a_set_and_reports_problems(speech, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("one", "two"):
        write(tmp_path / "ref" / f"{name}.wav", *speech["a"])
    write(tmp_path / "gen" / "one.wav", *speech["a"])
    write(tmp_path / "gen" / "three.wav", *speech["a"])
    assert main(["evaluate", str(tmp_path / "ref"), str(tmp_path / "gen"), "-m", "mcd", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["mcd"] == {"mean": 0.0, "std": 0.0, "n": 1, "min": 0.0, "max": 0.0,
                                               "items": {"one": 0.0, "three": None, "two": None}}
    assert "No reference named “three”" in captured.err and "No generated clip named “two”" in captured.err


def test_cli_refuses_what_cannot_be_evaluated(speech, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(tmp_path / "missing.wav")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["evaluate", "a", "b", "c"]) == 2
    assert "at most two paths" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", str(tmp_path / "empty")]) == 2
    assert "No audio files in empty" in capsys.readouterr().err
    clip = write(tmp_path / "a.wav", *speech["a"])
    assert main(["evaluate", str(clip), "-m", "nope"]) == 2
    assert "Unknown metric nope" in capsys.readouterr().err
    assert main(["evaluate", str(clip), "-o", "f0_method=crepe"]) == 2
    assert "f0_method: 'crepe' is not one of" in capsys.readouterr().err
    assert main(["evaluate", str(clip), str(clip), "-o", "f0_subtract_median=true"]) == 2
    assert "read f0_rmse_cents_median instead" in capsys.readouterr().err


def test_the_evaluation_page_imports_no_model_code() -> None:
    import subprocess
    import sys

    code = ("import pages.evaluation, components.evaluation_results, studio.api.evaluation, sys; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchcrepe', 'transformers', "
            "'resemblyzer', 'distillmos', 'pesq', 'pystoi', 'pysptk', 'librosa'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
