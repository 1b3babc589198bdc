"""Each metric against an analytic case or an independent implementation (pesq, pystoi, pymcd, jiwer's own counts),
on real speech from the default engine and on synthetic signals."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.audio.io import resample
from studio.metrics import Item, MetricError, Options, score_item
from studio.metrics.intelligibility import character_error_rate, word_error_rate
from tests.evaluation_fixtures import (FAST, SENTENCE_A, clip, hibari, pair, scorers, session_services,  # noqa: F401
                                       speech, tone, white_noise)

SEMITONE = 2 ** (1 / 12)


def run(item: Item, keys: list[str], scorers, options: Options = FAST):  # type: ignore[no-untyped-def]
    return score_item(item, keys, options, scorers)


def test_identical_speech_scores_perfectly_on_every_pair_metric(tmp_path: Path, speech, scorers) -> None:
    item = pair(tmp_path, speech["a"], speech["a"])
    keys = ["mcd", "f0_rmse_hz", "f0_rmse_cents", "f0_rmse_cents_median", "fpc", "v_uv_f1", "energy_rmse",
            "energy_pc", "mstft", "pesq", "pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr", "si_snr",
            "speaker_similarity"]
    scores = run(item, keys, scorers)
    assert scores.errors == {}
    v = scores.values
    assert v["mcd"] == 0.0 and v["f0_rmse_hz"] == 0.0 and v["f0_rmse_cents"] == 0.0 and v["energy_rmse"] == 0.0
    assert v["f0_rmse_cents_median"] == 0.0 and v["mstft"] == 0.0
    assert v["fpc"] == pytest.approx(1.0) and v["v_uv_f1"] == 1.0 and v["energy_pc"] == pytest.approx(1.0)
    assert v["pesq"] == pytest.approx(4.5, abs=1e-4)  # the raw P.862 ceiling, as Amphion (pypesq) reports it
    assert v["pesq_wb"] == pytest.approx(4.64, abs=0.01) and v["pesq_nb"] == pytest.approx(4.55, abs=0.01)
    assert v["stoi"] == pytest.approx(1.0) and v["estoi"] == pytest.approx(1.0)
    assert v["si_sdr"] > 100 and v["si_snr"] > 100
    assert v["speaker_similarity"] == pytest.approx(1.0, abs=1e-5)


def test_periodicity_is_zero_for_a_copy_and_large_for_noise_against_a_tone(tmp_path: Path, scorers) -> None:
    same = run(pair(tmp_path, (tone(220.0, 1.0), 16_000), (tone(220.0, 1.0), 16_000)), ["f0_periodicity_rmse"], scorers)
    noise = run(pair(tmp_path, (tone(220.0, 1.0), 16_000), (white_noise(16_000), 16_000), name="noise"),
                ["f0_periodicity_rmse"], scorers)
    assert same.values["f0_periodicity_rmse"] == 0.0
    assert noise.values["f0_periodicity_rmse"] > 0.5  # a tone is periodic (~1), noise is not (~0)


@pytest.mark.parametrize("method", ["parselmouth", "pyworld"])
def test_a_tone_one_semitone_higher_is_100_cents_off(tmp_path: Path, scorers, method: str) -> None:
    item = pair(tmp_path, (tone(220.0), 16_000), (tone(220.0 * SEMITONE), 16_000))
    scores = run(item, ["f0_rmse_cents", "f0_rmse_hz", "v_uv_f1"], scorers, replace(FAST, f0_method=method))
    assert scores.values["f0_rmse_cents"] == pytest.approx(100.0, abs=1.0)
    assert scores.values["f0_rmse_hz"] == pytest.approx(220.0 * (SEMITONE - 1), abs=0.3)
    assert scores.values["v_uv_f1"] > 0.95


def glide(start_hz: float, end_hz: float, seconds: float = 2.0, rate: int = 16_000) -> np.ndarray:
    hz = np.linspace(start_hz, end_hz, int(seconds * rate))
    return (0.5 * np.sin(2 * np.pi * np.cumsum(hz) / rate)).astype(np.float32)


def notes(*hz_seconds: tuple[float, float], rate: int = 16_000) -> np.ndarray:
    """A tone that holds each (Hz, seconds) in turn, phase-continuous."""
    hz = np.concatenate([np.full(int(seconds * rate), f) for f, seconds in hz_seconds])
    return (0.5 * np.sin(2 * np.pi * np.cumsum(hz) / rate)).astype(np.float32)


def test_median_subtracted_cents_leave_the_key_out_and_keep_the_intonation(tmp_path: Path, scorers) -> None:
    a3, b_flat3 = 220.0, 220.0 * SEMITONE
    melody = notes((a3, 1.0), (b_flat3, 2.0))  # its median is the second note
    transposed = run(pair(tmp_path, (melody, 16_000), (notes((b_flat3, 1.0), (b_flat3 * SEMITONE, 2.0)), 16_000),
                          name="up"), ["f0_rmse_cents", "f0_rmse_cents_median"], scorers).values
    assert transposed["f0_rmse_cents"] == pytest.approx(100.0, abs=2.0)
    assert transposed["f0_rmse_cents_median"] == pytest.approx(0.0, abs=2.0)
    flat = run(pair(tmp_path, (melody, 16_000), (notes((a3, 3.0)), 16_000), name="flat"),
               ["f0_rmse_cents", "f0_rmse_cents_median"], scorers).values
    assert flat["f0_rmse_cents"] == pytest.approx(100.0 * np.sqrt(2 / 3), abs=4.0)  # 100 cents off for 2 s of 3
    assert flat["f0_rmse_cents_median"] == pytest.approx(100.0 * np.sqrt(1 / 3), abs=4.0)  # around its median: 1 s of 3


def test_a_glide_and_its_transposition_correlate_perfectly_100_cents_apart(tmp_path: Path, scorers) -> None:
    item = pair(tmp_path, (glide(200, 300), 16_000), (glide(200 * SEMITONE, 300 * SEMITONE), 16_000))
    scores = run(item, ["fpc", "f0_rmse_cents"], scorers)
    assert scores.values["fpc"] == pytest.approx(1.0, abs=1e-3)
    assert scores.values["f0_rmse_cents"] == pytest.approx(100.0, abs=1.5)


def test_median_subtracted_cents_ignore_a_key_change(tmp_path: Path, speech, scorers) -> None:
    audio, rate = speech["a"]
    import librosa

    shifted = librosa.effects.pitch_shift(audio, sr=rate, n_steps=2.0).astype(np.float32)
    item = pair(tmp_path, speech["a"], (shifted, rate))
    values = run(item, ["f0_rmse_cents", "f0_rmse_cents_median"], scorers).values
    assert values["f0_rmse_cents"] == pytest.approx(200, abs=30)  # two semitones, on a real voice
    assert values["f0_rmse_cents_median"] < values["f0_rmse_cents"] / 2  # what remains: the vocoder's effect on pitch


def test_si_snr_of_speech_plus_white_noise_matches_the_snr_it_was_mixed_at(tmp_path: Path, speech, scorers) -> None:
    audio, rate = speech["a"]
    audio = audio - audio.mean()
    for n, snr in enumerate((0.0, 10.0, 20.0)):
        noise = white_noise(len(audio), seed=n).astype(np.float64)
        noise *= np.sqrt(np.mean(audio.astype(np.float64) ** 2) / np.mean(noise**2) / 10 ** (snr / 10))
        item = pair(tmp_path, (audio, rate), ((audio + noise).astype(np.float32), rate), name=f"snr{n}")
        scores = run(item, ["si_snr", "si_sdr"], scorers)
        assert scores.values["si_snr"] == pytest.approx(snr, abs=0.2)
        assert scores.values["si_sdr"] == pytest.approx(snr, abs=0.2)


def test_pesq_and_stoi_equal_the_reference_packages_on_the_same_input(tmp_path: Path, speech, scorers) -> None:
    import pesq
    from pystoi import stoi

    audio, rate = speech["a"]
    for target_rate, keys in ((16_000, ["pesq_wb", "stoi", "estoi"]), (8_000, ["pesq_nb"])):
        ref = resample(audio, rate, target_rate)
        deg = (ref + white_noise(len(ref), amplitude=0.02)).astype(np.float32)
        item = pair(tmp_path, (ref, target_rate), (deg, target_rate), name=str(target_rate))
        ref_read, _ = sf.read(str(item.reference.path), dtype="float32")
        deg_read, _ = sf.read(str(item.generated.path), dtype="float32")
        scores = run(item, keys, scorers)
        if target_rate == 16_000:
            assert scores.values["pesq_wb"] == pesq.pesq(16_000, ref_read, deg_read, "wb")
            assert scores.values["stoi"] == stoi(ref_read, deg_read, 16_000)
            assert scores.values["estoi"] == stoi(ref_read, deg_read, 16_000, extended=True)
            assert 1.0 < scores.values["pesq_wb"] < 4.0 and 0.5 < scores.values["stoi"] < 1.0
        else:
            assert scores.values["pesq_nb"] == pesq.pesq(8_000, ref_read, deg_read, "nb")


def test_raw_pesq_is_the_p862_score_the_itu_reference_code_computes_from_pypesqs_input(tmp_path: Path, speech,
                                                                                         scorers) -> None:
    """Amphion's `pesq` is pypesq's: the ITU-T P.862 reference code run narrow-band on 16 kHz int16 samples,
    returning its raw score. Here that score is read from the same C code's result (the pesq package's library),
    fed as pypesq feeds it, independently of the inverse mapping `pesq` uses."""
    audio, rate = speech["a"]
    ref = resample(audio, rate, 16_000)
    scores = []
    for amplitude in (0.005, 0.02, 0.3):
        deg = (ref + white_noise(len(ref), amplitude=amplitude)).astype(np.float32)
        item = pair(tmp_path, (ref, 16_000), (deg, 16_000), name=f"noise{amplitude}")
        scores.append(run(item, ["pesq"], scorers).values["pesq"])
        ref_read, _ = sf.read(str(item.reference.path), dtype="float32")
        deg_read, _ = sf.read(str(item.generated.path), dtype="float32")
        assert scores[-1] == pytest.approx(p862_raw_score(ref_read, deg_read), abs=0.01)
    assert scores == sorted(scores, reverse=True) and scores[-1] < 1.0  # raw P.862 goes below MOS-LQO's floor of 1


def p862_raw_score(ref: np.ndarray, deg: np.ndarray, rate: int = 16_000) -> float:
    """pypesq.pesq(ref, deg, 16000): scaled to int16 as it does, through the ITU reference code's pesq_measure, whose
    result struct holds the raw score (pesq_mos) beside the mapped one."""
    import ctypes

    import pesq

    utterances = 50
    floats = ctypes.POINTER(ctypes.c_float)

    class SignalInfo(ctypes.Structure):
        _fields_ = [("path_name", ctypes.c_char * 512), ("file_name", ctypes.c_char * 128), ("Nsamples", ctypes.c_long),
                    ("apply_swap", ctypes.c_long), ("input_filter", ctypes.c_long), ("data", floats), ("VAD", floats),
                    ("logVAD", floats)]

    class ErrorInfo(ctypes.Structure):
        _fields_ = [("Nutterances", ctypes.c_long), ("Largest_uttsize", ctypes.c_long),
                    ("Nsurf_samples", ctypes.c_long), ("Crude_DelayEst", ctypes.c_long),
                    ("Crude_DelayConf", ctypes.c_float), *((name, ctypes.c_long * utterances) for name in (
                        "UttSearch_Start", "UttSearch_End", "Utt_DelayEst", "Utt_Delay")),
                    ("Utt_DelayConf", ctypes.c_float * utterances), ("Utt_Start", ctypes.c_long * utterances),
                    ("Utt_End", ctypes.c_long * utterances), ("pesq_mos", ctypes.c_float),
                    ("mapped_mos", ctypes.c_float), ("mode", ctypes.c_short)]

    library = ctypes.CDLL(str(next(Path(pesq.__file__).parent.glob("cypesq*.so"))))
    flag, kind = ctypes.c_long(0), ctypes.c_char_p(b"")
    library.select_rate(ctypes.c_long(rate), ctypes.byref(flag), ctypes.byref(kind))
    scale = 1 / max(1.0, float(np.max(np.abs(np.stack([ref, deg])))))
    samples = [np.ascontiguousarray((x * scale * 32767).astype(np.int16), dtype=np.float32) for x in (ref, deg)]
    infos = [SignalInfo(Nsamples=len(x), apply_swap=0, input_filter=1, data=x.ctypes.data_as(floats)) for x in samples]
    result = ErrorInfo(mode=0)  # narrow-band, as pypesq
    library.pesq_measure(*(ctypes.byref(info) for info in infos), ctypes.byref(result), ctypes.byref(flag),
                         ctypes.byref(kind))
    assert flag.value == 0, kind.value
    return float(result.pesq_mos)


def test_mcd_equals_amphions_pymcd_and_grows_with_distortion(tmp_path: Path, speech, scorers) -> None:
    from pymcd.mcd import Calculate_MCD

    rate = 22_050
    ref = resample(speech["a"][0], speech["a"][1], rate)
    slower, slower_rate = hibari(SENTENCE_A, seed=3, speed=0.9)
    other = resample(slower, slower_rate, rate)
    item = pair(tmp_path, (ref, rate), (other, rate))
    ours = run(item, ["mcd"], scorers).values["mcd"]
    theirs = Calculate_MCD(MCD_mode="dtw_sl").calculate_mcd(str(item.reference.path), str(item.generated.path))
    assert ours == pytest.approx(theirs, rel=2e-3)
    noisy = pair(tmp_path, (ref, rate), ((ref + white_noise(len(ref), amplitude=0.05)), rate), name="noisy")
    assert run(noisy, ["mcd"], scorers).values["mcd"] > ours > 0


def test_stft_distance_and_energy_of_a_half_level_copy_are_analytic(tmp_path: Path, scorers) -> None:
    noise = white_noise(22_050 * 2)
    item = pair(tmp_path, (noise, 22_050), (noise * 0.5, 22_050))
    scores = run(item, ["mstft", "energy_rmse", "energy_pc"], scorers)
    assert scores.values["mstft"] == pytest.approx(0.5 + np.log(2), abs=1e-3)  # |1 - g| + |ln g|
    assert scores.values["energy_rmse"] == pytest.approx(20 * np.log10(2), abs=1e-3)
    assert scores.values["energy_pc"] == pytest.approx(1.0)


def test_word_and_character_error_rates_on_hand_made_transcripts() -> None:
    assert word_error_rate("The cat sat on the mat.", "the cat sit on mat") == pytest.approx(2 / 6)
    assert word_error_rate("Hello, World!", "hello world") == 0.0
    assert word_error_rate("one two three", "") == 1.0
    assert character_error_rate("ab cd", "ab ce") == pytest.approx(1 / 4)  # spaces do not count
    with pytest.raises(MetricError, match="no words"):
        word_error_rate("?!", "anything")


def test_wer_of_clear_speech_against_its_text_is_zero_and_wrong_text_scores_worse(tmp_path: Path, speech,
                                                                                  scorers) -> None:
    generated = clip(tmp_path / "a.wav", *speech["a"])
    right = run(Item("a", generated, text=SENTENCE_A), ["wer", "cer"], scorers)
    wrong = run(Item("a", generated, text="The slow red fox walks over the lazy dog. Welcome to the studio."),
                ["wer"], scorers)
    assert right.values == {"wer": 0.0, "cer": 0.0}
    assert wrong.values["wer"] == pytest.approx(4 / 13)  # slow red walks → quick brown jumps, and "audio" inserted


def test_without_text_each_clip_is_transcribed_once_and_compared(tmp_path: Path, speech, scorers) -> None:
    heard: list[Path] = []

    class Counting:
        def score(self, *args):  # type: ignore[no-untyped-def]
            return scorers.score(*args)

        def transcribe(self, clip_, options):  # type: ignore[no-untyped-def]
            heard.append(clip_.path)
            return scorers.transcribe(clip_, options)

    item = pair(tmp_path, speech["b"], speech["a"])
    scores = score_item(item, ["wer", "cer"], FAST, Counting())
    assert sorted(heard) == sorted([item.reference.path, item.generated.path])  # Amphion transcribes one twice
    assert scores.values["wer"] > 0.5  # two different sentences


def test_a_voice_is_more_similar_to_itself_than_to_another_voice(tmp_path: Path, speech, scorers) -> None:
    same = run(pair(tmp_path, speech["a"], speech["b"], name="same"), ["speaker_similarity"], scorers)
    other = run(pair(tmp_path, speech["a"], speech["other_voice"], name="other"), ["speaker_similarity"], scorers)
    assert same.values["speaker_similarity"] > 0.85
    assert other.values["speaker_similarity"] < same.values["speaker_similarity"] - 0.2


def test_mos_predictors_rank_clean_speech_above_noisy_speech(tmp_path: Path, speech, scorers) -> None:
    audio, rate = speech["a"]
    noisy = (audio + white_noise(len(audio), amplitude=0.05)).astype(np.float32)
    keys = ["distillmos", "dnsmos_ovrl", "dnsmos_bak", "loudness_lufs", "snr_db"]
    clean = run(Item("clean", clip(tmp_path / "clean.wav", audio, rate)), keys, scorers)
    dirty = run(Item("noisy", clip(tmp_path / "noisy.wav", noisy, rate)), keys, scorers)
    assert clean.values["distillmos"] > 4.0 > dirty.values["distillmos"]
    assert clean.values["dnsmos_bak"] > dirty.values["dnsmos_bak"] + 1
    assert clean.values["dnsmos_ovrl"] > dirty.values["dnsmos_ovrl"]
    assert "snr_db" in clean.errors and "digital silence" in clean.errors["snr_db"]  # Hibari pauses are exact zeros
    assert dirty.values["snr_db"] < 25
    half = run(Item("half", clip(tmp_path / "half.wav", audio * 0.5, rate)), ["loudness_lufs"], scorers)
    assert clean.values["loudness_lufs"] - half.values["loudness_lufs"] == pytest.approx(20 * np.log10(2), abs=0.01)


def test_unusable_input_gets_a_message_per_metric_and_the_rest_still_scores(tmp_path: Path, speech, scorers) -> None:
    audio, rate = speech["a"]
    silent = run(pair(tmp_path, speech["a"], (np.zeros(rate * 2, np.float32), rate), name="silent"),
                 ["mcd", "f0_rmse_hz", "distillmos"], scorers)
    assert silent.values == {}
    assert all("generated clip is silent" in m for m in silent.errors.values())

    short = run(pair(tmp_path, speech["a"], (audio[:rate], rate), name="short"),
                ["speaker_similarity", "dnsmos_ovrl", "distillmos", "pesq_wb"], scorers)
    assert "needs at least 1.6 s" in short.errors["speaker_similarity"]
    assert "needs at least 2 s" in short.errors["dnsmos_ovrl"] and "lasts 1.00 s" in short.errors["dnsmos_ovrl"]
    assert set(short.values) == {"distillmos", "pesq_wb"}

    unvoiced = run(pair(tmp_path, speech["a"], (white_noise(rate * 2), rate), name="noise"), ["f0_rmse_hz", "v_uv_f1"],
                   scorers)
    assert "no voiced frames" in unvoiced.errors["f0_rmse_hz"]

    alone = run(Item("alone", clip(tmp_path / "alone.wav", audio, rate)), ["mcd", "wer"], scorers)
    assert alone.errors == {"mcd": "needs a reference clip to compare with.",
                            "wer": "needs the text that was spoken, or a reference clip to transcribe."}


def test_different_sample_rates_are_resampled_and_said_so(tmp_path: Path, speech, scorers) -> None:
    audio, rate = speech["a"]
    item = pair(tmp_path, (resample(audio, rate, 16_000), 16_000), (audio, rate))
    scores = run(item, ["pesq_wb", "f0_rmse_cents", "mcd"], scorers)
    assert scores.errors == {}
    assert scores.values["pesq_wb"] > 4.4 and scores.values["f0_rmse_cents"] < 10 and scores.values["mcd"] < 0.5
    assert item.notes[0] == (f"The clips have different sample rates (16000 Hz reference, {rate} Hz generated); "
                             "each metric resamples both to its own rate.")
    same = pair(tmp_path, speech["a"], speech["a"], name="same")
    run(same, ["pesq_wb"], scorers)
    assert not any("sample rates" in note for note in same.notes)


def test_every_metric_has_one_family_and_a_unique_key() -> None:
    from studio.metrics import FAMILIES, METRICS

    listed = [k for keys in FAMILIES.values() for k in keys]
    assert sorted(listed) == sorted(METRICS) and len(listed) == len(set(listed))


def test_amphions_metric_names_select_the_metrics_they_stand_for() -> None:
    from studio.metrics import METRICS, select

    assert select(["f0rmse", "similarity", "pesq", "v_uv_f1"]) == ["f0_rmse_hz", "f0_rmse_cents_median",
                                                                    "speaker_similarity", "pesq", "v_uv_f1"]
    assert select(["stoi", "fad", "similarity", "speaker_similarity"]) == ["stoi", "fad", "speaker_similarity"]
    amphion = {m.amphion for m in METRICS.values() if m.amphion}
    assert {"f0rmse", "fpc", "v_uv_f1", "f0_periodicity_rmse", "energy_rmse", "energy_pc", "wer", "cer", "similarity",
            "fad", "mcd", "mstft", "pesq", "si_sdr", "si_snr", "stoi"} == amphion  # every key of calc_metrics.py
    assert all(select([name]) for name in amphion)
    with pytest.raises(ValueError, match="Amphion's names f0rmse, similarity work too"):
        select(["f0_rmse"])


def test_options_are_checked_with_clear_messages() -> None:
    from studio.metrics import InvalidOptions

    with pytest.raises(InvalidOptions, match="f0_method: 'crepe' is not one of parselmouth, pyworld"):
        Options.from_dict({"f0_method": "crepe"})
    with pytest.raises(InvalidOptions, match="Unknown option speed"):
        Options.from_dict({"speed": 2})
    assert Options.from_dict({"energy_db": "false", "hop_length": "128"}) == Options(energy_db=False, hop_length=128)
    with pytest.raises(InvalidOptions, match="f0_subtract_median no longer exists.*read f0_rmse_cents_median instead"):
        Options.from_dict({"f0_subtract_median": "true"})
    assert Options.from_dict({"f0_subtract_median": False}) == Options()  # what evaluations queued before it carry


def test_frechet_distance_of_shifted_and_scaled_sets_is_analytic() -> None:
    from studio.metrics.spectral import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6)) + 1.0
    shift = np.arange(6, dtype=np.float64)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)  # same covariance
    mean, cov = a.mean(0), np.cov(a, rowvar=False)
    assert frechet_distance(a, 2 * a) == pytest.approx(float(mean @ mean + np.trace(cov)), rel=1e-6)
    with pytest.raises(MetricError, match="at least two clips"):
        frechet_distance(a[:1], a)
