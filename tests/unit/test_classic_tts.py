"""Amphion's classic TTS recipes end to end on tiny random-weight checkpoints (tests/amphion_recipes.py).

VITS, FastSpeech2 (+ HiFiGAN), NaturalSpeech2 and VALL-E v1 are served by the local hub as their repositories lay
them out and fetched by the weight manager; Jets comes from the user's checkpoint folder; EnCodec and g2p_en's NLTK
data sit where torch.hub and NLTK look. Every engine runs through the job queue with Amphion's own inference
classes. Random weights make noise, so the assertions are structural: rate, length from the text and the
controls, determinism under a seed, progress, cancellation, and the messages a user gets.

These tests need an Amphion checkout (AMPHION_ROOT) and skip without one.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engines.amphion.naturalspeech2 import NaturalSpeech2TTS
from engines.contract import AudioInput, EngineError, InvalidRequest, Progress, Request
from studio.jobs import JobInfo, JobState
from studio.services import Services, build_services
from studio.settings import Settings
from tests import amphion_recipes as tiny
from tests.hub_server import FakeHub
from tests.conftest import AMPHION_ROOT, amphion_checkout
from tests.job_watch import cancel_at, stages_reported
from tests.unit.test_peer_engines import audio_of
from tests.unit.test_peer_engines import run_job as peer_run_job


@pytest.fixture(scope="session", autouse=True)
def _checkout() -> None:
    """Every test here needs the checkout (the classic recipes are Amphion's scripts); session-scoped, so it comes
    before the session's checkpoints are built."""
    amphion_checkout()


TEXT = "Hello world, this is a test."
WORDS = {"hello": ["HH", "AH0", "L", "OW1"], "world": ["W", "ER1", "L", "D"], "this": ["DH", "IH1", "S"],
         "is": ["IH1", "Z"], "a": ["AH0"], "test": ["T", "EH1", "S", "T"]}
PHONES = 19  # lexicon phones of TEXT plus the pause ("sp") at its comma
LONG_TEXT = " ".join([TEXT] * 60)  # 1,700 characters: six or more chunks for every engine here


class Checkout:
    amphion_root = Path(AMPHION_ROOT) if AMPHION_ROOT else None


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every tiny checkpoint, built once per session with Amphion's own classes."""
    from engines.amphion.runtime import AmphionRuntime

    root = tmp_path_factory.mktemp("classic")
    lexicon = tiny.lexicon(root / "lexicon.txt", WORDS)
    paths = {"nltk": tiny.nltk_data(root / "nltk", WORDS), "torch": root / "torch", "ns2_config": root / "ns2.json",
             "jets": root / "jets"}
    with AmphionRuntime.of(Checkout()).session(), pytest.MonkeyPatch.context() as env:
        env.setenv("TORCH_HOME", str(paths["torch"]))  # NaturalSpeech2's constructor loads EnCodec too
        tiny.tiny_encodec(paths["torch"])
        paths["vits"] = tiny.tiny_vits(root / "vits", [TEXT])
        paths["fastspeech2"] = tiny.tiny_fastspeech2(root / "fastspeech2", lexicon)
        paths["hifigan"] = tiny.tiny_hifigan(root / "hifigan")
        paths["ns2"] = tiny.tiny_naturalspeech2(root / "ns2", paths["ns2_config"], lexicon)
        paths["valle"] = tiny.tiny_valle(root / "valle", [TEXT, "A test."])
        tiny.tiny_jets(paths["jets"], lexicon)
    clip = root / "reference.wav"
    sf.write(clip, (0.1 * np.sin(np.arange(36_000) * 2 * np.pi * 180 / 24_000)).astype(np.float32), 24_000)
    paths["reference"] = clip
    return paths


@pytest.fixture
def studio(made: dict[str, Path], fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    for repo, key in (("amphion/vits_ljspeech", "vits"), ("amphion/fastspeech2_ljspeech", "fastspeech2"),
                      ("amphion/hifigan_ljspeech", "hifigan"), ("amphion/naturalspeech2_libritts", "ns2"),
                      ("amphion/valle_libritts", "valle")):
        fake_hub.add_folder(repo, made[key])
    monkeypatch.setenv("AMPHION_ROOT", AMPHION_ROOT or "")
    monkeypatch.setenv("NLTK_DATA", str(made["nltk"]))
    monkeypatch.setenv("TORCH_HOME", str(made["torch"]))
    services = build_services(Settings.load())
    services.start()
    yield services
    services.stop()
    services.models.unload_all()


def run_job(services: Services, engine_id: str, inputs: dict, params: dict | None = None) -> tuple[JobInfo, list[str]]:
    """The job queue's run of one generation (every stage its engine reported), which must succeed."""
    with stages_reported(services.registry.get(engine_id)) as stages:
        job, _ = peer_run_job(services, engine_id, inputs, params or {}, timeout=300)
    assert job.state == JobState.succeeded, f"{job.state}: {job.error}"
    return job, stages


# -- VITS ------------------------------------------------------------------------------------------------------------


def test_vits_downloads_then_speaks_with_its_noise_and_length_controls(studio: Services) -> None:
    engine = studio.registry.get("amphion.vits")
    assert engine.check().state == "needs_download"  # monotonic_align unbuilt in the checkout does not block it
    first, stages = run_job(studio, "amphion.vits", {"text": TEXT}, {"seed": 7})
    again, _ = run_job(studio, "amphion.vits", {"text": TEXT}, {"seed": 7})
    slow, _ = run_job(studio, "amphion.vits", {"text": TEXT}, {"seed": 7, "length_scale": 2.0})
    audio, rate = audio_of(studio, first)
    assert rate == 22_050 and np.isfinite(audio).all() and audio.std() > 0
    assert np.array_equal(audio, audio_of(studio, again)[0])  # same seed, same audio
    assert len(audio_of(studio, slow)[0]) > 1.5 * len(audio)  # durations scale with length_scale
    assert any("Downloading" in s for s in stages) and "Speaking" in stages
    assert engine.check().ready


def test_vits_says_which_sound_its_phone_set_lacks(studio: Services, made: dict[str, Path]) -> None:
    engine = studio.registry.get("amphion.vits")
    model = engine.load("cpu", Progress())
    with pytest.raises(EngineError, match=r"not in the phone set \(symbols.dict\)"):
        engine.run(model, engine.validate({"text": "Quixotic zephyrs jump."}, {"seed": 1}), Progress())
    with pytest.raises(InvalidRequest, match="single voice"):
        engine.run(model, engine.validate({"text": TEXT}, {"seed": 1, "speaker": "someone"}), Progress())


def long_text_chunks(studio: Services, engine_id: str) -> int:
    """How many chunks the engine speaks LONG_TEXT in."""
    from studio.text_chunks import split_text

    return len(split_text(LONG_TEXT, studio.registry.get(engine_id).inputs[0].chunk_chars))


def cancel_between_chunks(studio: Services, engine_id: str, params: dict | None = None) -> None:
    """Cancel a long text once it is spoken in chunks: the job ends cancelled before its last chunk."""
    chunks = long_text_chunks(studio, engine_id)
    job = studio.generation.submit(engine_id, {"text": LONG_TEXT}, params or {})
    ended, stages = cancel_at(studio, job.id, f" of {chunks} · ")
    assert chunks >= 6 and ended.state == JobState.cancelled, (ended.state, stages)
    assert not any(f"Chunk {chunks} of {chunks}" in s for s in stages)


def test_vits_cancels_between_chunks_through_the_job_queue(studio: Services) -> None:
    cancel_between_chunks(studio, "amphion.vits", {"seed": 1})


# -- FastSpeech2 -----------------------------------------------------------------------------------------------------


def test_fastspeech2_follows_its_duration_pitch_and_energy_controls(studio: Services) -> None:
    plain, stages = run_job(studio, "amphion.fastspeech2", {"text": TEXT})
    slow, _ = run_job(studio, "amphion.fastspeech2", {"text": TEXT}, {"duration_control": 2.0})
    higher, _ = run_job(studio, "amphion.fastspeech2", {"text": TEXT}, {"pitch_control": 1.5, "energy_control": 0.5})
    audio, rate = audio_of(studio, plain)
    assert rate == 22_050 and np.isfinite(audio).all()
    assert len(audio) == PHONES * 4 * 256  # four frames per phone (the tiny duration predictor), hop 256
    assert len(audio_of(studio, slow)[0]) == 2 * len(audio)
    other = audio_of(studio, higher)[0]
    assert len(other) == len(audio) and not np.allclose(other, audio)  # pitch and energy reach the model
    assert "Predicting the mel spectrogram and vocoding" in stages


def test_fastspeech2_cancels_between_chunks_through_the_job_queue(studio: Services) -> None:
    cancel_between_chunks(studio, "amphion.fastspeech2")


def test_the_vocoder_folder_fix_feeds_amphions_own_parser(made: dict[str, Path], tmp_path: Path) -> None:
    from engines.amphion.fastspeech2 import vocoder_folder
    from engines.amphion.runtime import AmphionRuntime

    with AmphionRuntime.of(Checkout()).session():
        from models.tts.fastspeech2.fs2_inference import FastSpeech2Inference

        with pytest.raises(IndexError):  # the trap: the repository's checkpoints/400000.pt as it is
            FastSpeech2Inference._parse_vocoder(str(made["hifigan"] / "checkpoints"))
        cfg, checkpoint = FastSpeech2Inference._parse_vocoder(str(vocoder_folder(made["hifigan"], tmp_path / "v")))
    assert Path(checkpoint).resolve() == (made["hifigan"] / "checkpoints" / "400000.pt").resolve()
    assert cfg.model.generator == "hifigan" and cfg.preprocess.n_mel == 80


def test_statistics_are_found_in_the_checkpoint_or_named_when_missing(made: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    from engines.amphion.fastspeech2 import locate_statistics
    from engines.amphion.runtime import AmphionRuntime

    rt = AmphionRuntime.of(Checkout())
    cfg = rt.load_config(made["fastspeech2"] / "args.json")
    assert cfg.preprocess.processed_dir == "data"  # as trained: relative to the working directory
    assert locate_statistics(cfg, made["fastspeech2"], rt.root) == made["fastspeech2"]
    assert cfg.preprocess.processed_dir == str(made["fastspeech2"])
    bare = tmp_path / "no-statistics"
    bare.mkdir()
    cfg = rt.load_config(made["fastspeech2"] / "args.json")
    with pytest.raises(EngineError, match=r"LJSpeech/phone_energys/statistics.json"):
        locate_statistics(cfg, bare, rt.root)


def test_without_nltk_data_g2p_engines_need_a_download_and_nltk_never_downloads(
        studio: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "empty-nltk"))
    readiness = studio.registry.get("amphion.fastspeech2").check()
    assert readiness.state == "needs_download" and "CMU Pronouncing Dictionary (NLTK)" in readiness.message
    from engines.amphion import traps
    from engines.amphion.runtime import AmphionRuntime

    with AmphionRuntime.of(Checkout()).session():
        import nltk

        assert "nltk-no-download" in [fix.name for fix in traps.active()]
        assert nltk.download("cmudict") is False  # no network call, no hang offline


# -- NaturalSpeech2 --------------------------------------------------------------------------------------------------


def test_naturalspeech2_speaks_in_the_reference_voice_with_its_steps_and_seed(studio: Services,
                                                                             made: dict[str, Path]) -> None:
    inputs = {"text": TEXT, "reference": {"path": str(made["reference"])}}
    params = {"inference_steps": 3, "seed": 5, "config": str(made["ns2_config"])}
    first, stages = run_job(studio, "amphion.naturalspeech2", inputs, params)
    again, _ = run_job(studio, "amphion.naturalspeech2", inputs, params)
    other, _ = run_job(studio, "amphion.naturalspeech2", inputs, {**params, "seed": 6})
    audio, rate = audio_of(studio, first)
    assert rate == 24_000 and np.isfinite(audio).all()
    assert len(audio) == PHONES * 3 * 320  # three latent frames per phone, EnCodec's hop of 320 samples
    assert np.array_equal(audio, audio_of(studio, again)[0])
    assert not np.array_equal(audio, audio_of(studio, other)[0])
    assert first.result["extras"]["inference_steps"] == 3
    assert first.result["prompt_cache"] == {"hits": 0, "misses": 1}  # the reference's EnCodec codes
    assert again.result["prompt_cache"] == other.result["prompt_cache"] == {"hits": 1, "misses": 0}


def test_naturalspeech2_reports_each_diffusion_step(made: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLTK_DATA", str(made["nltk"]))
    monkeypatch.setenv("TORCH_HOME", str(made["torch"]))
    engine = NaturalSpeech2TTS(Settings.load(amphion_root=AMPHION_ROOT))
    monkeypatch.setattr("engines.weights.ensure", lambda weights, progress, advice="": made["ns2"])
    model = engine.load("cpu", Progress(), {"config": str(made["ns2_config"])})
    request = engine.validate({"text": TEXT, "reference": AudioInput(str(made["reference"]))},
                              {"inference_steps": 4, "seed": 1})
    stages: list[str] = []
    engine.run(model, request, Progress(lambda fraction, stage: stages.append(stage)))
    assert [s for s in stages if s.startswith("Diffusion")] == [f"Diffusion step {i} of 4" for i in range(1, 5)]


def test_naturalspeech2_cancels_between_diffusion_steps_through_the_job_queue(studio: Services,
                                                                             made: dict[str, Path]) -> None:
    job = studio.generation.submit("amphion.naturalspeech2", {"text": TEXT, "reference": {"path": str(made["reference"])}},
                                   {"inference_steps": 1000, "seed": 1, "config": str(made["ns2_config"])})
    ended, stages = cancel_at(studio, job.id, "Diffusion step")
    assert ended.state == JobState.cancelled and "Diffusion step 1000 of 1000" not in stages


def test_naturalspeech2_names_no_folder_after_a_slash() -> None:
    from engines.amphion.naturalspeech2 import output_name

    assert output_name("either and or".replace("/", " ")) == "either_and_or.wav"
    assert "/" not in output_name("a b c")


# -- VALL-E ----------------------------------------------------------------------------------------------------------


def test_valle_clones_the_reference_with_its_transcript(studio: Services, made: dict[str, Path]) -> None:
    inputs = {"text": "Hello world.", "reference": {"path": str(made["reference"]), "transcript": "A test."}}
    first, stages = run_job(studio, "amphion.valle_v1", inputs, {"seed": 3, "top_k": 50})
    again, _ = run_job(studio, "amphion.valle_v1", inputs, {"seed": 3, "top_k": 50})
    audio, rate = audio_of(studio, first)
    assert rate == 24_000 and np.isfinite(audio).all() and len(audio) > 0
    assert np.array_equal(audio, audio_of(studio, again)[0])
    assert first.result["prompt_cache"] == {"hits": 0, "misses": 1}  # the reference's EnCodec codes
    assert again.result["prompt_cache"] == {"hits": 1, "misses": 0}
    retold, _ = run_job(studio, "amphion.valle_v1", {**inputs, "reference": {**inputs["reference"],
                                                                              "transcript": "a test"}})
    assert retold.result["prompt_cache"] == {"hits": 0, "misses": 1}
    from engines.amphion.runtime import AmphionRuntime

    with AmphionRuntime.of(Checkout()).session():
        from processors.phone_extractor import phoneExtractor

        cfg = AmphionRuntime.of(Checkout()).load_config(made["valle"] / "args.json")
        phones = len(phoneExtractor(cfg).extract_phone("A test. Hello world.")) + 2  # with <bos> and <eos>
    assert len(audio) <= (16 * phones + 1) * 320  # the AR decoder stops past 16 EnCodec frames per phone
    assert any(s.startswith("Generating codec frames") for s in stages)
    with pytest.raises(InvalidRequest):
        studio.generation.submit("amphion.valle_v1", {"text": "Hello."}, {})  # no reference at all
    engine = studio.registry.get("amphion.valle_v1")
    model = engine.load("cpu", Progress())
    without_transcript = {"text": "Hello.", "reference": AudioInput(str(made["reference"]))}
    with pytest.raises(InvalidRequest, match="Reference voice: VALL-E .*needs the clip's transcript; enter its"):
        engine.validate(without_transcript, {})  # refused before a job is queued
    with pytest.raises(EngineError, match="needs the reference clip's transcript"):  # a request made without validate
        engine.run(model, Request(without_transcript, engine.check_params({})), Progress())


def test_valle_cancels_while_generating_codec_frames_through_the_job_queue(studio: Services,
                                                                          made: dict[str, Path]) -> None:
    job = studio.generation.submit("amphion.valle_v1", {"text": LONG_TEXT, "reference": {
        "path": str(made["reference"]), "transcript": "A test."}}, {"seed": 1})
    ended, stages = cancel_at(studio, job.id, "Generating codec frames")
    chunks = long_text_chunks(studio, "amphion.valle_v1")
    assert chunks >= 6 and ended.state == JobState.cancelled, (ended.state, stages)
    assert not any(s.startswith(f"Chunk {chunks} of {chunks}") for s in stages), stages


# -- Jets, DebaTTS ---------------------------------------------------------------------------------------------------


def test_jets_runs_one_utterance_from_the_users_checkpoint(studio: Services, made: dict[str, Path],
                                                           studio_home: Path) -> None:
    import shutil

    engine = studio.registry.get("amphion.jets")
    readiness = engine.check()
    assert readiness.state == "needs_checkpoint" and "checkpoints/amphion.jets" in readiness.message
    shutil.copytree(made["jets"], studio_home / "checkpoints" / "amphion.jets" / "my-jets")
    assert engine.check().ready
    short, stages = run_job(studio, "amphion.jets", {"text": "Hello world."})
    long, _ = run_job(studio, "amphion.jets", {"text": TEXT})
    audio, rate = audio_of(studio, short)
    assert rate == 22_050 and len(audio) == 8 * 2 * 256  # 8 phones, two frames each, hop 256
    assert len(audio_of(studio, long)[0]) == PHONES * 2 * 256
    assert short.result["extras"]["phones"] == 8 and "Speaking" in stages
    with pytest.raises(EngineError, match="not among your Jets checkpoints"):
        engine.load("cpu", Progress(), {"checkpoint": "nope"})
    cancel_between_chunks(studio, "amphion.jets")


def test_debatts_says_exactly_why_it_cannot_run(studio: Services) -> None:
    engine = studio.registry.get("amphion.debatts")
    readiness = engine.check()
    assert readiness.state == "unavailable"
    assert "try_inference_small_samples.py (line 32 imports models.tts.soundstorm.soundstorm_model; line 598 " \
           "imports models.tts.soundstorm.try_inference_new)" in readiness.message
    assert "not in the repository" in readiness.message
    with pytest.raises(Exception, match="not ready"):
        studio.generation.submit("amphion.debatts", {"text": "你好", "reference": {"path": "x.wav"}}, {})
    with pytest.raises(EngineError, match="models/tts/soundstorm"):
        engine.load("cpu", Progress())
