"""The conversion result card's speaker-similarity hook, wired to the studio's metric: resemblyzer embeddings compared
on the job worker; real Hibari speech converted toward another voice (eSpeak NG) by the offline WORLD converter."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.jobs import JobState
from studio.metrics import MetricError
from studio.services import Services
from tests.evaluation_fixtures import SENTENCE_B, espeak, hibari, write


def resemblyzer_cosine(a: Path, b: Path) -> float:
    """The same measure computed here, straight from resemblyzer: cosine of the two utterance embeddings."""
    from resemblyzer import VoiceEncoder, preprocess_wav

    from studio.audio.io import read_audio

    encoder = VoiceEncoder("cpu", verbose=False)
    x, y = (encoder.embed_utterance(preprocess_wav(read_audio(p, 16_000)[0], source_sr=16_000)) for p in (a, b))
    return float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y)))


@pytest.fixture
def voices(tmp_path: Path) -> dict[str, Path]:
    return {"hibari": write(tmp_path / "hibari.wav", *hibari(SENTENCE_B)),
            "espeak": write(tmp_path / "espeak.wav", *espeak(SENTENCE_B))}


def test_the_hook_is_resemblyzer_similarity_computed_on_the_worker(services: Services, voices: dict[str, Path]) -> None:
    similarity = services.conversion.similarity
    assert similarity is not None
    assert similarity(voices["hibari"], voices["hibari"]) == pytest.approx(1.0, abs=1e-4)
    other = similarity(voices["hibari"], voices["espeak"])
    assert other == pytest.approx(resemblyzer_cosine(voices["hibari"], voices["espeak"]), abs=1e-4)
    assert other < 0.9  # another voice
    ran = services.jobs.list(kinds=("speaker_similarity",))
    assert [(j.state, j.engine_id) for j in ran] == [(JobState.succeeded, "metric.resemblyzer")] * 2
    assert similarity(voices["espeak"], voices["hibari"]) == other  # asked again (either way round): remembered
    assert len(services.jobs.list(kinds=("speaker_similarity",))) == 2


def test_a_converted_clip_has_a_similarity_to_its_target_and_its_source(services: Services,
                                                                        voices: dict[str, Path]) -> None:
    source, target = (services.uploads.store_file(voices[name]) for name in ("hibari", "espeak"))
    done = services.jobs.wait(services.conversion.submit("vc", source.id, target.id).id, 60)
    assert done.state == JobState.succeeded and done.engine_id == "builtin.world_vc", done.error
    converted = services.generation.audio_path(done)
    to_target = services.conversion.similarity(converted, services.conversion.input_path(done, "reference"))
    to_source = services.conversion.similarity(converted, services.conversion.source_path(done))
    assert to_target == pytest.approx(resemblyzer_cosine(converted, target.normalised), abs=1e-4)
    assert to_source == pytest.approx(resemblyzer_cosine(converted, source.normalised), abs=1e-4)
    assert -1 < to_target < 1 and -1 < to_source < 1 and to_target != to_source


def test_a_clip_too_short_for_the_encoder_says_so(services: Services, voices: dict[str, Path], tmp_path: Path) -> None:
    audio, rate = hibari("Hi.")
    short = write(tmp_path / "short.wav", audio[: int(rate * 1.0)], rate)
    with pytest.raises(MetricError, match=r"Speaker similarity: needs at least 1.6 s of audio"):
        services.conversion.similarity(voices["hibari"], short)
    with pytest.raises(MetricError, match="A clip is missing"):
        services.conversion.similarity(voices["hibari"], tmp_path / "gone.wav")
