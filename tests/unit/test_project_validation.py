"""Importing a project that is hostile, damaged, incomplete or from a newer studio: a clear refusal, and the studio
left exactly as it was (no row, no file); a crash in the middle is cleaned up at the next start."""
from __future__ import annotations

import fcntl
import json
import os
import stat
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from studio.history.compare import VOTES
from studio.history.query import GENERATIONS
from studio.library.tables import PROFILES, SAMPLES
from studio.projects import ProjectError, Selection, archive, importer
from studio.services import Services, build_services
from studio.settings import Settings
from studio.uploads import UPLOADS
from tests.unit.test_uploads import tone_file

Members = dict[str, bytes]


@pytest.fixture
def project(services: Services, tmp_path: Path) -> Path:
    """A small real project: a voice with one sample, and two generations voted on."""
    voice = services.library.create_profile("Tess")
    services.library.add_file(voice.id, tone_file(tmp_path / "tess.wav", seconds=2.5), transcript="hum",
                              transcribe=False)
    made = [services.history.wait(services.generation.submit("test.tone", {"text": t}, {"seconds": 0.4, "steps": 1,
                                                                                          "step_seconds": 0}).id, 30)
            for t in ("one", "two")]
    services.comparisons.vote([f"generation:{m.id}" for m in made], f"generation:{made[0].id}")
    target = tmp_path / "tess.zip"
    services.projects.export(Selection(profiles=("Tess",), generations=tuple(m.id for m in made)), target)
    return target


@pytest.fixture
def empty(tmp_path: Path) -> Services:
    services = build_services(Settings.load(home=tmp_path / "empty-home"))
    yield services
    services.stop()


def members(path: Path) -> Members:
    with zipfile.ZipFile(path) as source:
        return {name: source.read(name) for name in source.namelist()}


def rezip(path: Path, content: Members, compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as target:
        for name, data in content.items():
            target.writestr(name, data)
    return path


def with_manifest(content: Members, change: Callable[[dict], None]) -> Members:
    manifest = json.loads(content["manifest.json"])
    change(manifest)
    return {**content, "manifest.json": json.dumps(manifest).encode()}


def state(services: Services) -> tuple[dict[str, int], list[str]]:
    """What an import could have left: row counts, and every file under the studio's data folders."""
    with services.db.connect() as connection:
        counts = {t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in (PROFILES, SAMPLES, UPLOADS, GENERATIONS, VOTES)}
    home = services.paths.home
    files = sorted(str(p.relative_to(home)) for folder in ("library", "uploads", "generations", ".imports")
                   for p in (home / folder).rglob("*"))
    return counts, files


def refused(services: Services, path: Path, message: str, status: int = 400) -> None:
    before = state(services)
    with pytest.raises(ProjectError, match=message) as refusal:
        services.projects.import_project(path)
    assert refusal.value.status == status
    assert state(services) == before  # all or nothing


def test_the_small_project_imports(project: Path, empty: Services) -> None:
    report = empty.projects.import_project(project)
    assert (len(report.profiles), report.samples, report.generations, report.votes) == (1, 1, 2, 2)
    assert report.describe() == "Imported 1 voice, 1 sample, 2 generations and 2 votes."


def test_a_version_1_project_without_comparisons_still_imports(project: Path, empty: Services,
                                                               tmp_path: Path) -> None:
    def as_version_1(manifest: dict) -> None:
        manifest.update(version=1)
        del manifest["comparisons"]

    report = empty.projects.import_project(rezip(tmp_path / "v1.zip", with_manifest(members(project), as_version_1)))
    assert (report.generations, report.votes, report.comparisons) == (2, 2, 0)


@pytest.mark.parametrize("name", ["../evil.wav", "/tmp/evil.wav", "C:/evil.wav", "a\\..\\evil.wav", "samples/../../x",
                                  "./manifest.json", "a//b"])
def test_unsafe_member_names_are_refused(project: Path, empty: Services, tmp_path: Path, name: str) -> None:
    hostile = rezip(tmp_path / "hostile.zip", {**members(project), name: b"RIFF"})
    refused(empty, hostile, "unsafe file name")
    assert not (tmp_path / "evil.wav").exists() and not Path("/tmp/evil.wav").exists()


def test_links_and_duplicates_are_refused(project: Path, empty: Services, tmp_path: Path) -> None:
    linked = tmp_path / "link.zip"
    rezip(linked, members(project))
    with zipfile.ZipFile(linked, "a") as target:
        info = zipfile.ZipInfo("samples/link.wav")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        target.writestr(info, "/etc/passwd")
    refused(empty, linked, "contains a link")
    content = members(project)
    doubled = tmp_path / "double.zip"
    rezip(doubled, content)
    with pytest.warns(UserWarning), zipfile.ZipFile(doubled, "a") as target:
        target.writestr("manifest.json", content["manifest.json"])
    refused(empty, doubled, "contains manifest.json twice")


def test_zip_bombs_and_oversized_members_are_refused(project: Path, empty: Services, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = rezip(tmp_path / "bomb.zip", {**members(project), "padding.bin": bytes(20 * 2**20)}, zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 2**20
    refused(empty, bomb, "expands .* times .*: that is a zip bomb", 413)
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 10_000)
    refused(empty, project, r"expands to 0 MB; files of at most 0 MB are accepted", 413)
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 4 * 2**30)
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 50_000)
    refused(empty, project, "expands to more than", 413)


def test_missing_damaged_and_mislabelled_files_are_refused(project: Path, empty: Services, tmp_path: Path) -> None:
    content = members(project)
    audio = next(name for name in content if name.startswith("generations/"))
    refused(empty, rezip(tmp_path / "missing.zip", {k: v for k, v in content.items() if k != audio}),
            f"incomplete: {audio} is missing")
    flipped = bytes(b ^ 0xFF for b in content[audio][:200]) + content[audio][200:]
    refused(empty, rezip(tmp_path / "damaged.zip", {**content, audio: flipped}), "damaged .*checksum")
    refused(empty, rezip(tmp_path / "short.zip", {**content, audio: content[audio][:-10]}),
            "is [0-9,]+ bytes, but the manifest says")
    noise = np.random.default_rng(0).bytes(len(content[audio]))

    def relabel(manifest: dict) -> None:
        import hashlib

        entry = next(g for g in manifest["generations"] if g["audio"]["path"] == audio)
        entry["audio"]["sha256"] = hashlib.sha256(noise).hexdigest()

    refused(empty, rezip(tmp_path / "noise.zip", with_manifest({**content, audio: noise}, relabel)),
            f"{audio} in the project is not WAV audio")


def test_other_files_and_manifests_say_what_is_wrong(project: Path, empty: Services, tmp_path: Path) -> None:
    content = members(project)
    not_zip = tmp_path / "notes.zip"
    not_zip.write_bytes(b"just some text, not a zip")
    refused(empty, not_zip, "not a zip file")
    refused(empty, rezip(tmp_path / "bare.zip", {k: v for k, v in content.items() if k != "manifest.json"}),
            "no manifest.json")
    refused(empty, rezip(tmp_path / "json.zip", {**content, "manifest.json": b"{not json"}), "not valid JSON")
    refused(empty, rezip(tmp_path / "other.zip", with_manifest(content, lambda m: m.update(format="x"))),
            "not an Amphion Studio project")
    refused(empty, rezip(tmp_path / "newer.zip", with_manifest(content, lambda m: m.update(version=3))),
            r"exported by a newer Amphion Studio \(project format 3\); this studio reads format 2. Update the studio")
    refused(empty, rezip(tmp_path / "clip.zip", with_manifest(content, lambda m: m.update(comparisons=[{
        "id": "c1", "name": "x", "clips": ["generation:a", "../etc"], "created_at": 1, "updated_at": 1}]))),
            r"comparisons\[0\]\.clips\[1\]: String should match")
    for count, limit in ((1, "at least 2 items"), (9, "at most 8 items")):
        clips = [f"generation:g{i}" for i in range(count)]
        refused(empty, rezip(tmp_path / f"{count}.zip", with_manifest(content, lambda m: m.update(comparisons=[{
            "id": "c1", "name": "x", "clips": clips, "created_at": 1, "updated_at": 1}]))),
                rf"comparisons\[0\]\.clips: List should have {limit}")
    refused(empty, rezip(tmp_path / "rating.zip", with_manifest(
        content, lambda m: m["generations"][1].update(rating=9))),
            r"manifest is not valid: generations\[1\]\.rating: Input should be less than or equal to 5")
    refused(empty, rezip(tmp_path / "id.zip", with_manifest(
        content, lambda m: m["samples"][0].update(id="../../etc"))), r"samples\[0\]\.id: String should match")
    refused(empty, rezip(tmp_path / "orphan.zip", with_manifest(content, lambda m: m.update(profiles=[]))),
            "inconsistent: sample .* belongs to voice profile .*, which is not in it")
    refused(empty, rezip(tmp_path / "tags.zip", with_manifest(
        content, lambda m: m["generations"][0].update(tags=["x" * 41]))), "generation .* cannot be imported: Tags")


def test_a_failure_while_committing_leaves_nothing(project: Path, empty: Services,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real_insert = importer.insert

    def failing(table):  # type: ignore[no-untyped-def]
        if table is VOTES:  # the last table written: every file is in place by then
            raise OSError("disk gone")
        return real_insert(table)

    monkeypatch.setattr(importer, "insert", failing)
    refused_state = state(empty)
    with pytest.raises(OSError, match="disk gone"):
        empty.projects.import_project(project)
    assert state(empty) == refused_state


def test_an_import_cut_short_by_a_crash_is_undone_at_the_next_start(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "crashed"
    first = build_services(Settings.load(home=home))
    first.projects.import_project(project)
    first.stop()
    staging = home / importer.STAGING
    placed = ["generations/cafe00000000.wav", "uploads/cafe00000001", "library/cafe00000002"]
    for relative in placed:
        path = home / relative
        if path.suffix:
            path.write_bytes(b"RIFF")
        else:
            path.mkdir()
            (path / "normalised.wav").write_bytes(b"RIFF")
    (staging / "cut").mkdir(parents=True)
    (staging / "cut" / importer.JOURNAL).write_text(json.dumps(
        {"placed": placed + ["../outside.txt"], "ids": {"generations": ["cafe00000000"]}}))
    (tmp_path / "outside.txt").write_text("not the studio's")
    (staging / "incoming-abc.zip").write_bytes(b"half an upload")
    (staging / "incoming-new.zip").write_bytes(b"a page is receiving this one")
    (staging / "busy").mkdir()  # another process is importing with it
    hours_ago = time.time() - 7 * 3600
    for old in ("cut", "incoming-abc.zip", "busy"):
        os.utime(staging / old, (hours_ago, hours_ago))
    kept_before = sorted(p.name for p in (home / "generations").iterdir())

    with open(staging / "busy" / importer.LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        again = build_services(Settings.load(home=home))
    try:
        assert not any((home / relative).exists() for relative in placed)
        assert sorted(p.name for p in (home / "generations").iterdir()) == [
            n for n in kept_before if n != "cafe00000000.wav"]
        assert (tmp_path / "outside.txt").exists()
        assert sorted(p.name for p in staging.iterdir()) == ["busy", "incoming-new.zip"]
        assert again.history.list().total == 2  # the import that finished is untouched
    finally:
        again.stop()


def test_long_names_stay_within_the_limit_when_renamed(services: Services, empty: Services, tmp_path: Path) -> None:
    long_name = "A" * 80
    voice = services.library.create_profile(long_name)
    services.library.add_file(voice.id, tone_file(tmp_path / "a.wav", seconds=2.5), transcribe=False)
    path = tmp_path / "long.zip"
    services.projects.export(Selection(profiles=(voice.id,)), path)
    empty.projects.import_project(path)
    (renamed,) = empty.projects.import_project(path).profiles
    assert renamed.name == "A" * 69 + " (imported)" and len(renamed.name) == 80
    assert empty.library.profile(renamed.id).name == renamed.name


def test_a_stored_row_the_format_cannot_hold_is_named(services: Services, tmp_path: Path) -> None:
    made = services.history.wait(services.generation.submit("test.tone", {"text": "x"}, {"seconds": 0.4, "steps": 1,
                                                                                          "step_seconds": 0}).id, 30)
    with services.db.begin() as connection:
        connection.execute(GENERATIONS.update().where(GENERATIONS.c.id == made.id).values(sample_rate=0))
    with pytest.raises(ProjectError, match=f"The generation {made.id} cannot be exported: its sample_rate is 0"):
        services.projects.export(Selection(everything=True), tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()
