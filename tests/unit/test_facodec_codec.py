"""FACodec as a codec (amphion.facodec): Amphion's encoder and decoder built with the released sizes (the README's
constructor calls fix them), random weights saved as amphion/naturalspeech3_facodec names its files in the hub
cache, run through the job queue as the Codecs page runs it. Readiness runs anywhere; the rest needs AMPHION_ROOT."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.amphion.facodec_codec import FACodecCodec, build_facodec
from studio.services import Services
from studio.settings import Settings
from tests.audio_measures import speech, write
from tests.codec_jobs import encode_decode
from tests.conftest import put_in_hub_cache
from tests.unit.test_amphion_runtime import amphion  # noqa: F401  (the fixture; skips without AMPHION_ROOT)


def test_without_a_checkout_readiness_says_the_checkout_is_needed() -> None:
    readiness = FACodecCodec(Settings.load()).check()
    assert readiness.state == "missing_dependency" and readiness.message == "No Amphion checkout is configured."


@pytest.fixture
def random_facodec(amphion: Path, offline_hub: Path, tmp_path: Path) -> None:
    import torch

    from engines.amphion.runtime import AmphionRuntime

    torch.manual_seed(0)
    with AmphionRuntime(amphion).session():
        encoder, decoder = build_facodec()
    for module, name in ((encoder, "ns3_facodec_encoder.bin"), (decoder, "ns3_facodec_decoder.bin")):
        torch.save(module.state_dict(), tmp_path / name)
        put_in_hub_cache(offline_hub, FACodecCodec.HUB_REPO, name, tmp_path / name)


def test_facodec_encodes_and_decodes_through_the_job_queue(random_facodec: None, tmp_path: Path,
                                                           services: Services) -> None:
    assert services.registry.get("amphion.facodec").check().ready
    audio, rate = speech()  # 24 kHz: the engine resamples to 16 kHz
    source = write(tmp_path / "speech.wav", audio, rate)
    results = {}
    for residual in (True, False):
        job, decoded, decoded_rate = encode_decode(services, source, "amphion.facodec", residual=residual)
        extras = job.result["extras"]
        assert decoded_rate == 16_000 and abs(len(decoded) - len(audio) * 16_000 / rate) <= 1
        assert extras["frame_rate"] == 80 and abs(extras["frames"] - len(decoded) / 200) <= 1
        assert extras["codebooks"] == (6 if residual else 3)
        assert extras["bitrate_kbps"] == pytest.approx(0.8 * extras["codebooks"])  # 80 Hz x 10 bits per codebook
        results[residual] = decoded
    assert np.isfinite(results[True]).all() and not np.allclose(results[True], results[False])
