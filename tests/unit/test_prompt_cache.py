"""Profiles as engine inputs, and the voice prompt cache on a real computation (Whisper's encoder).

`test.prompted` encodes its reference with Whisper tiny.en's encoder through `request.prompts`, as the
zero-shot engines will encode theirs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.contract import AudioInput, InvalidRequest
from studio.jobs import JobInfo, JobState
from studio.prompt_cache import PromptCache
from studio.services import Services, build_services
from studio.settings import Settings
from tests.conftest import SENTENCE
from tests.library_fixtures import SR, hibari_speech, padded, write

ENGINE = "test.prompted"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return hibari_speech(SENTENCE)


def generate(services: Services, reference: dict, text: str = "Hello.") -> JobInfo:
    job = services.generation.submit(ENGINE, {"text": text, "reference": reference})
    done = services.jobs.wait(job.id, 60)
    assert done.state == JobState.succeeded, done.error
    return done


def test_a_profile_fills_an_audio_slot_with_its_best_sample(services: Services, speech: np.ndarray,
                                                            tmp_path: Path) -> None:
    library = services.library
    voice = library.create_profile("Narrator")
    long = library.add_file(voice.id, write(tmp_path / "long.wav", np.concatenate([speech] * 6)), transcript="long",
                            transcribe=False)  # 39 s: more than the engine takes
    untranscribed = library.add_file(voice.id, write(tmp_path / "u.wav", speech), transcribe=False)
    good = library.add_file(voice.id, write(tmp_path / "good.wav", speech), transcript=SENTENCE, transcribe=False)
    assert long.duration > 30 and not untranscribed.transcript
    job = generate(services, {"profile": "narrator"})  # by name, any case
    used = job.result["references"]["reference"]
    assert (used["profile"], used["sample"], used["profile_name"]) == (voice.id, good.id, "Narrator")
    assert job.payload["inputs"]["reference"]["path"] == str(good.normalised)
    assert job.result["extras"]["transcript"] == SENTENCE  # the engine got the sample's transcript
    by_sample = generate(services, {"sample": good.id})
    assert by_sample.result["references"]["reference"]["sample"] == good.id
    with pytest.raises(InvalidRequest, match="long.wav is 32.5 s long; Prompted test engine takes at most 30"):
        services.generation.submit(ENGINE, {"text": "x", "reference": {"sample": long.id}})


def test_references_that_cannot_work_are_refused_before_queueing(services: Services, speech: np.ndarray,
                                                                 tmp_path: Path) -> None:
    library = services.library
    empty = library.create_profile("Empty")
    with pytest.raises(InvalidRequest, match="no voice profile 'Nobody'"):
        services.generation.submit(ENGINE, {"text": "x", "reference": {"profile": "Nobody"}})
    with pytest.raises(InvalidRequest, match="has no samples yet"):
        services.generation.submit(ENGINE, {"text": "x", "reference": {"profile": empty.id}})
    bare = library.add_file(empty.id, write(tmp_path / "bare.wav", speech), transcribe=False)
    with pytest.raises(InvalidRequest, match="needs the transcript"):
        services.generation.submit(ENGINE, {"text": "x", "reference": {"sample": bare.id}})
    with pytest.raises(InvalidRequest, match="the sample 'gone' does not exist"):
        services.generation.submit(ENGINE, {"text": "x", "reference": {"sample": "gone"}})
    with pytest.raises(InvalidRequest, match="give the audio as an upload id \\(or one of: upload, sample, profile\\)"):
        services.generation.submit(ENGINE, {"text": "x", "reference": {"voice": "?"}})
    assert services.jobs.list(kinds=("generate",)) == []


def test_the_second_generation_reuses_the_prompt_until_the_transcript_changes(services: Services, speech: np.ndarray,
                                                                             tmp_path: Path) -> None:
    voice = services.library.create_profile("Cached")
    sample = services.library.add_file(voice.id, write(tmp_path / "a.wav", speech), transcript=SENTENCE,
                                       transcribe=False)
    first = generate(services, {"profile": voice.id})
    second = generate(services, {"profile": voice.id}, "Another line.")
    assert first.result["prompt_cache"] == {"hits": 0, "misses": 1}
    assert second.result["prompt_cache"] == {"hits": 1, "misses": 0}
    assert second.result["extras"]["prompt_mean"] == first.result["extras"]["prompt_mean"]
    assert services.prompt_cache.usage()["entries"] == 1
    services.library.set_transcript(sample.id, "A new transcript.")
    assert services.prompt_cache.usage()["entries"] == 0  # invalidated at once
    third = generate(services, {"profile": voice.id})
    assert third.result["prompt_cache"] == {"hits": 0, "misses": 1}
    services.library.delete_sample(sample.id)
    assert services.prompt_cache.usage()["entries"] == 0


def test_a_different_clip_is_a_different_prompt(services: Services, speech: np.ndarray, tmp_path: Path) -> None:
    voice = services.library.create_profile("Two")
    a = services.library.add_file(voice.id, write(tmp_path / "a.wav", speech), transcript="t", transcribe=False)
    b = services.library.add_file(voice.id, write(tmp_path / "b.wav", padded(speech, 1, 0)), transcript="t",
                                  transcribe=False)
    one, two = generate(services, {"sample": a.id}), generate(services, {"sample": b.id})
    assert two.result["prompt_cache"]["misses"] == 1
    assert one.result["extras"]["prompt_mean"] != two.result["extras"]["prompt_mean"]


def test_prompts_survive_a_restart_of_the_studio(studio_home: Path, speech: np.ndarray, tmp_path: Path) -> None:
    before = build_services(Settings.load())
    before.start()
    try:
        voice = before.library.create_profile("Persistent")
        before.library.add_file(voice.id, write(tmp_path / "a.wav", speech), transcript="t", transcribe=False)
        first = generate(before, {"profile": voice.id})
    finally:
        before.stop()
    after = build_services(Settings.load())
    after.start()
    try:
        again = generate(after, {"profile": "Persistent"})
    finally:
        after.stop()
    assert again.result["prompt_cache"] == {"hits": 1, "misses": 0}
    assert again.result["extras"]["prompt_mean"] == first.result["extras"]["prompt_mean"]


def test_the_disk_is_bounded_and_the_least_recently_used_go_first(services: Services, tmp_path: Path) -> None:
    cache = PromptCache(services.db, tmp_path / "cache", max_bytes=2_500_000, memory_items=1)
    clips = [write(tmp_path / f"{i}.wav", np.full(SR, i / 10, np.float32)) for i in range(3)]
    computed: list[int] = []

    def prompt(i: int):  # type: ignore[no-untyped-def]
        return cache.get_or_compute("scope", "engine", [AudioInput(str(clips[i]), "x")],
                                    lambda: computed.append(i) or np.full(1_000_000 // 8, i, np.float64))

    prompt(0)
    prompt(1)
    assert prompt(0)[0] == 0 and computed == [0, 1]  # from disk (memory holds one): 0 is now the most recent
    prompt(2)  # a third megabyte does not fit: 1, the least recently used, goes
    assert cache.usage()["entries"] == 2 and cache.usage()["bytes"] <= 2_500_000
    prompt(0)
    prompt(2)
    prompt(1)
    assert computed == [0, 1, 2, 1]
    (damaged,) = [p for p in (tmp_path / "cache").rglob("*.pkl") if p.stat().st_mtime == max(
        q.stat().st_mtime for q in (tmp_path / "cache").rglob("*.pkl"))]
    damaged.write_bytes(b"not a pickle")
    cache._memory.clear()
    assert prompt(1)[0] == 1 and computed == [0, 1, 2, 1, 1]  # a damaged entry is recomputed, not an error
