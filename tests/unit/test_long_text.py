"""Long text: split at natural boundaries, spoken chunk by chunk, joined with a cross-fade."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from engines.contract import Cancelled, Progress
from studio.audio.io import crossfade_join
from studio.generation import run_in_chunks
from studio.jobs import JobState
from studio.services import Services
from studio.text_chunks import split_text
from tests.conftest import transcribe, word_error_rate, words

STORY = ("The lighthouse keeper woke before dawn. He climbed the spiral stairs, counting each step as he always "
         "did. At the top, the lamp was still warm; the sea below was calm, grey, and very quiet. He wrote three "
         "words in his log, closed the book, and went down to make tea. Nobody came that day, and nobody needed to.")


def test_chunks_respect_the_limit_and_keep_every_word() -> None:
    chunks = split_text(STORY, 120)
    assert len(chunks) >= 3 and all(len(c) <= 120 for c in chunks)
    assert " ".join(chunks).split() == STORY.split()
    assert all(c[-1] in ".;,!?" for c in chunks[:-1])  # cut at sentence or clause ends


def test_a_sentence_longer_than_the_limit_is_cut_at_clauses_then_words() -> None:
    sentence = "one, " * 30 + "and a very long ending without any punctuation at all to break it up whatsoever"
    chunks = split_text(sentence, 40)
    assert all(len(c) <= 40 for c in chunks)
    assert " ".join(chunks).split() == sentence.split()
    assert split_text("Short.", 100) == ["Short."]
    assert split_text("  ", 100) == []


def test_crossfade_overlaps_each_seam() -> None:
    sr = 1000
    a, b = np.ones(500, np.float32), np.ones(300, np.float32)
    joined = crossfade_join([a, b], sr, fade_seconds=0.1)
    assert len(joined) == 500 + 300 - 100
    seam = joined[400:500]
    assert np.all(seam >= 0.99) and np.all(seam <= 1.42)  # equal power: no dip, bounded bump


def test_long_text_is_spoken_in_chunks_and_nothing_is_lost(services: Services, whisper) -> None:  # type: ignore[no-untyped-def]
    job = services.jobs.wait(services.generation.submit("test.chunked_hibari", {"text": STORY}, {"seed": 5}).id, 60)
    assert job.state == JobState.succeeded, job.error
    n = len(split_text(STORY, 120))
    assert job.result["extras"]["chunks"] == n
    path = services.generation.audio_path(job)
    spoken = sf.info(str(path)).duration
    assert 0.2 < spoken / len(words(STORY)) < 0.7
    assert word_error_rate(STORY, transcribe(whisper, path)) <= 0.15


def test_progress_names_the_chunk_and_cancel_stops_between_chunks(services: Services) -> None:
    engine = services.registry.get("test.chunked_hibari")
    model = engine.load("cpu", Progress(), {"voice": "heart"})
    stages: list[str] = []
    request = engine.validate({"text": STORY}, {"seed": 1})
    run_in_chunks(engine, model, request, Progress(lambda f, s: stages.append(s)))
    assert any(s.startswith("Chunk 3 of ") for s in stages)
    seen: list[str] = []

    def cancelled_once_chunk_two_started() -> bool:
        return any(s.startswith("Chunk 2") for s in seen)

    with pytest.raises(Cancelled):
        run_in_chunks(engine, model, request, Progress(lambda f, s: seen.append(s), cancelled_once_chunk_two_started))
    assert not any(s.startswith("Chunk 3") for s in seen)
