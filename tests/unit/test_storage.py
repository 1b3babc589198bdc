"""Atomic writes: a finished write replaces the file whole, a failed one leaves the old file and nothing else."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from studio.storage import atomic_write, atomic_write_text


def test_a_write_lands_whole_in_a_new_folder_readable_by_its_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "take.txt"
    atomic_write_text(target, "first take")
    assert target.read_text() == "first take"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["take.txt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "take.wav"
    atomic_write_text(target, "the old take")

    def half_then_crash(tmp: Path) -> None:
        tmp.write_text("half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_crash)
    assert target.read_text() == "the old take"
    assert [p.name for p in tmp_path.iterdir()] == ["take.wav"]
