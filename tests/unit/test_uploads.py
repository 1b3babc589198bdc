"""Uploads: every accepted format is kept and normalised; every bad file gets a message, over HTTP too."""
from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from fastapi import FastAPI

from studio import uploads as uploads_module
from studio.api import mount
from studio.audio.io import decode_to_wav
from studio.services import Services, build_services
from studio.settings import Settings
from studio.uploads import MAX_UPLOAD_BYTES, UploadError, UploadService, safe_name

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def tone_file(path: Path, seconds: float = 2.0, sr: int = 24_000, channels: int = 1, hz: float = 440) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    mono = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    sf.write(str(path), np.stack([mono] * channels, axis=1) if channels > 1 else mono, sr)
    return path


async def chunks_of(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


@pytest.fixture
def uploads(services: Services) -> UploadService:
    return services.uploads


def test_a_stereo_48k_file_is_kept_and_normalised_to_mono(uploads: UploadService, tmp_path: Path) -> None:
    stored = uploads.store_file(tone_file(tmp_path / "take one.flac", sr=48_000, channels=2))
    assert stored.name == "take one.flac" and stored.channels == 2 and stored.duration == pytest.approx(2.0)
    assert stored.original.read_bytes() == (tmp_path / "take one.flac").read_bytes()
    info = sf.info(str(stored.normalised))
    assert (info.channels, info.samplerate, info.format) == (1, 48_000, "WAV")
    assert uploads.get(stored.id) == stored


def test_very_high_rates_are_normalised_to_48k(uploads: UploadService, tmp_path: Path) -> None:
    stored = uploads.store_file(tone_file(tmp_path / "hi.wav", sr=96_000))
    assert stored.sample_rate == 48_000 and sf.info(str(stored.normalised)).samplerate == 48_000


@needs_ffmpeg
@pytest.mark.parametrize("suffix,args", [(".m4a", ["-c:a", "aac"]), (".mp3", []), (".ogg", ["-c:a", "libvorbis"])])
def test_compressed_formats_are_decoded(uploads: UploadService, tmp_path: Path, suffix: str, args: list[str]) -> None:
    source = tone_file(tmp_path / "a.wav", seconds=3.0)
    target = tmp_path / f"a{suffix}"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), *args, str(target)], check=True)
    stored = uploads.store_file(target)
    assert stored.duration == pytest.approx(3.0, abs=0.1)


def ffmpeg_or_skip(*args: str) -> None:
    """Run ffmpeg; skip the test when this build lacks an encoder or muxer it needs."""
    done = subprocess.run(["ffmpeg", "-v", "error", "-y", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"this ffmpeg cannot make the test file: {done.stderr.strip()[:200]}")


@needs_ffmpeg
@pytest.mark.parametrize(("suffix", "video", "sound"), [
    (".mp4", "libx264", "aac"), (".mov", "libx264", "aac"), (".webm", "libvpx-vp9", "libopus"),
    (".avi", "mpeg4", "libmp3lame"), (".mkv", "libx264", "flac"),
])
def test_the_sound_of_a_video_is_extracted(uploads: UploadService, tmp_path: Path, suffix: str, video: str,
                                           sound: str) -> None:
    wav = tone_file(tmp_path / "s.wav", seconds=2.5, sr=48_000, channels=2)
    clip = tmp_path / f"clip{suffix}"
    ffmpeg_or_skip("-f", "lavfi", "-i", "color=c=black:s=64x64:d=2.5", "-i", str(wav), "-shortest",
                   "-c:v", video, "-c:a", sound, str(clip))
    stored = uploads.store_file(clip)
    audio, sr = sf.read(str(stored.normalised))
    assert stored.name == clip.name and stored.channels == 2 and audio.ndim == 1
    assert sr == 48_000 and len(audio) / sr == pytest.approx(2.5, abs=0.1) == stored.duration
    peak = np.abs(audio).max()
    assert 0.2 < peak < 0.4  # the 0.3 tone, not silence and not noise


@needs_ffmpeg
def test_a_video_without_sound_is_refused(uploads: UploadService, tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-c:v", "libx264",
                    str(silent)], check=True)
    with pytest.raises(UploadError, match="no audio stream"):
        uploads.store_file(silent)


@needs_ffmpeg
def test_hours_of_low_bitrate_opus_are_refused_from_the_header_before_decoding(
        uploads: UploadService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    minute = tmp_path / "minute.webm"
    ffmpeg_or_skip("-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "60", "-c:a", "libopus", "-b:a", "6k",
                   "-frame_duration", "120", str(minute))
    long = tmp_path / "three-hours.webm"
    ffmpeg_or_skip("-stream_loop", "179", "-i", str(minute), "-c", "copy", str(long))  # 3 h in 3 MB
    assert long.stat().st_size < MAX_UPLOAD_BYTES
    decoded: list[Path] = []  # the files ffmpeg was asked to decode (it still does, for any that get that far)
    monkeypatch.setattr(uploads_module, "decode_to_wav",
                        lambda source, *args: decoded.append(source) or decode_to_wav(source, *args))
    with pytest.raises(UploadError, match=r"three-hours.webm is 3.0 hours long; at most 2 hours is taken for an "
                                          r"upload. Cut it shorter first."):
        uploads.store_file(long)
    with pytest.raises(UploadError, match=r"is 3.0 hours long; at most 300 s is taken"):
        uploads.store_file(long, max_seconds=300)
    assert decoded == [] and uploads.list() == []  # refused from the header: decoding 3 h takes minutes (and GBs)
    assert uploads.store_file(minute).duration == pytest.approx(60, abs=0.5)  # a file within the limit is decoded
    assert len(decoded) == 1


@needs_ffmpeg
def test_a_recording_whose_header_has_no_duration_is_cut_at_the_limit(uploads: UploadService,
                                                                      tmp_path: Path) -> None:
    recording = tmp_path / "recording.webm"  # as a browser's MediaRecorder writes it: streamed, no duration
    with open(recording, "wb") as out:
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=48000",
                        "-t", "12", "-c:a", "libopus", "-f", "webm", "-live", "1", "-"], stdout=out, check=True)
    from studio.audio.io import probe

    if probe(recording).duration is not None:
        pytest.skip("this ffmpeg writes the duration even into a live WebM stream")
    with pytest.raises(UploadError, match="recording.webm is longer than 10 s; at most 10 s is taken"):
        uploads.store_file(recording, max_seconds=10)
    assert uploads.store_file(recording, max_seconds=20).duration == pytest.approx(12, abs=0.1)


def test_durations_outside_the_limits_are_refused(uploads: UploadService, tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="1.0 s long; at least 2 s is needed"):
        uploads.store_file(tone_file(tmp_path / "short.wav", seconds=1.0), min_seconds=2)
    with pytest.raises(UploadError, match="at most 5 s is taken"):
        uploads.store_file(tone_file(tmp_path / "long.wav", seconds=6.0), max_seconds=5)
    assert uploads.list() == [] and list((uploads._paths.uploads).iterdir()) == []  # nothing half-kept


def test_empty_corrupt_and_wrong_type_files_are_refused(uploads: UploadService, tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(UploadError, match="empty"):
        uploads.store_file(tmp_path / "empty.wav")
    (tmp_path / "noise.wav").write_bytes(b"RIFF\x00\x00not really a wave file" * 10)
    with pytest.raises(UploadError, match="noise.wav"):
        uploads.store_file(tmp_path / "noise.wav")
    (tmp_path / "run.exe").write_bytes(b"MZ")
    with pytest.raises(UploadError, match="takes audio") as refused:
        uploads.store_file(tmp_path / "run.exe")
    assert refused.value.status == 415


async def test_an_oversized_stream_stops_at_the_limit(uploads: UploadService) -> None:
    with pytest.raises(UploadError) as refused:
        await uploads.store_stream("big.wav", chunks_of(b"\0" * (MAX_UPLOAD_BYTES + 1)))
    assert refused.value.status == 413 and "50 MB" in str(refused.value)
    assert uploads.list() == []


@pytest.mark.parametrize("hostile,expected", [
    ("../../etc/passwd.wav", "passwd.wav"),
    ("C:\\Users\\me\\voice.mp3", "voice.mp3"),
    ("bad\x00name\x07.wav", "badname.wav"),
    ("....hidden.wav", "hidden.wav"),
    ("x" * 300 + ".flac", "x" * 96 + ".flac"),
    ("stimme_größe.wav", "stimme_größe.wav"),
])
def test_hostile_names_are_made_safe(hostile: str, expected: str) -> None:
    assert safe_name(hostile) == expected


def test_a_hostile_name_cannot_escape_the_upload_folder(uploads: UploadService, tmp_path: Path) -> None:
    stored = uploads.store_file(tone_file(tmp_path / "x.wav"), name="../../../../tmp/evil.wav")
    assert stored.name == "evil.wav" and uploads._paths.uploads in stored.original.parents


def test_delete_removes_row_and_files(uploads: UploadService, tmp_path: Path) -> None:
    stored = uploads.store_file(tone_file(tmp_path / "x.wav"))
    assert uploads.delete([stored.id]) == 1
    assert uploads.get(stored.id) is None and not stored.original.parent.exists()


async def test_uploads_over_http(services: Services, tmp_path: Path) -> None:
    app = FastAPI()
    mount(app, services)
    wav = tone_file(tmp_path / "rec.wav", seconds=2.0).read_bytes()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://studio") as client:
        created = await client.post("/api/uploads", files={"file": ("rec.wav", wav, "audio/wav")})
        assert created.status_code == 201
        body = created.json()
        assert body["duration"] == pytest.approx(2.0) and body["url"].endswith("/normalised.wav")
        assert (await client.get(f"/api/uploads/{body['id']}")).json()["name"] == "rec.wav"
        short = await client.post("/api/uploads", params={"min_seconds": 3}, files={"file": ("r.wav", wav)})
        assert short.status_code == 400 and "at least 3 s" in short.json()["detail"]
        text = await client.post("/api/uploads", files={"file": ("notes.txt", b"hello")})
        assert text.status_code == 415
        huge = await client.post("/api/uploads", files={"file": ("big.wav", io.BytesIO(b"\0" * (MAX_UPLOAD_BYTES + 2**20)))})
        assert huge.status_code == 413
        assert (await client.delete(f"/api/uploads/{body['id']}")).status_code == 204
        assert (await client.get(f"/api/uploads/{body['id']}")).status_code == 404


async def test_an_upload_in_use_is_not_deleted_and_the_answer_says_what_uses_it(services: Services,
                                                                                tmp_path: Path) -> None:
    app = FastAPI()
    mount(app, services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://studio") as client:
        async def upload(name: str) -> str:
            wav = tone_file(tmp_path / name, seconds=2.0).read_bytes()
            return (await client.post("/api/uploads", files={"file": (name, wav, "audio/wav")})).json()["id"]

        used, other = await upload("used.wav"), await upload("other.wav")
        echoed = await client.post("/api/generate", params={"wait": True},
                                   json={"engine": "test.echo", "inputs": {"source": {"upload": used}}})
        assert echoed.status_code == 200, echoed.text
        generation = echoed.json()["id"]
        clips = [f"upload:{used}", f"generation:{generation}"]
        round_id = (await client.post("/api/compare/votes", json={"clips": clips, "chosen": None})).json()["round_id"]
        saved = (await client.post("/api/compare/comparisons", json={"name": "Echo", "clips": clips})).json()["id"]

        refused = await client.delete(f"/api/uploads/{used}")
        assert refused.status_code == 409
        assert refused.json()["detail"] == (
            f"used.wav is used by 1 generation ({generation}) and 1 blind-vote round ({round_id}) and 1 saved "
            f"comparison ({saved}): delete those first (DELETE /api/history/{{id}}; DELETE "
            f"/api/compare/votes/{{round_id}}; DELETE /api/compare/comparisons/{{id}}), then the upload.")
        rerun = await client.post(f"/api/history/{generation}/rerun")
        assert rerun.status_code == 202  # the clip is still there to run again
        assert (await client.delete(f"/api/uploads/{other}")).status_code == 204  # nothing uses this one

        await asyncio.to_thread(services.history.wait, rerun.json()["id"], 30)  # the re-run uses it too
        for path in (f"/api/history/{generation}", f"/api/history/{rerun.json()['id']}",
                     f"/api/compare/votes/{round_id}", f"/api/compare/comparisons/{saved}"):
            assert (await client.delete(path)).status_code == 204, path
        assert (await client.delete(f"/api/uploads/{used}")).status_code == 204
        assert (await client.delete(f"/api/compare/votes/{round_id}")).status_code == 404


def test_an_upload_a_queued_job_names_is_not_deleted_until_the_job_ends(studio_home: Path, tmp_path: Path) -> None:
    services = build_services(Settings.load())  # not started: what is submitted stays queued
    try:
        stored = services.uploads.store_file(tone_file(tmp_path / "queued.wav"))
        generation = services.generation.submit("test.echo", {"source": {"upload": stored.id}})
        with pytest.raises(UploadError) as refused:
            services.uploads.delete([stored.id])
        assert refused.value.status == 409
        assert str(refused.value) == (
            f"queued.wav is used by 1 queued or running job ({generation.id}): cancel it (POST "
            f"/api/jobs/{{id}}/cancel) or wait until it ends, then delete the upload.")
        assert services.jobs.cancel(generation.id)
        transcription = services.transcription.submit(stored.normalised)  # names the upload by its file
        with pytest.raises(UploadError, match=f"1 queued or running job \\({transcription.id}\\)"):
            services.uploads.delete([stored.id])
        assert services.jobs.cancel(transcription.id)
        assert services.uploads.delete([stored.id]) == 1
    finally:
        services.stop()
