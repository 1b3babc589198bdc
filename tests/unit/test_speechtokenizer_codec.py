"""SpeechTokenizer as a codec (amphion.speechtokenizer): Amphion's own class from the checkout on a random-weight
checkpoint of it (toy sizes, the released strides and codebook size), laid out as fnlp/SpeechTokenizer is in the hub
cache, run through the job queue as the Codecs page runs it. Readiness runs anywhere; the rest needs AMPHION_ROOT."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engines.amphion.speechtokenizer_codec import FOLDER, SpeechTokenizerCodec
from studio.services import Services
from studio.settings import Settings
from tests.audio_measures import speech, write
from tests.codec_jobs import encode_decode
from tests.conftest import put_in_hub_cache
from tests.unit.test_amphion_runtime import amphion  # noqa: F401  (the fixture; skips without AMPHION_ROOT)

# the released config.json's keys; strides, codebook size, n_q and rate as released, the widths shrunk
CONFIG = {"sample_rate": 16000, "n_filters": 4, "dimension": 16, "semantic_dimension": 8, "strides": [8, 5, 4, 2],
          "lstm_layers": 1, "bidirectional": True, "dilation_base": 2, "residual_kernel_size": 3,
          "n_residual_layers": 1, "activation": "ELU", "codebook_size": 1024, "n_q": 8}


def test_without_a_checkout_readiness_says_the_checkout_is_needed() -> None:
    readiness = SpeechTokenizerCodec(Settings.load()).check()
    assert readiness.state == "missing_dependency" and readiness.message == "No Amphion checkout is configured."


@pytest.fixture
def tiny_speechtokenizer(amphion: Path, offline_hub: Path, tmp_path: Path) -> None:
    import torch

    from engines.amphion.runtime import AmphionRuntime

    with AmphionRuntime(amphion).session():
        from models.codec.speechtokenizer.model import SpeechTokenizer

        torch.manual_seed(0)
        model = SpeechTokenizer(CONFIG)
    state = model.state_dict()
    for name in [n for n in state if n.endswith("_codebook.embed")]:  # k-means init starts them at zero; a trained
        state[name] = torch.randn_like(state[name]) * 0.1  # model has learnt codewords, as these stand for
        state[name.replace(".embed", ".inited")] = torch.ones_like(state[name.replace(".embed", ".inited")])
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    torch.save(state, tmp_path / "SpeechTokenizer.pt")
    for name in ("config.json", "SpeechTokenizer.pt"):
        put_in_hub_cache(offline_hub, SpeechTokenizerCodec.HUB_REPO, f"{FOLDER}/{name}", tmp_path / name)


def test_speechtokenizer_encodes_and_decodes_through_the_job_queue(tiny_speechtokenizer: None, tmp_path: Path,
                                                                   services: Services) -> None:
    assert services.registry.get("amphion.speechtokenizer").check().ready
    audio, rate = speech()  # 24 kHz: the engine resamples to 16 kHz
    source = write(tmp_path / "speech.wav", audio, rate)
    results = {}
    for codebooks in (1, 8):
        job, decoded, decoded_rate = encode_decode(services, source, "amphion.speechtokenizer", codebooks=codebooks)
        extras = job.result["extras"]
        assert decoded_rate == 16_000 and abs(len(decoded) - len(audio) * 16_000 / rate) <= 1
        assert extras["frame_rate"] == 50 and abs(extras["frames"] - len(decoded) / 320) <= 1
        assert extras["bitrate_kbps"] == pytest.approx(0.5 * codebooks)  # 50 Hz x 10 bits per codebook
        results[codebooks] = decoded
    assert np.isfinite(results[8]).all() and not np.allclose(results[1], results[8])

