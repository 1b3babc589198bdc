"""Projects: a studio exported as one zip and imported into a fresh one compares equal (audio by hash, every column,
lineage, takes, votes), still works (re-runs, profiles as references), and imported twice is remapped consistently."""
from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from studio.history import HistoryQuery
from studio.history.compare import VOTES
from studio.jobs import JobState
from studio.library import NotFound
from studio.projects import FORMAT, ProjectError, Selection
from studio.services import Services, build_services
from studio.settings import Settings
from tests.conftest import FAKE_ENGINES, SENTENCE
from tests.library_fixtures import hibari_speech, padded, write
from tests.unit.test_uploads import tone_file

JOB_WAIT = 60


def studio(home: Path) -> Services:
    services = build_services(Settings.load(home=home, engine_packages=FAKE_ENGINES))
    services.start()
    return services


def done(services: Services, job_id: str) -> dict[str, Any]:
    job = services.jobs.wait(job_id, JOB_WAIT)
    assert job.state == JobState.succeeded, job.error
    return job.result or {}


@dataclass(frozen=True)
class Source:
    home: Path
    zip: Path  # everything
    anna: str
    bob: str
    speech: str  # an original generation with one more take
    echo: str  # test.echo reading Anna's best sample
    converted: str  # the WORLD converter: an upload toward Bob
    clip: str  # the upload it converted
    comparison: str  # saved: the clip against its conversion


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """A studio with two voices (one sample transcribed with word timings and fixed into a second version; one from
    a generation), takes, favourites, tags, notes, a rating, references to samples and an upload, two blind
    rounds and two saved comparisons, exported as one project."""
    folder = tmp_path_factory.mktemp("source")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        services = studio(folder / "home")
        try:
            library, history = services.library, services.history
            anna = library.create_profile("Anna", "calm and warm", "en")
            spoken = library.add_file(anna.id, write(folder / "anna.wav", padded(hibari_speech(SENTENCE), 1.0, 1.0)),
                                      transcribe=False)
            done(services, library.transcribe(spoken.id).id)
            done(services, library.fix(spoken.id, "trim").id)
            speech = history.wait(services.generation.submit(
                "builtin.hibari", {"text": "Kept for later, and long enough to become a voice sample."},
                {"seed": 3}).id, JOB_WAIT)
            take = history.wait(history.rerun(speech.id).id, JOB_WAIT)
            history.update(speech.id, favourite=True, rating=4, tags=["intro", "calm"], notes="the good one")
            history.update(take.id, rating=2)
            bob = library.create_profile("Bob", language="en")
            library.add_generation(bob.id, job_id=speech.id, transcribe=False)
            library.add_file(bob.id, tone_file(folder / "bob.wav", seconds=3.0, hz=140), transcript="a low hum",
                             transcribe=False)
            echo = history.wait(services.generation.submit("test.echo", {"source": {"profile": anna.id}}).id,
                                JOB_WAIT)
            clip = services.uploads.store_file(tone_file(folder / "source.wav", seconds=2.0, hz=220))
            converted = history.wait(services.conversion.submit("vc", clip.id, {"profile": bob.id},
                                                                params={"semitones": 2}).id, JOB_WAIT)
            services.comparisons.vote([f"generation:{speech.id}", f"generation:{echo.id}"], f"generation:{echo.id}")
            services.comparisons.vote([f"upload:{clip.id}", f"generation:{converted.id}"], None)
            services.saved_comparisons.save("Speech and echo", [f"generation:{speech.id}", f"generation:{echo.id}"])
            comparison = services.saved_comparisons.save("Clip against its conversion",
                                                         [f"upload:{clip.id}", f"generation:{converted.id}"])
            target = folder / "everything.zip"
            services.projects.export(Selection(everything=True), target)
        finally:
            services.stop()
    yield Source(folder / "home", target, anna.id, bob.id, speech.id, echo.id, converted.id, clip.id, comparison.id)


@pytest.fixture
def fresh(studio_home: Path) -> Iterator[Services]:
    services = studio(studio_home)
    yield services
    services.stop()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def portable(value: Any, home: Path) -> Any:
    """A value with the studio's own folder taken out of every path in it (two studios live in two folders)."""
    if isinstance(value, dict):
        return {k: portable(v, home) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, home) for v in value]
    return value.replace(str(home), "HOME") if isinstance(value, str) else value


def contents(services: Services) -> dict[str, Any]:
    """Everything a project carries, as comparable data: rows (paths relative to the home) and files by hash."""
    home = services.paths.home
    library = services.library
    profiles = [asdict(p) for p in library.profiles()]
    samples = [{**portable(asdict(s), home), "original": digest(s.original), "normalised": digest(s.normalised)}
               for p in library.profiles() for s in library.samples(p.id)]
    generations = [{**portable(asdict(g), home), "file": digest(services.history.audio_path(g))}
                   for g in services.history.list(HistoryQuery(limit=500, sort="oldest")).items]
    with services.db.connect() as connection:
        votes = [{k: v for k, v in row._mapping.items() if k != "seq"}
                 for row in connection.execute(select(VOTES).order_by(VOTES.c.seq))]
    referenced = {ref["upload"] for g in generations for ref in g["inputs"].values()
                  if isinstance(ref, dict) and "upload" in ref}
    uploads = [{**portable(asdict(u), home), "original": digest(u.original), "normalised": digest(u.normalised)}
               for u in services.uploads.list() if u.id in referenced]
    return {"profiles": profiles, "samples": samples, "generations": generations, "votes": votes, "uploads": uploads,
            "tally": asdict(services.comparisons.tally()),
            "comparisons": sorted((asdict(c) for c in services.saved_comparisons.list()), key=lambda c: c["id"])}


def test_a_round_trip_into_a_fresh_studio_keeps_everything(source: Source, fresh: Services) -> None:
    listed = fresh.saved_comparisons.revision
    report = fresh.projects.import_project(source.zip)
    assert fresh.saved_comparisons.revision != listed  # an open Compare page lists the imported comparisons
    assert (len(report.profiles), report.samples, report.generations, report.uploads, report.votes,
            report.comparisons) == (2, 4, 4, 1, 4, 2)
    assert report.new_ids == 0 and not any(p.renamed for p in report.profiles)
    before = build_services(Settings.load(home=source.home, engine_packages=FAKE_ENGINES))
    try:
        assert contents(fresh) == contents(before)
    finally:
        before.stop()

    imported = contents(fresh)
    original, trimmed = fresh.library.versions(next(s["id"] for s in imported["samples"] if s["parent_id"]))
    assert trimmed.parent_id == original.id == trimmed.root_id and trimmed.source == "fix"
    assert original.words and original.words[0]["start"] > 0.5 and "quick brown fox" in original.transcript.lower()
    assert original.measures["leading_silence"] >= 0.9 and trimmed.measures["leading_silence"] < 0.5
    assert [t.take for t in fresh.history.takes(source.speech)] == [1, 2]
    speech = fresh.history.require(source.speech)
    assert (speech.favourite, speech.rating, speech.tags, speech.notes) == (True, 4, ["intro", "calm"], "the good one")
    assert fresh.history.list(HistoryQuery(search="later", grouped=True)).total == 1  # the text index knows them
    from_generation = next(s for s in fresh.library.samples(source.bob) if s.source == "generation")
    assert from_generation.source_ref == source.speech

    assert fresh.jobs.get(source.speech) is None  # its job stayed in the other studio; it can still be kept
    kept = fresh.library.add_generation(source.anna, job_id=source.speech, transcript=speech.text, transcribe=False)
    assert (kept.source, kept.source_ref, kept.transcript) == ("generation", source.speech, speech.text)
    assert digest(kept.original) == digest(fresh.history.audio_path(speech))
    with pytest.raises(NotFound):
        fresh.library.add_generation(source.anna, job_id="../../studio", transcribe=False)


def test_imported_references_still_work(source: Source, fresh: Services) -> None:
    fresh.projects.import_project(source.zip)
    echo = fresh.history.require(source.echo)
    again = fresh.history.wait(fresh.history.rerun(echo.id).id, JOB_WAIT)  # finds its sample in this studio
    assert digest(fresh.history.audio_path(again)) == digest(fresh.history.audio_path(echo))
    assert (again.original_id, again.take, again.profile_id) == (echo.id, 2, source.anna)
    made = fresh.history.wait(fresh.generation.submit("test.echo", {"source": {"profile": "Anna"}}).id, JOB_WAIT)
    best = fresh.library.sample(made.inputs["source"]["sample"])
    assert best.profile_id == source.anna and digest(fresh.history.audio_path(made)) == digest(
        fresh.history.audio_path(echo))
    converted = fresh.history.wait(fresh.history.rerun(source.converted).id, JOB_WAIT)  # an upload and a profile
    assert digest(fresh.history.audio_path(converted)) == digest(
        fresh.history.audio_path(fresh.history.require(source.converted)))


def test_importing_twice_gives_new_ids_and_names_consistently(source: Source, fresh: Services) -> None:
    fresh.projects.import_project(source.zip)
    second = fresh.projects.import_project(source.zip)
    third = fresh.projects.import_project(source.zip)
    assert [(p.name_in_project, p.name) for p in second.profiles] == [("Anna", "Anna (imported)"),
                                                                         ("Bob", "Bob (imported)")]
    assert [p.name for p in third.profiles] == ["Anna (imported 2)", "Bob (imported 2)"]
    assert second.new_ids == 2 + 4 + 1 + 4 + 2 + 2 and "Names already taken: “Anna” as “Anna (imported)”" in \
        second.describe()
    anna = fresh.library.profile(second.profiles[0].id)
    assert anna.id != source.anna and anna.samples == 2
    original, trimmed = fresh.library.samples(anna.id)
    assert trimmed.parent_id == original.id == trimmed.root_id  # lineage follows the new ids
    assert digest(original.normalised) == digest(fresh.library.samples(source.anna)[0].normalised)

    copies = [g for g in fresh.history.list(HistoryQuery(limit=500)).items if g.id not in (
        source.speech, source.echo, source.converted) and g.original_id not in (source.speech,)]
    assert len(copies) == 2 * 4 and len({c.id for c in copies}) == 8
    for first in (c for c in copies if c.engine_id == "builtin.hibari" and c.take == 1):
        takes = fresh.history.takes(first.id)  # the take follows its original's new id
        assert [t.take for t in takes] == [1, 2] and takes[1].original_id == first.id
        assert takes[1].id in {c.id for c in copies} and first.group_size == 2
    for converted in (c for c in copies if c.engine_id == "builtin.world_vc"):
        clip = fresh.uploads.get(converted.inputs["source"]["upload"])
        assert clip is not None and converted.inputs["source"]["path"] == str(clip.normalised)
        assert converted.profile_id in {p.id for p in second.profiles + third.profiles}
    echoes = [c for c in copies if c.engine_id == "test.echo"]
    for echo in echoes:
        reference = echo.inputs["source"]
        sample = fresh.library.sample(reference["sample"])
        assert sample.profile_id == reference["profile"] == echo.profile_id != source.anna
        assert reference["path"] == str(sample.normalised) and Path(reference["path"]).is_file()
    rerun = fresh.history.wait(fresh.history.rerun(echoes[0].id).id, JOB_WAIT)
    assert rerun.inputs["source"]["sample"] == echoes[0].inputs["source"]["sample"]

    with fresh.db.connect() as connection:
        votes = connection.execute(select(VOTES)).all()
    assert len({v.round_id for v in votes}) == 2 * 3
    assert len({v.item for v in votes}) == 3 * 4  # each copy's votes name that copy's clips
    assert len({v.profile_id for v in votes if v.profile_id}) == 3 * 2
    for vote in votes:
        assert fresh.comparisons.clip(vote.item)  # every clip key names a clip of this studio
    assert fresh.comparisons.tally().rounds == 6
    saved = fresh.saved_comparisons.list()
    assert len(saved) == 3 * 2 and len({c.id for c in saved}) == 6
    assert len({key for c in saved for key in c.clips}) == 3 * 4  # each copy compares that copy's clips
    for comparison in saved:
        assert [clip.key for clip in fresh.comparisons.clips(comparison.clips)] == comparison.clips

    bob_copy = second.profiles[1]
    (from_generation,) = [s for s in fresh.library.samples(bob_copy.id) if s.source == "generation"]
    speech_copy = fresh.history.require(from_generation.source_ref)  # the copy of the generation it came from
    assert speech_copy.id != source.speech and speech_copy.take == 1 and speech_copy in copies


def test_a_selection_brings_what_it_needs(source: Source, studio_home: Path, tmp_path: Path) -> None:
    services = studio(source.home)
    try:
        target = tmp_path / "echo.zip"
        summary = services.projects.export(Selection(generations=(source.echo,)), target)
        only_bob = services.projects.export(Selection(profiles=("bob",)), tmp_path / "bob.zip")
        compared = services.projects.export(Selection(comparisons=(source.comparison,)), tmp_path / "compared.zip")
        with pytest.raises(ProjectError, match="No saved comparison nope"):
            services.projects.export(Selection(comparisons=("nope",)), tmp_path / "x.zip")
        with pytest.raises(ProjectError, match="There is no voice profile 'Carol'") as unknown:
            services.projects.export(Selection(profiles=("Carol",)), tmp_path / "x.zip")
        assert unknown.value.status == 404
        with pytest.raises(ProjectError, match="No generation nope"):
            services.projects.export(Selection(generations=("nope",)), tmp_path / "x.zip")
        with pytest.raises(ProjectError, match="Choose what to export"):
            services.projects.export(Selection(), tmp_path / "x.zip")
        assert not (tmp_path / "x.zip").exists()
    finally:
        services.stop()
    manifest = json.loads(zipfile.ZipFile(target).read("manifest.json"))
    assert manifest["format"] == FORMAT and manifest["version"] == 2 and manifest["comparisons"] == []
    assert [p["name"] for p in manifest["profiles"]] == ["Anna"]  # the voice its reference came from
    assert len(manifest["samples"]) == 2 and [g["id"] for g in manifest["generations"]] == [source.echo]
    assert {v["item"] for v in manifest["votes"]} == {f"generation:{source.echo}", f"generation:{source.speech}"}
    assert "path" not in manifest["generations"][0]["inputs"]["source"]  # no paths of the exporting machine
    assert (summary.profiles, summary.samples, summary.generations, summary.votes) == (1, 2, 1, 2)
    assert (only_bob.profiles, only_bob.samples, only_bob.generations) == (1, 2, 0)
    (comparison,) = json.loads(zipfile.ZipFile(compared.path).read("manifest.json"))["comparisons"]
    assert comparison["clips"] == [f"upload:{source.clip}", f"generation:{source.converted}"]
    assert (compared.comparisons, compared.generations, compared.uploads, compared.profiles) == (1, 1, 1, 1)

    fresh = studio(studio_home)
    try:
        fresh.projects.import_project(target)
        (item,) = fresh.history.list().items
        assert item.id == source.echo and fresh.comparisons.tally().rounds == 1
        with pytest.raises(Exception, match="no generation"):  # the other clip voted on was not exported
            fresh.comparisons.clip(f"generation:{source.speech}")
        fresh.projects.import_project(compared.path)
        (saved,) = fresh.saved_comparisons.list()
        assert saved.name == "Clip against its conversion" and len(fresh.comparisons.clips(saved.clips)) == 2
    finally:
        fresh.stop()
