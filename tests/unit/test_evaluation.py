"""The evaluation service: pairs, clips, sets (folders and zips) and generations, run as jobs; reports stored and
found again by the generation they scored; a bad item never stops a set; bad requests say what to fix."""
from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engines.builtin.hibari_tts import HibariTTS
from engines.contract import InputSlot, InvalidRequest
from studio.evaluation import EvaluationRequest
from studio.evaluation.inputs import accept_zip, extract_zip
from studio.jobs import JobState
from studio.services import Services
from tests.evaluation_fixtures import SENTENCE_A, SENTENCE_B, speech, write  # noqa: F401

FAST = {"periodicity_model": "tiny"}


def finish(services: Services, request: EvaluationRequest):  # type: ignore[no-untyped-def]
    job = services.jobs.wait(services.evaluation.submit(request).id, timeout=120)
    assert job.state == JobState.succeeded, job.error
    report = services.evaluation.report(job.id)
    assert report is not None
    return job, report


def generate(services: Services, text: str) -> str:
    """A Hibari generation of `text`, once it is kept in the history (the job ends a moment before)."""
    return services.history.wait(services.generation.submit("builtin.hibari", {"text": text}, {"seed": 1}).id,
                                 timeout=60).id


def test_a_generation_scored_against_a_reference_is_stored_under_its_job(services: Services, speech,
                                                                         tmp_path: Path) -> None:
    generation = generate(services, SENTENCE_A)
    reference = write(tmp_path / "reference.wav", *speech["a"])
    generated = services.paths.generations / f"{generation}.wav"
    job, report = finish(services, EvaluationRequest("pair", str(generated), str(reference), SENTENCE_A,
                                                     metrics=("wer", "speaker_similarity", "mcd", "pesq_wb")))
    assert report.id == job.id and report.mode == "pair" and job.result["evaluation_id"] == job.id
    (item,) = report.items
    assert item.source_job == generation and item.generated == f"generations/{generation}.wav"
    assert item.values["wer"] == 0.0 and item.values["speaker_similarity"] > 0.9 and item.values["mcd"] < 3
    assert report.flat() == pytest.approx({k: item.values[k] for k in ("wer", "speaker_similarity", "mcd", "pesq_wb")})
    ((evaluation_id, stored),) = services.evaluation.for_job(generation)
    assert evaluation_id == job.id and stored.values == item.values


def test_generations_are_scored_against_their_own_text(services: Services) -> None:
    jobs = (generate(services, SENTENCE_A), generate(services, SENTENCE_B))
    _, report = finish(services, EvaluationRequest("jobs", jobs=jobs, metrics=("wer", "distillmos")))
    assert [item.source_job for item in report.items] == list(jobs)
    assert [item.text for item in report.items] == [SENTENCE_A, SENTENCE_B]
    assert all(item.values["wer"] < 0.1 and item.values["distillmos"] > 4 for item in report.items)  # tiny.en: ≤ 1 slip
    assert report.summary["wer"]["n"] == 2
    assert len(services.evaluation.for_job(jobs[1])) == 1


def test_one_clip_gets_every_metric_that_needs_no_reference(services: Services, speech, tmp_path: Path) -> None:
    generated = write(tmp_path / "clip.wav", *speech["a"])
    _, report = finish(services, EvaluationRequest("clip", str(generated), text=SENTENCE_A))
    assert report.metrics == ["wer", "cer", "distillmos", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808",
                              "loudness_lufs", "snr_db"]
    assert report.items[0].values["wer"] == 0.0 and set(report.items[0].errors) == {"snr_db"}


def test_a_set_with_bad_items_scores_the_good_ones_and_explains_each_bad_one(services: Services, speech,
                                                                           tmp_path: Path) -> None:
    audio, rate = speech["a"]
    reference, generated = tmp_path / "reference", tmp_path / "generated"
    for n, gain in enumerate((1.0, 0.8, 0.6)):
        write(reference / f"good{n}.wav", audio, rate)
        write(generated / f"good{n}.flac", audio * gain, rate)  # names match without their extension
    write(reference / "resampled.wav", audio, rate)
    import soxr

    write(generated / "resampled.wav", soxr.resample(audio, rate, 16_000), 16_000)
    write(reference / "silent.wav", audio, rate)
    write(generated / "silent.wav", np.zeros(rate), rate)
    write(reference / "short.wav", audio, rate)
    write(generated / "short.wav", audio[: rate], rate)
    write(generated / "orphan.wav", audio, rate)
    write(reference / "missing.wav", audio, rate)
    (generated / "broken.wav").write_bytes(b"not audio at all")
    write(reference / "broken.wav", audio, rate)

    job, report = finish(services, EvaluationRequest("set", str(generated), str(reference),
                                                     metrics=("energy_rmse", "speaker_similarity", "loudness_lufs")))
    items = {item.name: item for item in report.items}
    assert set(items) == {"good0", "good1", "good2", "resampled", "silent", "short", "orphan", "missing", "broken"}
    energy = [items[f"good{n}"].values["energy_rmse"] for n in range(3)]
    assert energy[0] == pytest.approx(0.0, abs=1e-3) and energy[0] < energy[1] < energy[2] <= -20 * np.log10(0.6)
    assert "different sample rates" in " ".join(items["resampled"].notes)
    assert items["resampled"].values["speaker_similarity"] > 0.95
    assert all("generated clip is silent" in m for m in items["silent"].errors.values())
    assert "needs at least 1.6 s" in items["short"].errors["speaker_similarity"] and "energy_rmse" in items["short"].values
    assert "No reference named “orphan”" in items["orphan"].error and "loudness_lufs" in items["orphan"].values
    assert items["orphan"].errors["energy_rmse"] == "needs a reference clip to compare with."
    assert "No generated clip named “missing”" in items["missing"].error and not items["missing"].values
    assert "cannot be read" in items["broken"].error and not items["broken"].values

    scored = [items[n].values["energy_rmse"] for n in items if "energy_rmse" in items[n].values]
    assert report.summary["energy_rmse"]["n"] == len(scored) == 5  # good0-2, resampled, short
    assert report.summary["energy_rmse"]["mean"] == pytest.approx(np.mean(scored))
    assert report.summary["energy_rmse"]["std"] == pytest.approx(np.std(scored, ddof=1))

    rows = list(csv.reader(io.StringIO(report.to_csv())))
    assert rows[0][:4] == ["item", "generated", "reference", "energy_rmse (dB)"]
    assert [r[0] for r in rows[-3:]] == ["mean", "std", "n"] and len(rows) == 1 + 9 + 3
    assert "No generated clip named" in {r[0]: r for r in rows}["missing"][-1]
    flat = report.flat()
    assert flat["energy_rmse"]["n"] == 5 and flat["energy_rmse"]["items"]["missing"] is None
    assert json.loads(report.to_json())["items"][0]["name"] == report.items[0].name
    assert job.result["failed_items"] == 4  # silent, orphan, missing, broken


def test_zipped_sets_are_unpacked_safely_and_matched_by_name(services: Services, speech, tmp_path: Path) -> None:
    audio, rate = speech["a"]
    clip = write(tmp_path / "x.wav", audio, rate).read_bytes()
    for name, top in (("reference.zip", "refs/"), ("generated.zip", "")):
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            zf.writestr(f"{top}one.wav", clip)
            zf.writestr(f"{top}one.txt", SENTENCE_A)
            zf.writestr(f"{top}sub/two.wav", clip)
            zf.writestr("../escape.wav", clip)
            zf.writestr(f"{top}notes.pdf", b"%PDF")
    folders = [accept_zip(tmp_path / name) for name in ("reference.zip", "generated.zip")]
    assert folders[0].name == "refs" and not (tmp_path / "escape.wav").exists()
    assert sorted(p.name for p in folders[1].rglob("*")) == ["one.txt", "one.wav", "sub", "two.wav"]
    _, report = finish(services, EvaluationRequest("set", str(folders[1]), str(folders[0]), metrics=("wer", "mcd")))
    items = {item.name: item for item in report.items}
    assert set(items) == {"one", "sub/two"}
    assert items["one"].text == SENTENCE_A and items["one"].values == {"wer": 0.0, "mcd": 0.0}
    assert items["sub/two"].values["mcd"] == 0.0 and "compare with the reference clip's transcript" in \
        " ".join(items["sub/two"].notes) and items["sub/two"].values["wer"] == 0.0


def test_set_uploads_that_are_not_zips_of_audio_are_refused_and_removed(tmp_path: Path) -> None:
    for name, data, message in (("notes.txt", b"hi", "upload a .zip"), ("bad.zip", b"nope", "not a valid zip")):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(InvalidRequest, match=message):
            accept_zip(path)
        assert not path.exists()
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.md", "no audio")
    with pytest.raises(InvalidRequest, match="holds no audio files"):
        extract_zip(empty, tmp_path / "out")


@pytest.mark.parametrize(("request_args", "message"), [
    ({"mode": "pair", "generated": "/no/such.wav", "reference": "/no/ref.wav"}, "does not exist"),
    ({"mode": "pair", "generated": "GEN"}, "A pair needs a reference clip"),
    ({"mode": "set", "generated": "GEN", "reference": "REF"}, "must be a folder"),
    ({"mode": "clip", "generated": "GEN", "metrics": ("mcd",)}, "mcd cannot apply here"),
    ({"mode": "clip", "generated": "GEN", "metrics": ("wer",)}, "WER and CER need the text"),
    ({"mode": "clip", "generated": "GEN", "metrics": ("nope",)}, "Unknown metric nope"),
    ({"mode": "clip", "generated": "GEN", "options": {"align": "sideways"}}, "align: 'sideways' is not one of"),
    ({"mode": "jobs"}, "Pick at least one generation"),
    ({"mode": "jobs", "jobs": ("nosuchjob",)}, "There is no generation nosuchjob"),
    ({"mode": "both", "generated": "GEN"}, "Unknown mode"),
])
def test_bad_requests_are_refused_before_queueing_with_what_to_fix(services: Services, speech, tmp_path: Path,
                                                                  request_args: dict, message: str) -> None:
    paths = {"GEN": str(write(tmp_path / "gen.wav", *speech["a"])), "REF": str(write(tmp_path / "ref.wav", *speech["b"]))}
    args = {k: paths.get(v, v) if isinstance(v, str) else v for k, v in request_args.items()}
    with pytest.raises(InvalidRequest, match=message):
        services.evaluation.submit(EvaluationRequest(**args))
    assert services.jobs.list(kinds=("evaluate",)) == []


def test_a_deleted_evaluation_leaves_no_rows(services: Services, speech, tmp_path: Path) -> None:
    generated = write(tmp_path / "clip.wav", *speech["a"])
    job, _ = finish(services, EvaluationRequest("clip", str(generated), metrics=("loudness_lufs",)))
    assert [e.id for e in services.evaluation.list()] == [job.id]
    assert services.evaluation.delete(job.id) and services.evaluation.report(job.id) is None
    assert services.evaluation.list() == [] and not services.evaluation.delete(job.id)


def test_cancelling_a_running_set_stops_it_and_stores_nothing(services: Services, speech, tmp_path: Path) -> None:
    for n in range(8):
        write(tmp_path / "reference" / f"{n}.wav", *speech["a"])
        write(tmp_path / "generated" / f"{n}.wav", *speech["b"])
    job = services.evaluation.submit(EvaluationRequest("set", str(tmp_path / "generated"), str(tmp_path / "reference"),
                                                       metrics=("mcd", "energy_rmse")))
    deadline = time.monotonic() + 30
    while (current := services.jobs.get(job.id)).state == JobState.queued or current.progress == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert services.jobs.cancel(job.id)
    job = services.jobs.wait(job.id, timeout=30)
    assert job.state == JobState.cancelled and services.evaluation.report(job.id) is None


class HibariWithReference(HibariTTS):
    """The offline voice declaring a zero-shot engine's reference slot (which it ignores): a TTS generation with a
    voice prompt, without downloading a zero-shot model."""

    id = "test.hibari_with_reference"
    inputs = (*HibariTTS.inputs, InputSlot("reference", "audio", "Reference voice", carries=("voice", "style")))


def test_a_tts_generation_is_scored_against_its_text_and_its_speaker_against_its_prompt(services: Services, speech,
                                                                                        tmp_path: Path) -> None:
    services.registry.add(HibariWithReference)
    prompt = write(tmp_path / "prompt.wav", *speech["other_voice"])
    payload = {"engine_id": HibariWithReference.id, "params": {"seed": 2},
               "inputs": {"text": SENTENCE_A, "reference": {"path": str(prompt), "transcript": None}}}
    generation = services.jobs.wait(services.jobs.submit("generate", payload, title="cloned").id, timeout=60)
    assert generation.state == JobState.succeeded, generation.error
    _, report = finish(services, EvaluationRequest("jobs", jobs=(generation.id,),
                                                   metrics=("speaker_similarity", "wer")))
    (item,) = report.items
    assert item.reference is None and item.text == SENTENCE_A  # the prompt says other words: no content to compare
    generated = services.paths.generations / f"{generation.id}.wav"
    assert item.values["wer"] == 0.0
    assert item.values["speaker_similarity"] == pytest.approx(services.evaluation.speaker_similarity(prompt, generated))
    assert item.values["speaker_similarity"] < 0.8  # Hibari did not clone eSpeak
    assert "Speaker similarity compares it with its input “Reference voice” (prompt.wav)." in item.notes
    with pytest.raises(InvalidRequest, match="mcd cannot apply here.*text-to-speech has none"):
        services.evaluation.submit(EvaluationRequest("jobs", jobs=(generation.id,), metrics=("mcd",)))


def test_a_conversion_from_the_history_is_scored_against_its_source_and_its_speaker_against_its_target(
        services: Services, speech, tmp_path: Path) -> None:
    source = services.uploads.store_file(write(tmp_path / "source.wav", *speech["a"]))
    target = services.uploads.store_file(write(tmp_path / "target.wav", *speech["other_voice"]))
    conversion = services.jobs.wait(services.conversion.submit("vc", source.id, target.id).id, timeout=120)
    assert conversion.state == JobState.succeeded, conversion.error
    _, report = finish(services, EvaluationRequest("jobs", jobs=(conversion.id,),
                                                   metrics=("wer", "speaker_similarity", "f0_rmse_cents")))
    (item,) = report.items
    inputs = conversion.payload["inputs"]
    source_path, target_path = (Path(inputs[slot]["path"]) for slot in ("source", "reference"))
    converted = services.paths.generations / f"{conversion.id}.wav"
    assert (services.paths.home / item.reference).resolve() == source_path.resolve()
    assert item.values["wer"] < 0.2  # the source's words, heard in the converted voice
    assert any("reference clip's transcript" in note and "brown fox" in note.lower() for note in item.notes)
    to_target = services.evaluation.speaker_similarity(target_path, converted)
    assert item.values["speaker_similarity"] == pytest.approx(to_target)
    assert abs(to_target - services.evaluation.speaker_similarity(source_path, converted)) > 0.01
    assert not item.errors

    target_path.write_bytes(b"no longer audio")  # the target voice lost: no silent fallback to the source's speaker
    _, report = finish(services, EvaluationRequest("jobs", jobs=(conversion.id,), metrics=("wer", "speaker_similarity")))
    (item,) = report.items
    assert "speaker_similarity" not in item.values and item.values["wer"] < 0.2 and item.error is None
    assert item.errors["speaker_similarity"].startswith("The voice clip to compare the speaker with cannot be read")


def test_a_generation_whose_engine_is_not_installed_is_scored_on_what_it_has(services: Services) -> None:
    from sqlalchemy import update

    from studio.history.query import GENERATIONS, G

    generation = generate(services, SENTENCE_A)
    for inputs, metrics, note in (({"text": SENTENCE_A}, ("wer",), "only its text and the clip itself are scored."),
                                  ({}, ("loudness_lufs",), "only the clip itself is scored.")):
        with services.db.begin() as connection:  # as imported from a studio with an engine this one lacks
            connection.execute(update(GENERATIONS).where(G.id == generation)
                               .values(engine_id="elsewhere.tts", inputs=inputs))
        _, report = finish(services, EvaluationRequest("jobs", jobs=(generation,), metrics=metrics))
        (item,) = report.items
        assert item.notes[0] == f"Its engine elsewhere.tts is not installed here, so which input was its source " \
                                f"or its voice is unknown: {note}"
        assert set(item.values) == set(metrics)


def test_every_engine_that_makes_audio_says_what_its_result_keeps_of_each_audio_input() -> None:
    from engines.registry import ENGINE_PACKAGES, Registry, discover

    for engine in Registry(discover(ENGINE_PACKAGES)):
        if engine.task in ("metric", "asr"):
            continue
        for slot in (s for s in engine.inputs if s.kind == "audio"):
            assert slot.carries and set(slot.carries) <= {"content", "voice", "style"}, (engine.id, slot.name)


@pytest.mark.parametrize(("engine_id", "filled", "content", "voice"), [
    ("builtin.world_vc", ("source", "reference"), "source", "reference"),
    ("amphion.noro", ("source", "reference"), "source", "reference"),
    ("amphion.vevo_timbre", ("source", "timbre_reference"), "source", "timbre_reference"),
    ("amphion.vevo_style", ("source", "style_reference"), "source", None),  # keeps the source's own voice
    ("amphion.vevo_tts", ("style_reference",), None, "style_reference"),
    ("amphion.vevo_tts", ("style_reference", "timbre_reference"), None, "timbre_reference"),
    ("amphion.metis_tse", ("source", "enrolment"), "source", "enrolment"),
    ("builtin.opus", ("source",), "source", None),
    ("amphion.maskgct", ("reference",), None, "reference"),
])
def test_each_engines_inputs_give_the_clips_its_results_are_compared_with(
        engine_id: str, filled: tuple[str, ...], content: str | None, voice: str | None, tmp_path: Path) -> None:
    from engines.registry import Registry
    from studio.evaluation.inputs import generation_source

    inputs = {"text": "Words.", **{name: {"path": f"uploads/{name}.wav", "transcript": f"{name} says"}
                                   for name in filled}}
    source = generation_source("item", tmp_path / "out.wav", "job", Registry().get(engine_id).inputs, inputs, tmp_path)
    assert source.reference == (tmp_path / f"uploads/{content}.wav" if content else None)
    assert source.voice == (tmp_path / f"uploads/{voice}.wav" if voice else None)
    assert source.text == "Words."  # the text the generation was asked to say wins over the source's transcript
    without_text = generation_source("item", tmp_path / "out.wav", "job", Registry().get(engine_id).inputs,
                                     {k: v for k, v in inputs.items() if k != "text"}, tmp_path)
    assert without_text.text == (f"{content} says" if content else None)


def test_a_sets_voicing_f1_pools_the_counts_of_its_items_as_amphion_does(services: Services, tmp_path: Path) -> None:
    from tests.evaluation_fixtures import tone

    rate = 16_000
    write(tmp_path / "ref" / "short.wav", tone(220.0, 1.0), rate)
    write(tmp_path / "gen" / "short.wav", np.concatenate([tone(220.0, 0.5), np.zeros(rate // 2, np.float32)]), rate)
    write(tmp_path / "ref" / "long.wav", tone(220.0, 4.0), rate)
    write(tmp_path / "gen" / "long.wav", tone(220.0, 4.0), rate)
    _, report = finish(services, EvaluationRequest("set", str(tmp_path / "gen"), str(tmp_path / "ref"),
                                                   metrics=("v_uv_f1",)))
    items = {item.name: item.values["v_uv_f1"] for item in report.items}
    assert items["short"] == pytest.approx(2 / 3, abs=0.03) and items["long"] == pytest.approx(1.0, abs=0.01)
    stats = report.summary["v_uv_f1"]
    assert stats["mean"] == pytest.approx((items["short"] + items["long"]) / 2)  # the items keep their own values
    # pooled over frames: the long item's 4 s of agreement outweigh the short one's 0.5 s of missed voicing
    assert stats["pooled"] == pytest.approx(4.5 / (4.5 + 0.25), abs=0.02) and stats["pooled"] > stats["mean"] + 0.08
    assert report.flat()["v_uv_f1"]["pooled"] == stats["pooled"]
    rows = {row[0]: row for row in csv.reader(io.StringIO(report.to_csv()))}
    assert float(rows["pooled"][3]) == pytest.approx(stats["pooled"])
