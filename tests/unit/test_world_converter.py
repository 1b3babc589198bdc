"""The offline WORLD converter on real speech from the default engine and on synthetic sung tones: pitch,
formants, matching a target, vibrato, duration, intelligibility, and every awkward input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.builtin import world_dsp
from engines.contract import AudioInput, EngineError, Progress, Result
from engines.registry import Registry
from studio.audio.io import read_audio, resample
from tests.audio_measures import (envelope_ratio, median_semitones, pitch_shift, speech, spread_semitones, sung_tone,
                                  vibrato_depth_cents, write)
from tests.conftest import SENTENCE, transcribe, word_error_rate

OFF = {"pitch_match": "off", "match_formants": False}


@pytest.fixture(scope="module")
def engines():  # type: ignore[no-untyped-def]
    registry = Registry()
    vc, svc = registry.get("builtin.world_vc"), registry.get("builtin.world_svc")
    return {"vc": (vc, vc.load("cpu", Progress())), "svc": (svc, svc.load("cpu", Progress()))}


def convert(engines, source: Path, reference: Path | None = None, task: str = "vc", **params) -> Result:  # type: ignore[no-untyped-def]
    engine, model = engines[task]
    inputs = {"source": AudioInput(str(source))}
    if reference is not None:
        inputs["reference"] = AudioInput(str(reference))
    return engine.run(model, engine.validate(inputs, params), Progress())


@pytest.fixture
def speech_file(tmp_path: Path) -> Path:
    return write(tmp_path / "speech.wav", *speech())


def test_both_engines_are_ready_offline_and_serve_their_pages() -> None:
    registry = Registry()
    assert "builtin.world_vc" in [e.id for e in registry.for_task("vc")]  # beside the neural engines
    assert "builtin.world_svc" in [e.id for e in registry.for_task("svc")]
    for engine in (registry.get("builtin.world_vc"), registry.get("builtin.world_svc")):
        assert engine.check().ready and not engine.weights
        assert [s.name for s in engine.inputs] == ["source", "reference"]


@pytest.mark.parametrize("semitones", [4, -7, 12])
def test_speech_moves_by_the_requested_semitones_and_keeps_its_duration(engines, speech_file: Path,
                                                                       semitones: int) -> None:
    source, rate = read_audio(speech_file)
    result = convert(engines, speech_file, semitones=semitones, **OFF)
    assert result.sample_rate == rate and len(result.audio) == len(source)
    assert abs(pitch_shift(source, result.audio, rate) - semitones) <= 0.3
    assert result.extras["semitones_applied"] == semitones


@pytest.mark.parametrize("semitones", [5, -12])
def test_a_sung_tone_is_transposed_in_tune(engines, tmp_path: Path, semitones: int) -> None:
    tone = sung_tone(3.0, 220.0, glide_semitones=2)
    result = convert(engines, write(tmp_path / "tone.wav", tone, 24_000), task="svc", semitones=semitones, **OFF)
    assert abs(pitch_shift(tone, result.audio, 24_000) - semitones) <= 0.3


@pytest.mark.parametrize("ratio", [0.85, 1.2])
def test_formant_shift_moves_the_spectral_envelope_and_not_the_pitch(engines, speech_file: Path,
                                                                    ratio: float) -> None:
    source, rate = read_audio(speech_file)
    result = convert(engines, speech_file, formant_shift=ratio, **OFF)
    moved = envelope_ratio(source, result.audio, rate)
    assert (moved > 1) == (ratio > 1) and abs(np.log(moved / ratio)) < 0.05
    assert abs(pitch_shift(source, result.audio, rate)) <= 0.3


def test_matching_a_lower_target_brings_the_median_pitch_to_it(engines, speech_file: Path, tmp_path: Path) -> None:
    target = write(tmp_path / "low-voice.wav", sung_tone(4.0, 120.0, glide_semitones=3), 24_000)
    result = convert(engines, speech_file, target, pitch_match="mean", match_formants=False)
    target_audio, rate = read_audio(target)
    target_median = median_semitones(target_audio, rate)
    assert abs(median_semitones(result.audio, rate) - target_median) <= 0.5
    assert result.extras["semitones_applied"] < -5
    assert result.extras["target_median_hz"] == pytest.approx(440 * 2 ** (target_median / 12), rel=0.03)


def test_matching_a_converted_voice_recovers_its_pitch_and_formants(engines, speech_file: Path, tmp_path: Path) -> None:
    other = convert(engines, speech_file, semitones=5, formant_shift=1.2, **OFF)
    target = write(tmp_path / "other-voice.wav", other.audio, other.sample_rate)
    result = convert(engines, speech_file, target)  # defaults: match pitch and formants
    source, rate = read_audio(speech_file)
    assert abs(median_semitones(result.audio, rate) - median_semitones(other.audio, rate)) <= 0.5
    assert result.extras["formant_ratio"] == pytest.approx(1.2, abs=0.05)
    assert envelope_ratio(source, result.audio, rate) == pytest.approx(1.2, abs=0.06)


def test_matching_range_narrows_a_wide_melody_to_the_targets(engines, tmp_path: Path) -> None:
    wide = sung_tone(4.0, 200.0, glide_semitones=8)
    narrow = sung_tone(4.0, 150.0, glide_semitones=2)
    source, target = write(tmp_path / "wide.wav", wide, 24_000), write(tmp_path / "narrow.wav", narrow, 24_000)
    result = convert(engines, source, target, task="svc", pitch_match="mean_range", match_formants=False)
    assert result.extras["range_scale"] < 0.5
    assert spread_semitones(result.audio, 24_000) == pytest.approx(spread_semitones(narrow, 24_000), rel=0.3)
    assert abs(median_semitones(result.audio, 24_000) - median_semitones(narrow, 24_000)) <= 0.5


@pytest.mark.parametrize(("mode", "expected"), [("semitone", -5.0), ("octave", 0.0)])
def test_singing_matches_in_whole_semitones_or_octaves_to_stay_in_tune(engines, tmp_path: Path, mode: str,
                                                                       expected: float) -> None:
    source = write(tmp_path / "song.wav", sung_tone(3.0, 220.0), 24_000)
    target = write(tmp_path / "singer.wav", sung_tone(3.0, 220.0 * 2 ** (-5.3 / 12)), 24_000)
    result = convert(engines, source, target, task="svc", pitch_match=mode, match_formants=False)
    assert result.extras["semitones_applied"] == expected


def test_vibrato_is_kept_flattened_or_deepened(engines, tmp_path: Path) -> None:
    tone = sung_tone(3.0, 220.0, vibrato_cents=60)
    path = write(tmp_path / "vibrato.wav", tone, 24_000)
    original = vibrato_depth_cents(tone, 24_000)
    depth = {v: vibrato_depth_cents(convert(engines, path, task="svc", vibrato=v, **OFF).audio, 24_000)
             for v in (0.0, 1.0, 2.0)}
    assert original > 30
    assert depth[0.0] < 0.35 * original
    assert depth[1.0] == pytest.approx(original, rel=0.15)
    assert depth[2.0] == pytest.approx(2 * original, rel=0.25)


def test_converted_speech_stays_intelligible(engines, speech_file: Path, tmp_path: Path, whisper) -> None:  # type: ignore[no-untyped-def]
    for params in ({"semitones": 4, "formant_shift": 1.1, **OFF}, {"semitones": -5, "formant_shift": 0.9, **OFF}):
        result = convert(engines, speech_file, **params)
        out = write(tmp_path / "converted.wav", result.audio, result.sample_rate)
        assert word_error_rate(SENTENCE, transcribe(whisper, out)) <= 0.2, params


def test_a_long_source_is_converted_in_blocks_cut_in_pauses(engines, tmp_path: Path, whisper,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world_dsp, "BLOCK_SECONDS", 2.0)
    audio, rate = speech()
    long = np.concatenate([audio, np.zeros(rate // 4, np.float32)] * 2)
    path = write(tmp_path / "long.wav", long, rate)
    result = convert(engines, path, semitones=3, **OFF)
    assert result.extras["blocks"] >= 3 and len(result.audio) == len(long)
    assert abs(pitch_shift(long, result.audio, rate) - 3) <= 0.3
    out = write(tmp_path / "long-converted.wav", result.audio, rate)
    assert word_error_rate(" ".join([SENTENCE] * 2), transcribe(whisper, out)) <= 0.2


def test_stereo_44k_source_is_mixed_to_mono_at_its_own_rate(engines, tmp_path: Path) -> None:
    audio, rate = speech()
    stereo = resample(np.stack([audio, 0.5 * audio]), rate, 44_100)
    result = convert(engines, write(tmp_path / "stereo.wav", stereo, 44_100), semitones=-3, **OFF)
    assert result.audio.ndim == 1 and result.sample_rate == 44_100 and len(result.audio) == stereo.shape[1]
    assert abs(pitch_shift(stereo.mean(axis=0), result.audio, 44_100) + 3) <= 0.3


def test_8_khz_source_is_converted_at_16_khz_with_the_same_duration(engines, tmp_path: Path) -> None:
    audio, rate = speech()
    narrow = resample(audio, rate, 8_000)
    result = convert(engines, write(tmp_path / "phone.wav", narrow, 8_000), semitones=2, **OFF)
    assert result.sample_rate == 16_000 and abs(result.duration - len(narrow) / 8_000) < 0.002
    assert abs(pitch_shift(resample(narrow, 8_000, 16_000), result.audio, 16_000) - 2) <= 0.3
    assert any("8 kHz" in note for note in result.extras["notes"])


def test_silent_source_or_target_gets_a_clear_message(engines, speech_file: Path, tmp_path: Path) -> None:
    silent = write(tmp_path / "silent.wav", np.zeros(24_000 * 2, np.float32), 24_000)
    with pytest.raises(EngineError, match=r"The source audio is silent .*digital silence\): there is no voice to "
                                          r"convert\."):
        convert(engines, silent)
    with pytest.raises(EngineError, match=r"The target voice clip is silent .*: there is no voice in it\."):
        convert(engines, speech_file, silent)


def test_unvoiced_source_keeps_its_pitch_alone_and_still_shifts_formants(engines, tmp_path: Path) -> None:
    noise = (0.1 * np.random.default_rng(0).standard_normal(24_000 * 2)).astype(np.float32)
    path = write(tmp_path / "whisper.wav", noise, 24_000)
    result = convert(engines, path, semitones=7, formant_shift=1.2, **OFF)
    assert len(result.audio) == len(noise) and np.isfinite(result.audio).all() and np.abs(result.audio).max() > 0.01
    assert result.extras["semitones_applied"] == 0 and result.extras["formant_ratio"] == 1.2
    assert "No pitched voice was found in the source" in result.extras["notes"][0]


def test_a_target_without_a_voice_is_refused(engines, speech_file: Path, tmp_path: Path) -> None:
    noise = (0.1 * np.random.default_rng(1).standard_normal(24_000 * 2)).astype(np.float32)
    with pytest.raises(EngineError, match="target voice clip has no pitched voice"):
        convert(engines, speech_file, write(tmp_path / "noise.wav", noise, 24_000))


def test_matching_without_a_target_says_only_the_shifts_applied(engines, speech_file: Path) -> None:
    result = convert(engines, speech_file, semitones=2)
    assert result.extras["semitones_applied"] == 2
    assert "No target voice clip was given" in result.extras["notes"][0]


def test_pitch_range_that_is_upside_down_is_refused(engines, speech_file: Path) -> None:
    with pytest.raises(EngineError, match="Lowest pitch .400 Hz. must be below highest pitch .300 Hz."):
        convert(engines, speech_file, f0_floor=400, f0_ceiling=300)
