"""Quality measures on constructed signals with known answers, and on real speech from the default engine."""
from __future__ import annotations

import numpy as np
import pytest

from engines.contract import Progress
from engines.registry import Registry
from studio.audio import quality

SR = 24_000


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    engine = Registry().get("builtin.hibari")
    model = engine.load("cpu", Progress(), {"voice": "heart"})
    text = "Quality checks need real speech. This sentence is long enough to measure."
    return engine.run(model, engine.validate({"text": text}, {"seed": 1}), Progress()).audio


def test_silence_around_speech_is_found(speech: np.ndarray) -> None:
    padded = np.concatenate([np.zeros(SR * 2), speech, np.zeros(SR * 3)]).astype(np.float32)
    plain, report = quality.measure(speech, SR), quality.measure(padded, SR)
    assert report.leading_silence == pytest.approx(plain.leading_silence + 2.0, abs=0.1)
    assert report.trailing_silence == pytest.approx(plain.trailing_silence + 3.0, abs=0.15)
    assert report.speech_ratio < plain.speech_ratio


def test_noise_only_has_no_speech() -> None:
    noise = np.random.default_rng(1).standard_normal(SR * 3).astype(np.float32) * 0.1
    assert quality.speech_segments(noise, SR) == []
    assert np.isnan(quality.snr_db(noise, SR))


@pytest.mark.parametrize("snr", [5, 15, 30])
def test_snr_estimate_follows_added_noise(speech: np.ndarray, snr: float) -> None:
    padded = np.concatenate([np.zeros(SR), speech, np.zeros(SR)]).astype(np.float32)
    speech_power = np.mean(speech[np.abs(speech) > 0.01] ** 2)
    noise = np.random.default_rng(0).standard_normal(len(padded)) * np.sqrt(speech_power / 10 ** (snr / 10))
    assert quality.snr_db((padded + noise).astype(np.float32), SR) == pytest.approx(snr, abs=3)


def test_clipping_ratio_counts_flattened_peaks(speech: np.ndarray) -> None:
    assert quality.clipping_ratio(speech) < 1e-4
    clipped = np.clip(speech * 8, -1, 1)
    assert quality.clipping_ratio(clipped) > 0.01


def test_loudness_is_measured_and_normalised(speech: np.ndarray) -> None:
    quiet = speech * 0.1
    assert quality.loudness_lufs(quiet, SR) == pytest.approx(quality.loudness_lufs(speech, SR) - 20, abs=0.1)
    louder = quality.normalise_loudness(quiet, SR, target_lufs=-20)
    assert quality.loudness_lufs(louder, SR) == pytest.approx(-20, abs=0.2)
    assert quality.loudness_lufs(np.zeros(SR, np.float32), SR) == float("-inf")
    capped = quality.normalise_loudness(speech, SR, target_lufs=0)  # would clip: the peak is held instead
    assert np.max(np.abs(capped)) <= 0.981
