"""Enhancement as a conversion task: the offline DeepFilterNet3 engine through the job queue on real speech."""
from __future__ import annotations

import numpy as np
import soundfile as sf

from studio.jobs import JobState
from studio.services import Services
from tests.audio_measures import speech, write


def test_the_offline_denoiser_is_the_default_and_takes_the_noise_out(services: Services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert services.conversion.default_engine("enhance").id == "builtin.deepfilter"
    audio, rate = speech()
    noise = 0.02 * np.random.default_rng(1).standard_normal(len(audio)).astype(np.float32)
    job = services.conversion.submit("enhance", {"path": str(write(tmp_path / "noisy.wav", audio + noise, rate))})
    done = services.jobs.wait(job.id, 120)
    assert done.state == JobState.succeeded, done.error
    cleaned, cleaned_rate = sf.read(str(services.generation.audio_path(done)), dtype="float32")
    assert cleaned_rate == rate and len(cleaned) == len(audio)  # length and rate kept
    quiet = np.abs(audio) < 1e-3  # where the speech itself is (nearly) silent, what is left is noise
    before = np.sqrt(np.mean(noise[quiet] ** 2))
    after = np.sqrt(np.mean(cleaned[quiet] ** 2))
    assert 20 * np.log10(before / after) > 10  # at least 10 dB less noise in the pauses
    speech_part = ~quiet
    assert np.corrcoef(cleaned[speech_part], audio[speech_part])[0, 1] > 0.8  # and the speech is still there
