"""Qwen3-TTS and Chatterbox end to end: their isolated runtimes are built (cached outside the repository by
their requirements), tiny random-weight checkpoints are made with each package's own classes inside its runtime
and served as the hub repositories lay them out, and the engines run through the job queue.

Without PyPI the runtimes cannot be built and these tests skip, unless STUDIO_REQUIRE_RUNTIMES=1 (CI) makes
that a failure. STUDIO_TEST_RUNTIMES moves the cache (default: one folder per Python environment under
~/.cache/amphion-studio/test-runtimes).
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest
import soundfile as sf
from huggingface_hub import constants

from engines.isolated.runtime import Runtime, RuntimeBuildError
from studio.jobs import JobInfo, JobState
from studio.readiness import EngineNotReady
from studio.services import Services, build_services
from studio.settings import Settings
from studio.text_chunks import split_text
from tests.hub_server import FakeHub
from tests.job_watch import watch
from tests.runtimes import tiny
from tests.unit.test_long_text import STORY as LIGHTHOUSE

REQUIRED = os.environ.get("STUDIO_REQUIRE_RUNTIMES") == "1"
STORY = (LIGHTHOUSE + " In the evening he lit the lamp again and watched its beam sweep slowly over the dark water, "
                      "as the ships passed far out beyond the rocks.")  # two parts for either peer (400, 300 characters)
QWEN_BASE = "Qwen/Qwen3-TTS-12Hz-0.6B-Base"
QWEN_CUSTOM = "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice"
QWEN_DESIGN = "Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign"
CHATTERBOX = "ResembleAI/chatterbox"


def built(name: str) -> Runtime:
    try:
        return tiny.built(name)
    except RuntimeBuildError as exc:
        if REQUIRED:
            raise
        pytest.skip(f"the {name} runtime could not be built here (PyPI unreachable?): {str(exc)[:300]}")


@pytest.fixture(scope="session")
def reference_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.reference_clip(tmp_path_factory.mktemp("reference") / "reference.wav")


@pytest.fixture(scope="session")
def qwen_checkpoints() -> Path:
    return tiny.tiny_checkpoint(built("qwen-tts"), "build_tiny_qwen3_tts", "base", "custom_voice", "voice_design")


@pytest.fixture(scope="session")
def chatterbox_checkpoint(reference_clip: Path) -> Path:
    return tiny.tiny_checkpoint(built("chatterbox-tts"), "build_tiny_chatterbox", str(reference_clip))


@pytest.fixture(scope="session")
def session_hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hub cache for this module: each checkpoint is downloaded (through the weight manager) once."""
    return tmp_path_factory.mktemp("peer-hub-cache")


@pytest.fixture
def peer_services(fake_hub: FakeHub, session_hub: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(session_hub))
    monkeypatch.setenv("HF_HUB_CACHE", str(session_hub))
    monkeypatch.setenv("STUDIO_RUNTIMES_DIR", str(tiny.CACHE))
    services = build_services(Settings.load())
    services.start()
    yield services
    services.stop()
    services.models.unload_all()  # ends the workers now rather than when their handles are collected


def run_job(services: Services, engine_id: str, inputs: dict, params: dict, timeout: float = 600) -> tuple[JobInfo, list[str]]:
    """Submit a generation, collect the stages it reports, wait for the end."""
    return watch(services, services.generation.submit(engine_id, inputs, params).id, timeout)


def audio_of(services: Services, job: JobInfo) -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(services.generation.audio_path(job)), dtype="float32")
    return data, rate


def wait_for_stage(services: Services, job_id: str, text: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = services.jobs.get(job_id)
        if text in current.stage:
            return
        assert current.active, f"the job ended ({current.state}: {current.error}) before reaching {text!r}"
        time.sleep(0.02)
    raise AssertionError(f"never reached {text!r}")


# -- readiness without runtimes (always runs) ----------------------------------------------------------------------


def test_until_its_runtime_is_installed_readiness_says_how_to_install_it(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from engines.registry import Registry

    monkeypatch.setenv("STUDIO_RUNTIMES_DIR", str(tmp_path / "none"))
    registry = Registry(context=Settings.load())
    for engine_id, name in (("peer.qwen3_tts", "qwen-tts"), ("peer.chatterbox", "chatterbox-tts")):
        readiness = registry.get(engine_id).check()
        assert readiness.state == "missing_dependency"
        assert readiness.hints == (f"amphion-studio runtime install {name}",)
        assert "runs in an environment of its own" in readiness.message


def test_a_voice_prompt_cached_before_its_runtime_was_rebuilt_is_encoded_again(
        services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engines.contract import AudioInput, Request
    from engines.isolated import runtime as runtimes

    engine = services.registry.get("peer.chatterbox")
    clip = tmp_path / "reference.wav"
    sf.write(str(clip), 0.3 * np.sin(np.linspace(0, 2000, 48_000)), 24_000)
    request = Request({"text": "Hello.", "reference": AudioInput(str(clip), tiny.REFERENCE_TEXT)},
                      engine.check_params({}))
    prompts = services.prompt_cache.for_engine(engine, request.params)
    encoded: list[bytes] = []

    def encode() -> bytes:
        encoded.append(f"prompt {len(encoded) + 1}".encode())
        return encoded[-1]

    assert prompts.get_or_compute(engine.prompt_key(request), encode) == b"prompt 1"
    assert prompts.get_or_compute(engine.prompt_key(request), encode) == b"prompt 1"
    monkeypatch.setattr(runtimes, "machine_versions", lambda: {"torch": "99.0"})  # the runtime is rebuilt for it
    assert prompts.get_or_compute(engine.prompt_key(request), encode) == b"prompt 2"


def test_qwen3_tts_voice_prompts_depend_on_the_transcript_only_when_it_is_used(tmp_path: Path) -> None:
    from engines.contract import AudioInput, Request
    from engines.registry import Registry

    engine = Registry(context=Settings.load()).get("peer.qwen3_tts")

    def key(transcript: str, **params: object) -> list | None:
        reference = AudioInput(str(tmp_path / "reference.wav"), transcript)
        return engine.prompt_key(Request({"text": "Hello.", "reference": reference}, engine.check_params(params)))

    assert key("One thing.") != key("Another thing.")
    assert key("One thing.", x_vector_only=True) == key("Another thing.", x_vector_only=True)
    assert key("One thing.", x_vector_only=True) != key("One thing.")
    assert key("One thing.", mode="custom") is None


# -- Qwen3-TTS -------------------------------------------------------------------------------------------------------


def test_qwen3_tts_clones_a_voice_through_the_job_queue(qwen_checkpoints: Path, reference_clip: Path,
                                                        peer_services: Services, fake_hub: FakeHub) -> None:
    fake_hub.add_folder(QWEN_BASE, qwen_checkpoints / "base")
    engine = peer_services.registry.get("peer.qwen3_tts")
    assert engine.check().label.startswith("needs download") or engine.check().ready
    inputs = {"text": "Hello from the cloned voice.",
              "reference": {"path": str(reference_clip), "transcript": tiny.REFERENCE_TEXT}}
    params = {"mode": "clone", "max_new_tokens": 32, "seed": 5}
    job, stages = run_job(peer_services, "peer.qwen3_tts", inputs, params)
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(peer_services, job)
    assert rate == engine.sample_rate == 24_000
    assert 0 < len(audio) <= 32 * 1920  # no more than the requested frames (80 ms each)
    assert any(s.startswith("Generating speech") for s in stages), stages
    # the model stays loaded in its worker, and the manager counts the worker's memory
    (loaded,) = [m for m in peer_services.models.models() if m.engine_id == "peer.qwen3_tts"]
    assert loaded.footprint > 100_000_000
    again, _ = run_job(peer_services, "peer.qwen3_tts", inputs, params)
    assert np.array_equal(audio_of(peer_services, again)[0], audio)  # the same seed gives the same audio
    workers = [c for c in psutil.Process().children() if "engines.isolated.worker" in " ".join(c.cmdline())]
    assert len(workers) == 1
    report = peer_services.models.unload(loaded.key)
    assert report.freed > 100_000_000
    assert not workers[0].is_running() or workers[0].status() == psutil.STATUS_ZOMBIE  # unloading ended the worker


def test_qwen3_tts_clones_long_text_in_parts_and_encodes_the_voice_once(
        qwen_checkpoints: Path, reference_clip: Path, peer_services: Services, fake_hub: FakeHub) -> None:
    fake_hub.add_folder(QWEN_BASE, qwen_checkpoints / "base")
    inputs = {"text": STORY, "reference": {"path": str(reference_clip), "transcript": tiny.REFERENCE_TEXT}}
    params = {"mode": "clone", "max_new_tokens": 16, "seed": 2}
    job, stages = run_job(peer_services, "peer.qwen3_tts", inputs, params)
    assert job.state == JobState.succeeded, job.error
    parts = len(split_text(STORY, 400))
    assert parts >= 2 and job.result["extras"]["chunks"] == parts
    assert any(s.startswith(f"Chunk {parts} of {parts} · ") for s in stages), stages
    assert job.result["duration"] > 16 * 0.08  # longer than one part can be (16 frames of 80 ms)
    assert job.result["prompt_cache"]["hits"] >= parts - 1
    again, stages = run_job(peer_services, "peer.qwen3_tts", {**inputs, "text": "Once more."}, params)
    assert again.state == JobState.succeeded, again.error
    assert again.result["prompt_cache"] == {"hits": 1, "misses": 0}
    assert not any("Encoding the reference voice" in s for s in stages), stages


def test_qwen3_tts_built_in_voices_and_voice_design(qwen_checkpoints: Path, peer_services: Services,
                                                    fake_hub: FakeHub) -> None:
    from engines.contract import InvalidRequest

    fake_hub.add_folder(QWEN_CUSTOM, qwen_checkpoints / "custom_voice")
    fake_hub.add_folder(QWEN_DESIGN, qwen_checkpoints / "voice_design")
    job, _ = run_job(peer_services, "peer.qwen3_tts", {"text": "A built-in voice."},
                     {"mode": "custom", "speaker": "Ryan", "language": "English", "max_new_tokens": 20, "seed": 1})
    assert job.state == JobState.succeeded, job.error
    frames = job.result["extras"]["codec_frames"]
    assert 0 < frames <= 20 and job.result["duration"] == pytest.approx(frames / 12.5)  # 1920 samples per frame
    with pytest.raises(InvalidRequest, match="only as the 1.7B model"):
        peer_services.generation.submit("peer.qwen3_tts", {"text": "x"}, {"mode": "design", "instruct": "calm"})
    with pytest.raises(InvalidRequest, match="describe the voice"):
        peer_services.generation.submit("peer.qwen3_tts", {"text": "x"}, {"mode": "design", "size": "1.7B"})
    job, _ = run_job(peer_services, "peer.qwen3_tts", {"text": "A designed voice."},
                     {"mode": "design", "size": "1.7B", "instruct": "A calm, low voice, speaking slowly.",
                      "max_new_tokens": 16, "seed": 2})
    assert job.state == JobState.succeeded, job.error
    assert 0 < job.result["duration"] <= 16 / 12.5


def test_qwen3_tts_cancels_while_generating(qwen_checkpoints: Path, peer_services: Services,
                                            fake_hub: FakeHub) -> None:
    fake_hub.add_folder(QWEN_CUSTOM, qwen_checkpoints / "custom_voice")
    long = peer_services.generation.submit("peer.qwen3_tts", {"text": "A long one."},
                                           {"mode": "custom", "max_new_tokens": 8192, "seed": 4})
    wait_for_stage(peer_services, long.id, "Generating speech")
    peer_services.jobs.cancel(long.id)
    assert peer_services.jobs.wait(long.id, 30).state == JobState.cancelled
    short, _ = run_job(peer_services, "peer.qwen3_tts", {"text": "Still here."},
                       {"mode": "custom", "max_new_tokens": 16, "seed": 4})
    assert short.state == JobState.succeeded, short.error


def test_qwen3_tts_offline_and_not_downloaded_says_so(peer_services: Services, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    built("qwen-tts")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(EngineNotReady) as refused:  # a job could only fail: refused before it is queued
        peer_services.generation.submit("peer.qwen3_tts", {"text": "Hi."}, {"mode": "custom", "size": "1.7B"})
    assert "Qwen3-TTS 1.7B CustomVoice (4.5 GB), which is not on this machine, and the studio is offline" \
        in str(refused.value)
    assert "amphion-studio download peer.qwen3_tts -p " in str(refused.value)


# -- Chatterbox ------------------------------------------------------------------------------------------------------


def test_chatterbox_speaks_with_its_built_in_voice_and_a_reference(chatterbox_checkpoint: Path,
                                                                   reference_clip: Path, peer_services: Services,
                                                                   fake_hub: FakeHub) -> None:
    fake_hub.add_folder(CHATTERBOX, chatterbox_checkpoint)
    engine = peer_services.registry.get("peer.chatterbox")
    params = {"max_new_tokens": 40, "flow_steps": 2, "seed": 7, "exaggeration": 0.7, "cfg_weight": 0.3}
    job, stages = run_job(peer_services, "peer.chatterbox", {"text": "Hello there."}, params)
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(peer_services, job)
    assert rate == engine.sample_rate == 24_000
    tokens = job.result["extras"]["speech_tokens"]
    assert 0 < tokens <= 40 and abs(len(audio) - tokens * 960) <= 960  # 25 tokens per second of 24 kHz audio
    assert job.result["extras"]["voice"] == "built-in"
    for stage in ("Sampling speech", "Decoding speech tokens"):  # the long stages (short ones may pass unseen)
        assert any(stage in s for s in stages), (stage, stages)
    same, _ = run_job(peer_services, "peer.chatterbox",
                      {"text": "Hello there.", "reference": {"path": str(reference_clip), "transcript": None}}, params)
    assert same.state == JobState.succeeded, same.error
    assert same.result["extras"]["voice"] == "reference"
    # the built-in voice of the tiny checkpoint was made from this very clip: conditioning on it again (with the
    # same seed) reproduces the audio exactly
    assert np.array_equal(audio_of(peer_services, same)[0], audio)
    other = reference_clip.with_name("other.wav")
    sf.write(str(other), sf.read(str(reference_clip), dtype="float32")[0][::-1].copy(), 24_000)
    cloned, _ = run_job(peer_services, "peer.chatterbox",
                        {"text": "Hello there.", "reference": {"path": str(other), "transcript": None}}, params)
    assert cloned.state == JobState.succeeded, cloned.error
    assert not np.array_equal(audio_of(peer_services, cloned)[0][:len(audio)], audio)  # another voice
    built_in_again, _ = run_job(peer_services, "peer.chatterbox", {"text": "Hello there."}, params)
    assert np.array_equal(audio_of(peer_services, built_in_again)[0], audio)  # not the last reference's voice


def test_chatterbox_multilingual_speaks_german_and_chinese(chatterbox_checkpoint: Path, peer_services: Services,
                                                          fake_hub: FakeHub) -> None:
    fake_hub.add_folder(CHATTERBOX, chatterbox_checkpoint)
    params = {"model": "multilingual", "language": "de", "max_new_tokens": 25, "flow_steps": 2, "seed": 4}
    job, stages = run_job(peer_services, "peer.chatterbox", {"text": "Schöne Grüße aus München!"}, params)
    assert job.state == JobState.succeeded, job.error
    audio, rate = audio_of(peer_services, job)
    tokens = job.result["extras"]["speech_tokens"]
    assert rate == 24_000 and 0 < tokens <= 25 and abs(len(audio) - tokens * 960) <= 960
    assert job.result["extras"]["unknown_text_tokens"] == 0  # umlauts read as letter + accent (NFKD)
    assert any("Sampling speech" in s for s in stages), stages
    assert [m.key for m in peer_services.models.models()] == ["peer.chatterbox[model=multilingual]"]
    # Chinese goes through Cangjie codes, read from the checkpoint's Cangjie5_TC.json (the package would fetch it
    # from the hub into a cache of its own, which the offline worker never has, and pkuseg its model from GitHub)
    job, _ = run_job(peer_services, "peer.chatterbox", {"text": "你好世界"}, {**params, "language": "zh"})
    assert job.state == JobState.succeeded, job.error
    assert job.result["extras"]["unknown_text_tokens"] == 0


def test_chatterbox_speaks_long_text_in_parts_and_conditions_on_a_voice_once(
        chatterbox_checkpoint: Path, reference_clip: Path, peer_services: Services, fake_hub: FakeHub) -> None:
    fake_hub.add_folder(CHATTERBOX, chatterbox_checkpoint)
    voice = reference_clip.with_name("long-text-voice.wav")  # a clip no other test conditioned on
    sf.write(str(voice), 0.5 * sf.read(str(reference_clip), dtype="float32")[0], 24_000)
    inputs = {"text": STORY, "reference": {"path": str(voice), "transcript": None}}
    params = {"max_new_tokens": 25, "flow_steps": 2, "seed": 3}
    job, stages = run_job(peer_services, "peer.chatterbox", inputs, params)
    assert job.state == JobState.succeeded, job.error
    parts = len(split_text(STORY, 300))
    assert parts >= 2 and job.result["extras"]["chunks"] == parts
    assert any(s.startswith(f"Chunk {parts} of {parts} · ") for s in stages), stages
    assert job.result["duration"] > 25 / 25  # longer than one part can be (25 speech tokens of 40 ms)
    # the reference is conditioned on once, for the first part; the others, and the next job, reuse it
    assert job.result["prompt_cache"] == {"hits": parts - 1, "misses": 1}
    again, stages = run_job(peer_services, "peer.chatterbox", {**inputs, "text": "Hello there."}, params)
    assert again.state == JobState.succeeded, again.error
    assert again.result["prompt_cache"] == {"hits": 1, "misses": 0}
    assert not any("Conditioning on the reference voice" in s for s in stages), stages


def test_chatterbox_cancels_between_sampling_and_decoding(chatterbox_checkpoint: Path, peer_services: Services,
                                                          fake_hub: FakeHub) -> None:
    fake_hub.add_folder(CHATTERBOX, chatterbox_checkpoint)
    long = peer_services.generation.submit("peer.chatterbox", {"text": "A long one."},
                                           {"max_new_tokens": 4000, "flow_steps": 2, "seed": 1})
    wait_for_stage(peer_services, long.id, "Sampling speech")
    peer_services.jobs.cancel(long.id)
    cancelled = peer_services.jobs.wait(long.id, 30)
    assert cancelled.state == JobState.cancelled and "Decoding" not in cancelled.stage
