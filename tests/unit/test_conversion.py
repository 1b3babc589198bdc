"""Conversion through the job queue: clips given by upload id, checked per slot, converted by the offline
engine, written next to the other generations; the default engine and the target slot for neural engines."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engines.builtin.world_converter import WorldVoiceConverter
from engines.contract import Engine, InputSlot, InvalidRequest
from engines.registry import Registry
from studio.audio.io import read_audio
from studio.audio_refs import MissingAudio
from studio.conversion import ConversionService
from studio.jobs import JobState
from studio.services import Services
from studio.uploads import UploadError
from tests.audio_measures import pitch_shift, speech, sung_tone, write


@pytest.fixture
def speech_upload(services: Services, tmp_path: Path):  # type: ignore[no-untyped-def]
    return services.uploads.store_file(write(tmp_path / "lecture.wav", *speech()))


def test_a_conversion_job_writes_the_converted_audio_and_records_its_inputs(services: Services, speech_upload,  # type: ignore[no-untyped-def]
                                                                            tmp_path: Path) -> None:
    target = services.uploads.store_file(write(tmp_path / "baritone.wav", sung_tone(3.0, 110.0), 24_000))
    job = services.conversion.submit("vc", speech_upload.id, target.id, params={"match_formants": False})
    assert job.engine_id == "builtin.world_vc" and job.task == "vc"
    assert job.title == "WORLD voice converter: lecture.wav → baritone.wav"
    assert job.payload["inputs"]["source"]["upload"] == speech_upload.id
    assert job.payload["inputs"]["reference"]["name"] == "baritone.wav"
    done = services.jobs.wait(job.id, 60)
    assert done.state == JobState.succeeded, done.error
    path = services.generation.audio_path(done)
    assert path is not None and path.parent == services.paths.generations
    info = sf.info(str(path))
    assert info.samplerate == 24_000 and info.duration == pytest.approx(speech_upload.duration, abs=0.001)
    assert done.result["extras"]["semitones_applied"] < -6  # down toward the 110 Hz target
    assert services.conversion.source_path(done) == speech_upload.normalised


def test_a_stereo_upload_is_converted_from_its_mono_mix(services: Services, tmp_path: Path) -> None:
    audio, rate = speech()
    stereo = services.uploads.store_file(write(tmp_path / "stereo.wav", np.stack([audio, audio * 0.8]), rate))
    done = services.jobs.wait(services.conversion.submit("vc", stereo.id, params={"semitones": 3}).id, 60)
    assert done.state == JobState.succeeded, done.error
    converted, _ = read_audio(services.generation.audio_path(done))
    assert abs(pitch_shift(audio, converted, rate) - 3) <= 0.3


def test_singing_uses_the_singing_engine(services: Services, tmp_path: Path) -> None:
    song = services.uploads.store_file(write(tmp_path / "song.wav", sung_tone(2.0, 330.0), 24_000))
    done = services.jobs.wait(services.conversion.submit("svc", song.id, params={"semitones": -12}).id, 60)
    assert done.state == JobState.succeeded and done.engine_id == "builtin.world_svc"
    converted, _ = read_audio(services.generation.audio_path(done))
    assert abs(pitch_shift(sung_tone(2.0, 330.0), converted, 24_000) + 12) <= 0.3


def test_a_source_longer_than_the_engine_takes_is_refused_before_queueing(services: Services,
                                                                          tmp_path: Path) -> None:
    # the converter's own bound, 20 minutes: a longer source is refused with a message, never queued
    assert WorldVoiceConverter.inputs[0].max_seconds == 20 * 60
    noise = np.random.default_rng(0).normal(0, 0.1, int(8_000 * 1_200.5)).astype(np.float32)  # half a second over
    lecture = services.uploads.store_file(write(tmp_path / "lecture.wav", noise, 8_000))
    with pytest.raises(InvalidRequest, match=r"Source audio: lecture.wav is 20:00\.5 long; WORLD voice converter "
                                             r"takes at most 20:00\. Cut it shorter, or convert it in parts\."):
        services.conversion.submit("vc", lecture.id)
    assert services.jobs.list() == []


def test_a_too_short_target_clip_and_unknown_ids_are_refused(services: Services, speech_upload,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path) -> None:
    blip = services.uploads.store_file(write(tmp_path / "blip.wav", sung_tone(0.5, 200.0), 24_000))
    with pytest.raises(InvalidRequest, match="Target voice: blip.wav is 0.5 s long; WORLD voice converter needs at "
                                             "least 1 s."):
        services.conversion.submit("vc", speech_upload.id, blip.id)
    with pytest.raises(MissingAudio, match="Source audio: the upload 'nope' does not exist"):
        services.conversion.submit("vc", "nope")
    with pytest.raises(InvalidRequest, match="Source audio: WORLD voice converter needs this audio."):
        services.conversion.submit("vc", None)
    with pytest.raises(InvalidRequest, match="Hibari is a speech synthesis engine, not a voice conversion engine"):
        services.conversion.submit("vc", speech_upload.id, engine_id="builtin.hibari")
    with pytest.raises(InvalidRequest, match="Transpose: 30 st is outside -24 st to 24 st."):
        services.conversion.submit("vc", speech_upload.id, params={"semitones": 30})


def test_a_retry_after_the_source_was_deleted_fails_with_a_clear_message(services: Services, speech_upload) -> None:  # type: ignore[no-untyped-def]
    done = services.jobs.wait(services.conversion.submit("vc", speech_upload.id).id, 60)
    assert done.state == JobState.succeeded
    kept = services.history.wait(done.id, 30)  # the job ends a moment before its generation is kept
    with pytest.raises(UploadError, match=f"is used by 1 generation \\({done.id}\\)") as refused:
        services.uploads.delete([speech_upload.id])  # the kept generation still needs it
    assert refused.value.status == 409
    services.history.delete([kept.id])
    services.uploads.delete([speech_upload.id])
    again = services.jobs.wait(services.jobs.retry(done.id).id, 30)
    assert again.state == JobState.failed
    assert "does not exist (any more). Add the audio again." in again.error
    assert services.conversion.source_path(done) is None


def test_a_silent_source_fails_with_a_clear_message(services: Services, tmp_path: Path) -> None:
    silent = services.uploads.store_file(write(tmp_path / "silence.wav", np.zeros(48_000, np.float32), 24_000))
    done = services.jobs.wait(services.conversion.submit("vc", silent.id).id, 30)
    assert done.state == JobState.failed and "The source audio is silent" in done.error


class _NeuralVC(Engine):
    """Stands in for a neural engine's declarations (Vevo-Timbre's slots), to test engine choice only."""

    id = "test.timbre_vc"
    name = "Timbre VC"
    task = "vc"
    inputs = (InputSlot("source", "audio", "Source"), InputSlot("timbre_reference", "audio", "Timbre reference"))


def test_a_ready_neural_engine_is_the_default_and_takes_the_reference_in_its_own_slot() -> None:
    conversion = ConversionService(Registry(classes=[WorldVoiceConverter, _NeuralVC]), generation=None)  # type: ignore[arg-type]
    assert conversion.default_engine("vc").id == "test.timbre_vc"
    assert conversion.target_slot(_NeuralVC()) == "timbre_reference"
    assert conversion.target_slot(WorldVoiceConverter()) == "reference"
    alone = ConversionService(Registry(classes=[WorldVoiceConverter]), generation=None)  # type: ignore[arg-type]
    assert alone.default_engine("vc").id == "builtin.world_vc"
    with pytest.raises(InvalidRequest, match="'tts' is not one of vc, svc"):
        alone.default_engine("tts")


def test_the_conversion_pages_import_no_model_code() -> None:
    from tests.unit.test_registry import _modules_after

    loaded = _modules_after("import pages.conversion, pages.singing, components.conversion_card, studio.conversion")
    assert not {"torch", "pyworld", "parselmouth"} & {m.split(".")[0] for m in loaded}
