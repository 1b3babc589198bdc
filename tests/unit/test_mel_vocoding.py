"""Mel spectrograms made with one model's settings, re-expressed in a vocoder's (Noro's 16 kHz / 80 bands to the
released Amphion vocoders' 24 kHz / 100 bands), and Griffin-Lim: checked against mels computed directly."""
from __future__ import annotations

import librosa
import numpy as np

from engines.amphion.vocoders import MelSpec, adapt_mel, griffin_lim
from tests.audio_measures import median_semitones, sung_tone

NORO = MelSpec(16_000, 80, 1024, 200, 800, 0, 8000)
AMPHION_VOCODERS = MelSpec(24_000, 100, 1024, 256, 1024, 0, 12_000)


def log_mel(audio: np.ndarray, spec: MelSpec) -> np.ndarray:
    """Amphion's log-mel (utils/mel.py): natural log of the magnitude through Slaney mel filters."""
    mel = librosa.feature.melspectrogram(y=audio, sr=spec.sample_rate, n_fft=spec.n_fft, hop_length=spec.hop,
                                         win_length=spec.win, power=1.0, n_mels=spec.n_mel, fmin=spec.fmin,
                                         fmax=spec.fmax)
    return np.log(np.maximum(mel, 1e-5))


def test_a_mel_re_expressed_in_another_vocoders_settings_matches_the_one_computed_there() -> None:
    voice24 = 0.5 * sung_tone(2.0, 220.0, 24_000, vibrato_cents=50)
    voice16 = librosa.resample(voice24, orig_sr=24_000, target_sr=16_000)
    direct = log_mel(voice24, AMPHION_VOCODERS)
    adapted = adapt_mel(log_mel(voice16, NORO), NORO, AMPHION_VOCODERS)
    assert adapted.shape[0] == 100 and abs(adapted.shape[1] - direct.shape[1]) <= 1  # 10.7 ms frames, same length
    frames = min(adapted.shape[1], direct.shape[1])
    below = librosa.mel_frequencies(n_mels=100, fmax=12_000) < 7_000  # what a 16 kHz recording can hold
    a, d = adapted[below, :frames], direct[below, :frames]
    assert np.corrcoef(a.ravel(), d.ravel())[0, 1] > 0.95
    loud = d > d.max() - 6  # the harmonics: within about 2.6 dB on average
    assert np.abs(a - d)[loud].mean() < 0.3 * 2
    assert np.array_equal(adapt_mel(direct, AMPHION_VOCODERS, AMPHION_VOCODERS), direct)


def test_griffin_lim_gives_back_audio_of_the_mels_length_and_pitch() -> None:
    voice = 0.5 * sung_tone(1.5, 196.0, 16_000)
    audio = griffin_lim(log_mel(voice, NORO), NORO)
    frames = log_mel(voice, NORO).shape[1]
    assert len(audio) == frames * 200 and np.isfinite(audio).all()
    assert abs(median_semitones(audio, 16_000) - median_semitones(voice, 16_000)) < 0.3
