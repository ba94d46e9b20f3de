"""Issue 12: audio that lies about its length, bounded memory, convert limits, odd file names."""

from __future__ import annotations

import base64
import io
import itertools
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from services.transcription import audio
from services.transcription.chunking import plan_chunks, windows
from services.transcription.local_engine import LocalWhisperEngine
from services.transcription.types import Transcript

from .conftest import SAMPLE_RATE, leftover_files, sine_wav
from .lying_audio import lying_flac, silence_flac

TRANSCRIBE = "/api/v1/transcription/transcribe"
CONVERT = "/api/v1/transcription/convert"


@pytest.fixture
def engine_calls(monkeypatch) -> list[int]:
    """The local engine, minus Whisper: records the samples of each call, answers an empty text."""
    calls: list[int] = []

    def transcribe_pcm(self, samples, model, options):
        calls.append(len(samples))
        return Transcript("", "en", len(samples) / SAMPLE_RATE, self.model_name, [])

    monkeypatch.setattr(LocalWhisperEngine, "transcribe_pcm", transcribe_pcm)
    return calls


@pytest.fixture(scope="module")
def ten_minutes_claiming_ten_seconds(tmp_path_factory) -> Path:
    return lying_flac(tmp_path_factory.mktemp("lying") / "meeting.flac", 600, claimed_seconds=10)


def _too_long(limit: int) -> dict:
    return {
        "success": False,
        "error": f"Audio is too long: more than {limit} s of decoded audio (limit {limit} s)",
        "statusCode": 413,
    }


# --- durations are measured, never read from the header
def test_probe_measures_a_lying_flac_by_decoding(ten_minutes_claiming_ten_seconds):
    with av.open(str(ten_minutes_claiming_ten_seconds)) as container:  # what the header says
        assert float(container.streams.audio[0].duration * container.streams.audio[0].time_base) == 10.0
    assert ten_minutes_claiming_ten_seconds.stat().st_size < 200_000
    assert audio.probe(ten_minutes_claiming_ten_seconds).duration == pytest.approx(600.0)
    with pytest.raises(audio.AudioTooLong, match=r"more than 60 s of decoded audio \(limit 60 s\)"):
        audio.probe(ten_minutes_claiming_ten_seconds, max_seconds=60)
    with pytest.raises(audio.AudioTooLong):
        audio.decode(ten_minutes_claiming_ten_seconds, max_seconds=60)


def test_lying_flac_over_the_limit_is_413_on_every_upload_route(
    api, post_json, settings, engine_calls, ten_minutes_claiming_ten_seconds, transcription_settings
):
    settings.TRANSCRIPTION_MAX_DURATION_SECONDS = 60
    data = ten_minutes_claiming_ten_seconds.read_bytes()
    multipart = api.post(TRANSCRIBE, {"file": SimpleUploadedFile("meeting.flac", data)}, format="multipart")
    encoded = base64.b64encode(data).decode()
    as_base64 = post_json("/transcription/audio/base64", {"audio": encoded, "filename": "meeting.flac"})
    (transcription_settings / "uploads" / "meeting.flac").write_bytes(data)
    by_path = post_json("/transcription/audio", {"filePath": "meeting.flac"})
    for response in (multipart, as_base64, by_path):
        assert response.status_code == 413
        assert response.json() == _too_long(60)
    assert engine_calls == []
    assert leftover_files(transcription_settings) == []


def test_lying_flac_under_the_limit_becomes_a_job_on_its_real_length(
    api, engine_calls, tmp_path, transcription_settings
):
    # 200 s claiming 10 s: the header would make it a synchronous request (threshold 120 s).
    path = lying_flac(tmp_path / "long.flac", 200, claimed_seconds=10)
    response = api.post(TRANSCRIBE, {"file": SimpleUploadedFile("long.flac", path.read_bytes())}, format="multipart")
    assert response.status_code == 202, response.content
    job = api.get(response["Location"]).json()["job"]
    assert job["status"] == "completed", job
    assert job["duration"] == pytest.approx(200.0)
    planned = plan_chunks(200.0, 30.0, 3.0)
    assert job["chunksTotal"] == job["chunksDone"] == len(planned) == len(engine_calls)
    assert engine_calls == [int(c.end * SAMPLE_RATE) - int(c.start * SAMPLE_RATE) for c in planned]
    assert leftover_files(transcription_settings) == []


# --- memory is one window's, on the synchronous path and in jobs
@pytest.mark.parametrize("path_kind", ["sync", "job"])
def test_memory_stays_at_a_window_whatever_the_length(
    api, settings, engine_calls, tmp_path, transcription_settings, path_kind
):
    if path_kind == "sync":
        settings.TRANSCRIPTION_ASYNC_THRESHOLD_SECONDS = 3 * 3600  # everything answered inline
    path = silence_flac(tmp_path / "twenty-minutes.flac", 20 * 60)
    upload = SimpleUploadedFile("twenty-minutes.flac", path.read_bytes())
    tracemalloc.start()
    try:
        response = api.post(TRANSCRIBE, {"file": upload}, format="multipart")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == (200 if path_kind == "sync" else 202), response.content
    # The whole signal would be 77 MB of float32 (plus its int16 copy); one 30 s window is 1.9 MB.
    assert max(engine_calls) <= 35 * SAMPLE_RATE
    assert sum(engine_calls) >= 20 * 60 * SAMPLE_RATE
    assert peak < 20 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_windows_cut_a_stream_like_the_whole_signal_and_stop_at_the_plan():
    rng = np.random.default_rng(12)
    pcm = rng.standard_normal(int(70.3 * SAMPLE_RATE)).astype(np.float32)
    sizes = itertools.cycle([1, 4608, 999, 16000, 3])
    edges = [0]
    while edges[-1] < len(pcm):
        edges.append(min(edges[-1] + next(sizes), len(pcm)))
    blocks = [pcm[a:b] for a, b in itertools.pairwise(edges)]
    chunks = plan_chunks(len(pcm) / SAMPLE_RATE, 20.0, 3.0)
    cut = list(windows(iter(blocks), chunks))
    assert [chunk for chunk, _ in cut] == chunks
    for chunk, samples in cut:
        np.testing.assert_array_equal(samples, chunk.samples(pcm))

    # An endless stream (a file that holds more than was measured) is read up to the plan only.
    def endless():
        while True:
            yield np.zeros(4096, dtype=np.float32)

    planned = plan_chunks(100.0, 30.0, 3.0)
    assert [len(s) for _, s in windows(endless(), planned)] == [
        int(c.end * SAMPLE_RATE) - int(c.start * SAMPLE_RATE) for c in planned
    ]


# --- /transcription/convert
def _convert(api, name: str, data: bytes, **fields):
    return api.post(CONVERT, {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def test_convert_refuses_a_lying_flac_over_the_duration_limit(
    api, settings, ten_minutes_claiming_ten_seconds, transcription_settings
):
    settings.TRANSCRIPTION_MAX_DURATION_SECONDS = 60
    response = _convert(api, "meeting.flac", ten_minutes_claiming_ten_seconds.read_bytes(), target_format="wav")
    assert response.status_code == 413
    assert response.json() == _too_long(60)
    assert leftover_files(transcription_settings) == []


def test_convert_output_is_capped(api, settings, tmp_path, transcription_settings):
    settings.TRANSCRIPTION_CONVERT_MAX_OUTPUT_BYTES = 1_000_000
    # 60 s of silence: 11 KB of FLAC, 11.5 MB as 48 kHz stereo WAV.
    source = silence_flac(tmp_path / "quiet.flac", 60).read_bytes()
    assert len(source) < 20_000
    response = _convert(api, "quiet.flac", source, target_format="wav", sample_rate="48000", channels="2")
    assert response.status_code == 413
    assert response.json() == {
        "success": False,
        "error": "Converted audio is too large: more than 1000000 bytes (limit 1000000 bytes)",
        "statusCode": 413,
    }
    assert leftover_files(transcription_settings) == []
    # Under the cap the same file converts: 60 s of 16 kHz mono MP3 is far smaller.
    small = _convert(api, "quiet.flac", source, target_format="mp3", channels="1")
    assert small.status_code == 200
    content = b"".join(small.streaming_content)
    small.close()
    assert len(content) < 1_000_000
    with av.open(io.BytesIO(content)) as container:
        assert sum(f.samples for f in container.decode(audio=0)) / container.streams.audio[0].sample_rate == (
            pytest.approx(60.0, abs=0.1)
        )


def test_convert_stops_at_the_duration_limit_itself(tmp_path):
    source = silence_flac(tmp_path / "ten.flac", 10)
    with pytest.raises(audio.AudioTooLong):
        audio.convert(source, tmp_path / "out.wav", "wav", max_seconds=5)
    with pytest.raises(audio.OutputTooLarge):
        audio.convert(source, tmp_path / "out.wav", "wav", max_bytes=100_000)  # 320 KB as WAV
    assert audio.convert(source, tmp_path / "out.wav", "wav", max_seconds=11, max_bytes=400_000).duration == 10.0


# --- odd names are a clear 4xx
def test_audio_path_symlink_loop_and_overlong_name_are_400(post_json, transcription_settings):
    uploads = transcription_settings / "uploads"
    (uploads / "loop-a.flac").symlink_to(uploads / "loop-b.flac")
    (uploads / "loop-b.flac").symlink_to(uploads / "loop-a.flac")
    loop = post_json("/transcription/audio", {"filePath": "loop-a.flac"})
    assert loop.status_code == 400
    assert loop.json() == {
        "success": False,
        "error": "filePath cannot be resolved: it is a loop of symbolic links",
        "statusCode": 400,
    }
    long_name = post_json("/transcription/audio", {"filePath": "a" * 300 + ".flac"})
    assert long_name.status_code == 400
    assert long_name.json() == {
        "success": False,
        "error": "filePath cannot name a file: File name too long",
        "statusCode": 400,
    }
    too_long = post_json("/transcription/audio", {"filePath": "a/" * 2100})
    assert too_long.json()["message"] == ["filePath must be shorter than or equal to 4096 characters"]


def test_base64_overlong_extension(post_json, engine_calls, tmp_path, transcription_settings):
    tone = base64.b64encode(sine_wav(tmp_path / "tone.wav", 1.0).read_bytes()).decode()
    refused = post_json("/transcription/audio/base64", {"audio": tone, "filename": "clip." + "x" * 300})
    assert refused.status_code == 400
    assert refused.json()["message"] == ["filename must be shorter than or equal to 255 characters"]
    # 252 characters is a legal name, but not with a scratch-file prefix: the extension is not
    # validated (contract 4.6.2), so it is transcribed from its content.
    accepted = post_json("/transcription/audio/base64", {"audio": tone, "filename": "a." + "x" * 250})
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["transcription"]["duration"] == pytest.approx(1.0)
    assert engine_calls == [SAMPLE_RATE]
    assert leftover_files(transcription_settings) == []
