"""The user's own checkpoints: added from an archive or a folder into <STUDIO_HOME>/checkpoints/<engine id>/,
checked by the engine that will use them, listed, removed; over the API and the CLI. Experiment folders here
have the released layout with placeholder weights (the models themselves run in test_svc_recipes.py)."""
from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest

from engines.contract import InvalidRequest
from studio.cli import main
from studio.services import Services
from tests.unit.test_api import client  # noqa: F401 (fixture)


def experiment(folder: Path, model_type: str = "VitsSVC", singers: tuple[str, ...] = ("opencpop_female1",),
               **condition: bool) -> Path:
    """An SVC experiment folder as Amphion's trainer writes it (weights replaced by placeholder bytes)."""
    step = folder / "checkpoint" / "epoch-0003_step-0000120_loss-0.456789"
    step.mkdir(parents=True)
    (step / "model.safetensors").write_bytes(b"weights")
    (folder / "args.json").write_text(json.dumps({"model_type": model_type, "preprocess": {"spk2id": "singers.json"},
                                                  "model": {"condition_encoder": {"use_contentvec": True,
                                                                                  **condition}}}))
    (folder / "singers.json").write_text(json.dumps({s: i for i, s in enumerate(singers)}))
    for singer in singers:
        (folder / "data" / singer.rsplit("_", 1)[0] / "pitches").mkdir(parents=True, exist_ok=True)
        (folder / "data" / singer.rsplit("_", 1)[0] / "pitches" / "statistics.json").write_text("{}")
    return folder


def zipped(folder: Path, archive: Path, prefix: str | None = None) -> Path:
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in folder.rglob("*"):
            if path.is_file():
                inside = path.relative_to(folder)
                bundle.write(path, str(Path(prefix) / inside) if prefix else str(inside))
    return archive


def test_an_archive_of_an_experiment_becomes_the_engines_newest_checkpoint(services: Services, tmp_path: Path) -> None:
    archive = zipped(experiment(tmp_path / "my-singer"), tmp_path / "upload.zip", prefix="my-singer")
    added = services.checkpoints.add("amphion.vits_svc", archive)
    assert added.name == "my-singer"  # the folder the archive wraps it in
    assert (services.paths.home / "checkpoints" / "amphion.vits_svc" / "my-singer" / "args.json").is_file()
    engine = services.registry.get("amphion.vits_svc")
    assert engine.param("checkpoint").default == "my-singer"
    assert [v for v, _ in engine.param("singer").choices] == ["opencpop_female1"]

    flat = tmp_path / "flat.tar.gz"
    with tarfile.open(flat, "w:gz") as bundle:  # files at the top of the archive, named on the way in
        for path in experiment(tmp_path / "second").rglob("*"):
            bundle.add(path, str(path.relative_to(tmp_path / "second")), recursive=False)
    services.checkpoints.add("amphion.vits_svc", flat, "second-take")
    assert [c.name for c in services.checkpoints.list("amphion.vits_svc")] == ["second-take", "my-singer"]
    assert services.checkpoints.remove("amphion.vits_svc", "my-singer") > 0
    assert [c.name for c in services.checkpoints.list("amphion.vits_svc")] == ["second-take"]


def test_what_the_engine_cannot_use_is_refused_with_its_reasons_and_nothing_stays(services: Services,
                                                                                   tmp_path: Path) -> None:
    folder = services.paths.home / "checkpoints" / "amphion.vits_svc"
    wrong = experiment(tmp_path / "como", model_type="DiffComoSVC")
    with pytest.raises(InvalidRequest, match="VitsSVC cannot use this checkpoint: como is a DiffComoSVC checkpoint, "
                                             "not VitsSVC."):
        services.checkpoints.add("amphion.vits_svc", wrong)
    assert services.checkpoints.add("amphion.diffcomo_svc", wrong).name == "como"  # where it belongs
    with pytest.raises(InvalidRequest, match="already has a checkpoint named 'como'"):
        services.checkpoints.add("amphion.diffcomo_svc", wrong)
    with pytest.raises(InvalidRequest, match="points outside the archive"):
        with zipfile.ZipFile(tmp_path / "evil.zip", "w") as bundle:
            bundle.writestr("../../escape.txt", "x")
        services.checkpoints.add("amphion.vits_svc", tmp_path / "evil.zip")
    with pytest.raises(InvalidRequest, match="could not be unpacked"):
        (tmp_path / "broken.zip").write_bytes(b"PK not really")
        services.checkpoints.add("amphion.vits_svc", tmp_path / "broken.zip")
    with pytest.raises(InvalidRequest, match="give a checkpoint folder, or an archive"):
        services.checkpoints.add("amphion.vits_svc", tmp_path / "evil.zip.part")
    with pytest.raises(InvalidRequest, match="Hibari does not take checkpoints of your own"):
        services.checkpoints.add("builtin.hibari", wrong)
    with pytest.raises(InvalidRequest, match="cannot name a checkpoint"):
        services.checkpoints.add("amphion.vits_svc", experiment(tmp_path / "ok"), "../up")
    assert sorted(p.name for p in folder.iterdir()) == []  # no staging leftovers, nothing half-copied
    assert not (tmp_path.parent / "escape.txt").exists()


def test_content_features_the_studio_cannot_extract_are_named(services: Services, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="wenet reads WeNet features; put the WeNet model where its config says"):
        services.checkpoints.add("amphion.transformer_svc", experiment(tmp_path / "wenet", "TransformerSVC",
                                                                       use_wenet=True))
    with pytest.raises(InvalidRequest, match="mert reads MERT features, which the studio does not extract"):
        services.checkpoints.add("amphion.transformer_svc", experiment(tmp_path / "mert", "TransformerSVC",
                                                                       use_mert=True))


def test_noro_checks_its_own_layout(services: Services, tmp_path: Path) -> None:
    folder = tmp_path / "noro"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(InvalidRequest, match="noro has no model.safetensors. noro has no HuBERT checkpoint"):
        services.checkpoints.add("amphion.noro", folder)


async def test_checkpoints_over_the_api(client: httpx.AsyncClient, services: Services, tmp_path: Path) -> None:  # noqa: F811
    archive = zipped(experiment(tmp_path / "api-singer"), tmp_path / "api-singer.zip")
    with archive.open("rb") as data:
        added = await client.post("/api/checkpoints/amphion.vits_svc", files={"file": ("api-singer.zip", data)})
    assert added.status_code == 201 and added.json()["name"] == "api-singer"
    listed = (await client.get("/api/checkpoints/amphion.vits_svc")).json()
    assert [c["name"] for c in listed] == ["api-singer"]
    with archive.open("rb") as data:
        again = await client.post("/api/checkpoints/amphion.vits_svc", files={"file": ("api-singer.zip", data)})
    assert again.status_code == 400 and "already has a checkpoint named" in again.json()["detail"]
    wrong = await client.post("/api/checkpoints/amphion.vits_svc", files={"file": ("notes.txt", b"hello")})
    assert wrong.status_code == 400 and "send an archive" in wrong.json()["detail"]
    assert (await client.delete("/api/checkpoints/amphion.vits_svc/api-singer")).json()["freed_bytes"] > 0
    assert (await client.delete("/api/checkpoints/amphion.vits_svc/api-singer")).status_code == 404
    assert (await client.get("/api/checkpoints/builtin.hibari")).status_code == 404


def test_checkpoints_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = experiment(tmp_path / "cli-singer")
    assert main(["checkpoint", "add", "amphion.transformer_svc", str(source)]) == 1
    assert "cli-singer is a VitsSVC checkpoint, not TransformerSVC." in capsys.readouterr().err
    assert main(["checkpoint", "add", "amphion.vits_svc", str(source), "--name", "from-cli"]) == 0
    assert "Added from-cli" in capsys.readouterr().out
    assert main(["checkpoint", "list", "amphion.vits_svc"]) == 0
    assert capsys.readouterr().out.startswith("from-cli")
    assert main(["checkpoint", "remove", "amphion.vits_svc", "from-cli"]) == 0
    assert "Removed from-cli" in capsys.readouterr().out
