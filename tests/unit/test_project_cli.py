"""`amphion-studio export` and `import`: a project written from one data folder and read into another."""
from __future__ import annotations

from pathlib import Path

import pytest

from studio.cli import main
from studio.services import build_services
from studio.settings import Settings
from tests.unit.test_uploads import tone_file


def test_export_and_import_between_two_data_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    services = build_services(Settings.load(home=first))
    services.start()
    try:
        voice = services.library.create_profile("Anna")
        services.library.add_file(voice.id, tone_file(tmp_path / "a.wav", seconds=2.5), transcribe=False)
        made = services.history.wait(services.generation.submit("builtin.hibari", {"text": "Hello."}).id, 30)
    finally:
        services.stop()
    project = tmp_path / "out" / "project.zip"

    assert main(["--home", str(first), "export", "--profiles", "anna", "--generations", made.id,
                 "-o", str(project)]) == 0
    assert capsys.readouterr().out == f"Wrote {project}: 1 voice, 1 sample and 1 generation\n"
    assert main(["--home", str(second), "import", str(project)]) == 0
    assert capsys.readouterr().out == "Imported 1 voice, 1 sample and 1 generation.\n"
    assert main(["--home", str(second), "import", str(project)]) == 0
    assert "Names already taken: “Anna” as “Anna (imported)”." in capsys.readouterr().out
    imported = build_services(Settings.load(home=second))
    try:
        assert [p.name for p in imported.library.profiles()] == ["Anna", "Anna (imported)"]
        assert imported.history.get(made.id) is not None and imported.history.list().total == 2
    finally:
        imported.stop()


def test_a_saved_comparison_travels_with_what_it_compares(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    services = build_services(Settings.load(home=first))
    services.start()
    try:
        made = [services.history.wait(services.generation.submit("builtin.hibari", {"text": text}).id, 30)
                for text in ("Slow.", "Fast.")]
        saved = services.saved_comparisons.save("Two takes", [f"generation:{m.id}" for m in made])
    finally:
        services.stop()
    project = tmp_path / "project.zip"
    assert main(["--home", str(first), "export", "--comparisons", saved.id, "-o", str(project)]) == 0
    assert "2 generations" in capsys.readouterr().out
    assert main(["--home", str(second), "import", str(project)]) == 0
    imported = build_services(Settings.load(home=second))
    try:
        (comparison,) = imported.saved_comparisons.list()
        assert comparison.name == "Two takes"
        assert sorted(comparison.clips) == sorted(f"generation:{m.id}" for m in made)
        assert all(imported.history.get(m.id) is not None for m in made)
    finally:
        imported.stop()


def test_bad_requests_exit_non_zero_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "-o", str(tmp_path / "x.zip")]) == 2
    assert "Choose what to export" in capsys.readouterr().err
    assert main(["export", "--profiles", "Nobody", "-o", str(tmp_path / "x.zip")]) == 2
    assert "no voice profile 'Nobody'" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()
    assert main(["import", str(tmp_path / "missing.zip")]) == 2
    assert "missing.zip: no such file" in capsys.readouterr().err
    (tmp_path / "notes.zip").write_text("not a zip")
    assert main(["import", str(tmp_path / "notes.zip")]) == 2
    assert "not a zip file" in capsys.readouterr().err
