"""The Vevo family end to end on tiny random-weight checkpoints built with Amphion's own classes.

The checkpoints are laid out as amphion/Vevo and amphion/Vevo1.5 are (accelerate folders loaded with
load_checkpoint_and_dispatch, Vevo's content tokenizer as its pickle), served by a local hub and downloaded by
the weight manager inside the jobs; HuBERT and Whisper are tiny too, where torchaudio and openai-whisper load
them from. Random weights make noise, not speech: the tests check what is structurally true (sample rate,
length against the source or the generated tokens, progress, cancellation, determinism, the parameters
reaching the models, the messages for bad input).

They need an Amphion checkout (AMPHION_ROOT) and skip without it, except the readiness tests. The checkout is
mirrored (tests/amphion_checkout.py), with small stand-ins for the phonemizer's large files where it lacks them,
so the text engines run Amphion's own G2P; the mirror's stock configs are the tiny models' (tests/amphion_tiny).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engines.amphion import vevo_common
from engines.amphion.base import G2P_FILES
from engines.contract import AudioInput, InvalidRequest, Progress
from engines.conversion_input import JOIN_SECONDS
from engines.registry import Registry
from studio.jobs import JobInfo, JobState
from studio.services import Services, build_services
from studio.settings import Settings
from tests.amphion_checkout import mirrored
from tests.conftest import amphion_checkout
from tests.amphion_tiny.vevo import tone
from tests.hub_server import FakeHub
from tests.job_watch import watch
from tests.unit.test_peer_engines import run_job

RATE = 24_000
FAST = {"flow_matching_steps": 3, "seed": 7}
SHORT_AR = {**FAST, "max_length": 600, "min_new_tokens": 20}


# -- fixtures ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The process runs on a mirror of the checkout, whose stock Vevo configs become the tiny models'."""
    with mirrored(tmp_path_factory) as root:
        yield root


@pytest.fixture(scope="module")
def tiny(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both repositories and the two encoders, built once for the module."""
    from engines.amphion.runtime import AmphionRuntime
    from tests.amphion_tiny import vevo as builder

    root = tmp_path_factory.mktemp("tiny-vevo")
    rt = AmphionRuntime(checkout)
    clips = root / "clips"
    clips.mkdir()
    return {"root": root, "vevo": builder.build_vevo(rt, root), "vevo15": builder.build_vevo15(rt, root),
            "source": tone(clips / "source.wav", 2.0, 180), "reference": tone(clips / "reference.wav", 1.6, 260),
            "other": tone(clips / "other.wav", 1.2, 120)}


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hub cache for the module: each tiny repository is downloaded through the weight manager once."""
    return tmp_path_factory.mktemp("vevo-hub-cache")


@pytest.fixture
def vevo(checkout: Path, tiny: dict[str, Path], fake_hub: FakeHub, hub_cache: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """Started services with the tiny repositories on the hub and the tiny encoders in their caches."""
    import torchaudio
    import whisper
    from huggingface_hub import constants

    from tests.amphion_tiny import vevo as builder

    fake_hub.add_folder("amphion/Vevo", tiny["vevo"])
    fake_hub.add_folder("amphion/Vevo1.5", tiny["vevo15"])
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setenv("AMPHION_ROOT", str(checkout))
    caches = tiny["root"] / "caches"
    monkeypatch.setenv("TORCH_HOME", str(caches / "torch"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(caches))  # openai-whisper's cache: <XDG_CACHE_HOME>/whisper
    monkeypatch.setattr(torchaudio.pipelines, "HUBERT_LARGE", builder.install_tiny_hubert(caches / "torch"))
    monkeypatch.setitem(whisper._MODELS, "medium", builder.install_tiny_whisper(caches / "whisper"))
    services = build_services(Settings.load())
    services.start()
    yield services
    services.stop()
    services.models.unload_all()


def clip(path: Path, transcript: str | None = None) -> dict[str, str | None]:
    return {"path": str(path), "transcript": transcript}


def succeeded(services: Services, engine_id: str, inputs: dict, params: dict) -> tuple[np.ndarray, JobInfo]:
    job, _ = run_job(services, engine_id, inputs, params)
    assert job.state == JobState.succeeded, job.error
    audio, rate = sf.read(str(services.generation.audio_path(job)), dtype="float32")
    assert rate == RATE and np.all(np.isfinite(audio)) and np.abs(audio).max() > 0.01
    return audio, job


def duration(path: Path) -> int:
    return sf.info(str(path)).frames


def padded(audio: np.ndarray) -> int:
    """Samples of exact silence at the end: what fitting a conversion to its source's length added (a vocoder
    never gives an exact zero)."""
    return len(audio) - 1 - int(np.flatnonzero(audio)[-1])


def silence(path: Path, seconds: float = 2.0) -> Path:
    sf.write(str(path), np.zeros(int(seconds * RATE), np.float32), RATE)
    return path


def stereo(path: Path, seconds: float, hz: float, rate: int) -> Path:
    """A two-channel clip at `rate`, its channels at different levels."""
    mono = sf.read(str(tone(path.with_suffix(".mono.wav"), seconds, hz, rate=rate)), dtype="float32")[0]
    sf.write(str(path), np.stack([mono, 0.5 * mono], axis=1), rate)
    return path


def cancel_during(services: Services, engine_id: str, inputs: dict, params: dict,
                  stage: str) -> tuple[JobInfo, list[str], list[str], float]:
    """Run a job until it has reported two different stages containing `stage` (a count moving on), cancel it and
    follow it to its end: the job, the stages seen before and after the cancel, and the seconds the cancel took."""
    job_id = services.generation.submit(engine_id, inputs, params).id
    before: list[str] = []
    deadline = time.monotonic() + 300
    while len({s for s in before if stage in s}) < 2:
        current = services.jobs.get(job_id)
        assert current.active and time.monotonic() < deadline, (current.state, current.error, before)
        if current.stage and current.stage not in before[-1:]:
            before.append(current.stage)
        time.sleep(0.002)
    asked = time.monotonic()
    services.jobs.cancel(job_id)
    ended, after = watch(services, job_id, 30)
    return ended, before, after, time.monotonic() - asked


# -- readiness (runs without a checkout's models) -------------------------------------------------------------------


def fake_checkout(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty checkout; Amphion's packages an earlier test imported from the real one do not count as hidden, and
    the machine counts as having every module and program the engines list (CI installs no [amphion] extra)."""
    from engines.amphion.runtime import AmphionRuntime
    from engines.requirements import Binary, PythonModule

    monkeypatch.setattr(AmphionRuntime, "hidden_packages", lambda self: [])
    monkeypatch.setattr(PythonModule, "present", lambda self: True)
    monkeypatch.setattr(Binary, "present", lambda self: True)
    for name in ("models", "utils"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return root


def test_every_engine_that_phonemizes_names_the_g2p_files_a_checkout_lacks_and_how_to_get_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fake_checkout(tmp_path / "Amphion", monkeypatch)
    registry = Registry(context=Settings.load(amphion_root=root))
    lacks = (f"Your Amphion checkout {root} lacks {G2P_FILES[0]} and {G2P_FILES[1]}: large files of the "
             f"text-to-phoneme code that ")
    assert G2P_FILES == ("models/tts/maskgct/g2p/sources/g2p_chinese_model/poly_bert_model.onnx",
                         "models/tts/maskgct/g2p/sources/chinese_lexicon.txt")
    for engine_id in ("amphion.vevo_tts", "amphion.vevo15_tts", "amphion.vevo15_melody", "amphion.maskgct"):
        engine = registry.get(engine_id)
        readiness = engine.check()
        assert readiness.state == "missing_dependency"
        assert readiness.message == f"{lacks}{engine.name} imports. A full git clone has them."
        # not a git clone (an export, a copy): git cannot restore them, a new clone has them
        assert readiness.hints[0] == "git clone https://github.com/open-mmlab/Amphion.git"
    (root / ".git").mkdir()  # a clone whose files went missing: git restores them
    for engine_id in ("amphion.vevo_tts", "amphion.maskgct"):
        hints = registry.get(engine_id).check().hints
        assert hints[0] == f"cd {root} && git checkout -- {' '.join(G2P_FILES)}" and "git clone" in hints[1]
    # conversion needs no phonemizer: it goes on to the downloads
    assert registry.get("amphion.vevo_timbre").check().state == "needs_download"
    for name in G2P_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    assert registry.get("amphion.vevo_tts").check().state == "needs_download"


def test_vevo15_readiness_names_the_torchvision_build_for_this_torch(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    registry = Registry(context=Settings.load(amphion_root=fake_checkout(tmp_path / "Amphion", monkeypatch)))
    engine = registry.get("amphion.vevo15_svc")
    installed = {"torch": "2.14.1", "torchvision": "0.28.0"}
    real_version = importlib.metadata.version

    def version(name: str) -> str:
        if name in installed:
            return installed[name]
        return real_version(name)

    monkeypatch.setattr(vevo_common.importlib.metadata, "version", version)
    readiness = engine.check()
    assert readiness.state == "missing_dependency"
    assert readiness.message == "torchvision 0.28.0 is installed, but torch 2.14.1 needs torchvision 0.29 (with pillow)."
    assert readiness.hints[0].startswith("pip install 'torchvision==0.29.*'")
    installed["torchvision"] = "0.29.1+cu130"
    assert engine.check().state == "needs_download"
    del installed["torchvision"]
    monkeypatch.setattr(vevo_common.importlib.metadata, "version",
                        lambda name: installed[name] if name in installed else
                        (_ for _ in ()).throw(importlib.metadata.PackageNotFoundError(name)))
    readiness = engine.check()
    assert "imports torchvision, which is not installed" in readiness.message and "torchvision 0.29" in readiness.message


def test_each_vevo_mode_says_what_it_changes_and_what_it_keeps() -> None:
    registry = Registry()
    for engine_id, changes, keeps in (("amphion.vevo_timbre", "timbre", "accent and emotion"),
                                      ("amphion.vevo_style", "accent and emotion", "timbre"),
                                      ("amphion.vevo_voice", "timbre and the speaking style", "words"),
                                      ("amphion.vevo15_svc", "timbre", "melody")):
        summary = registry.get(engine_id).summary
        changed, kept = summary.split("; keeps")
        assert changes in changed and keeps in kept, summary
    # languages are explicit: the text engines default to English, never to Amphion's implicit Chinese
    for engine_id in ("amphion.vevo_tts", "amphion.vevo15_tts"):
        engine = registry.get(engine_id)
        assert engine.param("language").default == "en" and engine.param("reference_language").default == "en"


# -- Vevo ----------------------------------------------------------------------------------------------------------


def test_vevo_timbre_converts_through_the_queue_keeping_the_source_length(vevo: Services,
                                                                          tiny: dict[str, Path]) -> None:
    engine = vevo.registry.get("amphion.vevo_timbre")
    assert not list(tiny["vevo"].rglob("*.json"))  # as on the hub: the configs are the checkout's
    assert engine.check().state == "needs_download"  # the repository's folders and HuBERT, from the weight manager
    inputs = {"source": clip(tiny["source"]), "timbre_reference": clip(tiny["reference"])}
    job, stages = run_job(vevo, "amphion.vevo_timbre", inputs, FAST)
    assert job.state == JobState.succeeded, job.error
    assert engine.check().ready
    audio, rate = sf.read(str(vevo.generation.audio_path(job)), dtype="float32")
    assert rate == engine.sample_rate == RATE
    # one mel frame per HuBERT frame of the source: the same length but for the last frame or two
    assert len(audio) == duration(tiny["source"]) and padded(audio) <= 2 * 480
    # the long stages show on the job (each flow-matching step is reported too, see the test of steps below)
    assert any(s.startswith("Downloading Vevo") for s in stages) and "Building Vevo's models" in stages, stages
    again, _ = succeeded(vevo, "amphion.vevo_timbre", inputs, FAST)
    assert np.array_equal(again, audio)  # the same seed gives the same audio
    other, _ = succeeded(vevo, "amphion.vevo_timbre", inputs, {**FAST, "seed": 8})
    assert not np.array_equal(other, audio)


def test_vevo_style_and_voice_share_their_models_and_follow_the_sampling_limits(vevo: Services,
                                                                              tiny: dict[str, Path]) -> None:
    source, reference = clip(tiny["source"]), clip(tiny["reference"])
    style, job = succeeded(vevo, "amphion.vevo_style", {"source": source, "style_reference": reference}, SHORT_AR)
    tokens = job.result["extras"]["content_style_tokens"]
    # one mel frame per token (the timbre prompt's HuBERT and mel frame counts may differ by one)
    assert abs(len(style) - tokens * 480) <= 480 and tokens >= SHORT_AR["min_new_tokens"]
    voice, job = succeeded(vevo, "amphion.vevo_voice", {"source": source, "reference": reference},
                           {**SHORT_AR, "content_mask_ratio": 0.3, "min_new_tokens": 90})
    assert abs(len(voice) - job.result["extras"]["content_style_tokens"] * 480) <= 480
    assert job.result["extras"]["content_style_tokens"] >= 90  # min_new_tokens reached the model
    assert [m.key for m in vevo.models.models()] == ["amphion.vevo[Vq32ToVq8192]"]  # one model serves both modes
    # the prompt (both clips' content tokens and the reference's content-style tokens) leaves no room
    with_no_room = {**SHORT_AR, "max_length": 200, "min_new_tokens": 150}
    job, _ = run_job(vevo, "amphion.vevo_voice", {"source": source, "reference": reference}, with_no_room)
    assert job.state == JobState.failed and "Raise Max length to at least" in job.error


def test_vevo_tts_speaks_in_a_styles_pace_with_another_timbre(vevo: Services, tiny: dict[str, Path]) -> None:
    inputs = {"text": "Hello there, this is a test.",
              "style_reference": clip(tiny["reference"], "A short reference clip."),
              "timbre_reference": clip(tiny["other"])}
    params = {**SHORT_AR, "language": "en", "reference_language": "en", "temperature": 0.7}
    audio, job = succeeded(vevo, "amphion.vevo_tts", inputs, params)
    tokens = job.result["extras"]["content_style_tokens"]
    assert abs(len(audio) - tokens * 480) <= 480 and tokens >= SHORT_AR["min_new_tokens"]
    same, _ = succeeded(vevo, "amphion.vevo_tts", inputs, params)
    assert np.array_equal(same, audio)
    with pytest.raises(InvalidRequest, match="Style reference: Vevo-TTS needs the clip.s transcript unless Style without a transcript is on"):
        vevo.generation.submit("amphion.vevo_tts", {**inputs, "style_reference": clip(tiny["reference"])}, params)


def test_more_steps_and_guidance_reach_the_acoustic_model(vevo: Services, tiny: dict[str, Path]) -> None:
    engine = vevo.registry.get("amphion.vevo_timbre")
    job, _ = run_job(vevo, "amphion.vevo_timbre", {"source": clip(tiny["source"]),
                                                   "timbre_reference": clip(tiny["reference"])}, FAST)
    assert job.state == JobState.succeeded, job.error
    request = engine.validate({"source": AudioInput(str(tiny["source"])),
                               "timbre_reference": AudioInput(str(tiny["reference"]))}, FAST)
    with vevo.models.use(engine, request.params, Progress()) as loaded:
        def stages(**params: object) -> list[str]:
            seen: list[str] = []
            engine.run(loaded, engine.validate(request.inputs, {**FAST, **params}),
                       Progress(lambda fraction, stage: seen.append(stage)))
            return [s for s in seen if s.startswith("Flow matching: step")]

        assert len(stages(flow_matching_steps=2)) == 2 and len(stages(flow_matching_steps=9)) == 9
        unguided = stages(flow_matching_steps=4, guidance=0.0)
        assert unguided == [f"Flow matching: step {i} of 4" for i in range(1, 5)]


def test_vevo_tts_takes_the_style_from_the_sound_alone_when_asked(vevo: Services, tiny: dict[str, Path]) -> None:
    upload = vevo.uploads.store_file(tiny["reference"])  # as the API and the page give it, without a transcript
    no_transcript = {"text": "Hello there, this is a test.", "style_reference": upload.id}
    with pytest.raises(InvalidRequest, match="Style reference: Vevo-TTS needs the clip.s transcript unless Style without a transcript is on"):
        vevo.generation.submit("amphion.vevo_tts", no_transcript, SHORT_AR)
    sound_alone = {**SHORT_AR, "global_style": True}
    audio, job = succeeded(vevo, "amphion.vevo_tts", no_transcript, sound_alone)
    assert abs(len(audio) - job.result["extras"]["content_style_tokens"] * 480) <= 480
    # the reference's phones and 80 tokens no longer lead the text, so they take no room in Max length
    roomy = {**SHORT_AR, "max_length": 200, "min_new_tokens": 150}
    with_transcript = {**no_transcript, "style_reference": clip(tiny["reference"], "A short reference clip.")}
    job, _ = run_job(vevo, "amphion.vevo_tts", with_transcript, roomy)
    assert job.state == JobState.failed and "Raise Max length to at least" in job.error
    _, job = succeeded(vevo, "amphion.vevo_tts", with_transcript, {**roomy, "global_style": True})
    assert job.result["extras"]["content_style_tokens"] >= 150


def test_the_released_vevo_tts_model_is_refused_the_style_from_the_sound_alone(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from engines.amphion.vevo import VevoTTS

    checkout = amphion_checkout()
    root = fake_checkout(tmp_path / "Amphion", monkeypatch)
    stock = root / VevoTTS.stock_ar_config  # the released model's: no global style encoder
    stock.parent.mkdir(parents=True)
    shutil.copy(checkout / VevoTTS.stock_ar_config, stock)
    engine = Registry(context=Settings.load(amphion_root=root)).get("amphion.vevo_tts")
    inputs = {"text": "Hello.", "style_reference": AudioInput("reference.wav")}
    with pytest.raises(InvalidRequest, match=r"Style without a transcript: the Vevo-TTS model your checkout describes "
                                             r"\(models/vc/vevo/config/PhoneToVq8192.json\) has no global style "
                                             r"encoder.* Turn this off and give the style reference's transcript."):
        engine.validate(inputs, {"global_style": True})
    with pytest.raises(InvalidRequest, match="Style reference: Vevo-TTS needs the clip.s transcript unless Style without a transcript is on"):
        engine.validate(inputs, {})
    assert engine.validate({**inputs, "style_reference": AudioInput("reference.wav", "Hello.")}, {})


# -- long sources, bad input ----------------------------------------------------------------------------------------


def test_vevo_timbre_converts_a_long_source_in_parts_keeping_its_length(vevo: Services, tiny: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    long = tone(tmp_path / "long.wav", 45.0, 200)
    inputs = {"source": clip(long), "timbre_reference": clip(tiny["reference"])}
    job, stages = run_job(vevo, "amphion.vevo_timbre", inputs, FAST)
    assert job.state == JobState.succeeded, job.error
    audio = sf.read(str(vevo.generation.audio_path(job)), dtype="float32")[0]
    assert job.result["extras"]["blocks"] == 2 and any(s.startswith("Part 2 of 2 · ") for s in stages), stages
    # the converted parts, cross-faded, come to the source's length but for a frame or two
    assert len(audio) == duration(long) and padded(audio) <= 2 * 480


def test_vevo_voice_converts_a_long_source_in_parts_that_fit_max_length(vevo: Services, tiny: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    long = tone(tmp_path / "long.wav", 9.0, 200)
    audio, job = succeeded(vevo, "amphion.vevo_voice", {"source": clip(long), "reference": clip(tiny["reference"])},
                           SHORT_AR)
    # Max length 600 leaves room for parts of (600 - 3 - 100 * 1.6) / 100 = 4.4 s beside the 1.6 s reference (the
    # join each part runs on into the next included)
    assert job.result["extras"]["blocks"] == 3
    # one mel frame per token, less the two joins' cross-fades
    tokens, join = job.result["extras"]["content_style_tokens"], int(JOIN_SECONDS * RATE)
    assert abs(len(audio) + 2 * join - tokens * 480) <= 3 * 480, (len(audio), tokens)


def test_a_source_longer_than_twenty_minutes_is_refused_before_queueing(vevo: Services, tiny: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    lecture = tmp_path / "lecture.wav"
    noise = np.random.default_rng(0).normal(0, 0.1, 8_000 * 1_201).astype(np.float32)
    sf.write(str(lecture), noise, 8_000, subtype="PCM_16")
    upload = vevo.uploads.store_file(lecture)
    for engine_id in ("amphion.vevo_timbre", "amphion.vevo15_vc"):
        name = vevo.registry.get(engine_id).name
        with pytest.raises(InvalidRequest, match=rf"Source speech: lecture.wav is 20:01 long; {name} takes at most "
                                                 rf"20:00\. Cut it shorter"):
            vevo.generation.submit(engine_id, {"source": upload.id, "timbre_reference": clip(tiny["reference"])}, FAST)
    assert vevo.jobs.list() == []


def test_silent_clips_are_refused_in_words(vevo: Services, tiny: dict[str, Path], tmp_path: Path) -> None:
    quiet, voice, other = clip(silence(tmp_path / "quiet.wav")), clip(tiny["reference"]), clip(tiny["source"])
    to_convert, in_it = "there is no voice to convert", "there is no voice in it"  # a source's, a reference's
    cases = (
        ("amphion.vevo_timbre", {"source": quiet, "timbre_reference": voice}, FAST, "The source audio", to_convert),
        ("amphion.vevo_timbre", {"source": other, "timbre_reference": quiet}, FAST, "The timbre reference", in_it),
        ("amphion.vevo_style", {"source": other, "style_reference": quiet}, SHORT_AR, "The style reference", in_it),
        ("amphion.vevo_voice", {"source": quiet, "reference": voice}, SHORT_AR, "The source audio", to_convert),
        ("amphion.vevo_tts", {"text": "Hello.", "style_reference": clip(tmp_path / "quiet.wav", "Hello.")}, SHORT_AR,
         "The style reference", in_it),
        ("amphion.vevo15_melody", {"source": quiet, "text": "la di da", "timbre_reference": voice}, SHORT_AR,
         "The source audio", "there is no melody or prosody to follow"),  # a hummed or played melody
    )
    for engine_id, inputs, params, what, lacking in cases:
        job, _ = run_job(vevo, engine_id, inputs, params)
        assert job.state == JobState.failed, engine_id
        assert job.error == (f"{what} is silent (its loudest moment is digital silence): {lacking}. Check the "
                             f"recording level, or pick another clip."), engine_id


def test_stereo_and_8_khz_clips_are_converted_at_24_khz_with_a_note(vevo: Services, tmp_path: Path) -> None:
    phone = stereo(tmp_path / "phone.wav", 2.5, 180, rate=8_000)
    reference = stereo(tmp_path / "reference.wav", 1.6, 260, rate=44_100)
    audio, job = succeeded(vevo, "amphion.vevo_timbre", {"source": clip(phone), "timbre_reference": clip(reference)},
                           FAST)
    assert len(audio) == round(2.5 * RATE) and padded(audio) <= 2 * 480
    assert job.result["extras"]["notes"] == [
        "The source audio has 2 channels; they were mixed to one.",
        "The source audio is 8 kHz; it was converted at 24 kHz, so nothing above 4 kHz of it was there to convert.",
        "The timbre reference has 2 channels; they were mixed to one."]
    voice, job = succeeded(vevo, "amphion.vevo_voice", {"source": clip(phone), "reference": clip(reference)}, SHORT_AR)
    assert abs(len(voice) - job.result["extras"]["content_style_tokens"] * 480) <= 480
    assert "The target voice clip has 2 channels; they were mixed to one." in job.result["extras"]["notes"]


# -- progress and cancellation through the queue -------------------------------------------------------------------


LONG_AR = {"flow_matching_steps": 3, "seed": 7, "max_length": 6000, "min_new_tokens": 1000}
MANY_STEPS = {"flow_matching_steps": 128, "seed": 7}


@pytest.mark.parametrize(("engine_id", "inputs", "params", "moving", "later"), [
    ("amphion.vevo_timbre", {"source": "long", "timbre_reference": "reference"}, MANY_STEPS,
     "Flow matching: step", "Part 2 of 2"),
    ("amphion.vevo_style", {"source": "source", "style_reference": "reference"}, LONG_AR,
     "Generating content-style tokens:", "Flow matching"),
    ("amphion.vevo_tts", {"text": "Hello there.", "style_reference": "sung"}, LONG_AR,
     "Generating content-style tokens:", "Flow matching"),
    ("amphion.vevo15_tts", {"text": "Sing me a song.", "style_reference": "sung"}, LONG_AR,
     "Generating content-style tokens:", "Flow matching"),
    ("amphion.vevo15_vc", {"source": "long", "timbre_reference": "reference"}, MANY_STEPS,
     "Flow matching: step", "Part 2 of 2"),
])
def test_a_job_reports_its_progress_and_ends_promptly_when_cancelled(
        vevo: Services, tiny: dict[str, Path], tmp_path: Path, engine_id: str, inputs: dict, params: dict,
        moving: str, later: str) -> None:
    clips = {"source": clip(tiny["source"]), "reference": clip(tiny["reference"]),
             "sung": clip(tiny["reference"], "la la la"), "long": clip(tone(tmp_path / "long.wav", 45.0, 200))}
    job, before, after, took = cancel_during(vevo, engine_id, {name: clips.get(value, value)
                                                               for name, value in inputs.items()}, params, moving)
    assert job.state == JobState.cancelled and took < 5, (job.state, took)
    counts = [s for s in before if moving in s]
    assert len(set(counts)) >= 2, before  # the count a user watches moves on
    assert any(s.startswith("Building Vevo") for s in before), before
    assert not any(later in s for s in after) and vevo.generation.audio_path(job) is None, after


# -- Vevo1.5 -------------------------------------------------------------------------------------------------------


def test_vevo15_singing_conversion_transposes_to_the_references_range(vevo: Services, tiny: dict[str, Path]) -> None:
    inputs = {"source": clip(tiny["source"]), "timbre_reference": clip(tiny["reference"])}
    audio, job = succeeded(vevo, "amphion.vevo15_svc", inputs, FAST)
    assert abs(len(audio) - duration(tiny["source"])) <= 480  # one mel frame per 20 ms of the source
    assert job.result["extras"]["semitones_applied"] == round(12 * np.log2(260 / 180))  # 6 semitones up
    flat, job = succeeded(vevo, "amphion.vevo15_svc", inputs, {**FAST, "shift_prosody": False})
    assert "semitones_applied" not in job.result["extras"] and not np.array_equal(flat, audio)
    speech, _ = succeeded(vevo, "amphion.vevo15_vc", inputs, {**FAST, "shift_content_style": True,
                                                              "whisper_spec_perturb": True, "model": "sing0.4k"})
    assert abs(len(speech) - duration(tiny["source"])) <= 480
    assert {m.key for m in vevo.models.models()} == {"amphion.vevo1.5[fm,singnet7k]", "amphion.vevo1.5[fm,sing0.4k]"}


def test_vevo15_converts_a_long_source_in_parts(vevo: Services, tiny: dict[str, Path], tmp_path: Path) -> None:
    long = tone(tmp_path / "long.wav", 45.0, 200)
    audio, job = succeeded(vevo, "amphion.vevo15_vc", {"source": clip(long), "timbre_reference":
                                                       clip(tiny["reference"])}, FAST)
    assert job.result["extras"]["blocks"] == 2
    assert len(audio) == duration(long) and padded(audio) <= 2 * 480


def test_vevo15_refuses_silence_with_a_message(vevo: Services, tiny: dict[str, Path], tmp_path: Path) -> None:
    job, _ = run_job(vevo, "amphion.vevo15_svc", {"source": clip(silence(tmp_path / "silent.wav")),
                                                  "timbre_reference": clip(tiny["reference"])}, FAST)
    assert job.state == JobState.failed and job.error.startswith("The source audio is silent")


def test_vevo15_synthesis_editing_style_and_melody_run_the_ar_path(vevo: Services, tiny: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    stereo_8k = tmp_path / "melody.wav"  # an 8 kHz stereo melody: read, resampled and mixed down
    mono = sf.read(str(tone(tmp_path / "m.wav", 2.0, 220, rate=8_000)))[0]
    sf.write(str(stereo_8k), np.stack([mono, mono * 0.5], axis=1), 8_000)
    sung = clip(tiny["reference"], "la la la")
    cases = (
        ("amphion.vevo15_tts", {"text": "Sing me a song.", "style_reference": sung}),
        ("amphion.vevo15_edit_singing", {"source": clip(tiny["source"], "hello world"), "text": "hello there"}),
        ("amphion.vevo15_singing_style", {"source": clip(tiny["source"], "hello world"), "style_reference": sung}),
        ("amphion.vevo15_melody", {"source": clip(stereo_8k), "text": "la di da",
                                   "timbre_reference": clip(tiny["other"])}),
    )
    for engine_id, inputs in cases:
        audio, job = succeeded(vevo, engine_id, inputs, {**SHORT_AR, "duration_ratio": 1.0}
                               if engine_id != "amphion.vevo15_tts" else SHORT_AR)
        tokens = job.result["extras"]["content_style_tokens"]
        assert tokens >= SHORT_AR["min_new_tokens"], engine_id
        # four 20 ms mel frames per token, plus at most three frames the timbre prompt's rounding leaves over
        assert 0 <= len(audio) - tokens * 4 * 480 <= 3 * 480, (engine_id, len(audio), tokens)
    assert [m.key for m in vevo.models.models()] == ["amphion.vevo1.5[ar,singnet7k]"]
