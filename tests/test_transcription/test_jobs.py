"""Long audio becomes a background job: 202, status with progress, chunked and stitched result."""

from __future__ import annotations

import itertools
import time
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from transcription.models import TranscriptionJob

from .conftest import leftover_files, word_error_rate

TRANSCRIBE = "/api/v1/transcription/transcribe"


@pytest.fixture
def long_audio_settings(settings):
    """Make the ~33 s test recording 'long': 3 windows of 14 s with 3 s of overlap."""
    settings.TRANSCRIPTION_ASYNC_THRESHOLD_SECONDS = 20
    settings.TRANSCRIPTION_CHUNK_SECONDS = 14
    settings.TRANSCRIPTION_CHUNK_OVERLAP_SECONDS = 3
    return settings


def _post(api, utterance, **fields):
    file = SimpleUploadedFile("meeting.wav", utterance.path.read_bytes())
    return api.post(TRANSCRIBE, {"file": file, **fields}, format="multipart")


def _wait_for(api, url: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        response = api.get(url)
        # SQLite's shared in-memory test database can refuse a read while the job thread writes.
        if response.status_code == 200:
            job = response.json()["job"]
            if job["status"] in ("completed", "failed"):
                return job
        time.sleep(0.2)
    raise AssertionError(f"job at {url} did not finish in {timeout}s: {job}")


def test_long_audio_is_a_chunked_job_with_a_stitched_result(
    api, long_speech, long_audio_settings, transcription_settings
):
    response = _post(api, long_speech, response_format="srt")
    assert response.status_code == 202, response.content
    queued = response.json()["job"]
    assert response["Location"] == queued["statusUrl"] == f"/api/v1/transcription/jobs/{queued['id']}"

    job = api.get(queued["statusUrl"]).json()["job"]  # eager in tests: already done
    assert job["status"] == "completed", job
    assert job["progress"] == 1
    assert job["chunksTotal"] == job["chunksDone"] == 3
    assert job["duration"] == pytest.approx(33, abs=2)
    assert job["model"] == "whisper-tiny.en" and job["backend"] == "whisper-local"
    assert job["startedAt"] and job["finishedAt"] and job["createdAt"].endswith("Z")

    result = job["transcription"]
    # Same quality as short files: no words lost or doubled where the windows meet.
    wer = word_error_rate(long_speech.text, result["text"])
    assert wer < 0.2, (wer, result["text"])
    words = result["words"]
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)
    assert words[-1]["end"] > 28  # timestamps are on the whole file's timeline, not the window's
    assert abs(len(words) - len(long_speech.text.split())) <= 4
    assert job["output"].startswith("1\n00:00:00,")
    assert job["output"].count(" --> ") == len(result["segments"])
    # The queued audio is deleted once the job is done.
    assert leftover_files(transcription_settings) == []
    assert TranscriptionJob.objects.get(pk=queued["id"]).audio_path == ""


def test_unknown_job_is_404(api):
    missing = api.get(f"/transcription/jobs/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["error"].startswith("Transcription job ")
    assert api.get("/transcription/jobs/not-a-uuid").status_code == 404


def test_failed_job_reports_the_error(api, long_speech, long_audio_settings, fake_openai, transcription_settings):
    fake_openai.mode = "500"
    response = _post(api, long_speech)
    assert response.status_code == 202
    job = api.get(response["Location"]).json()["job"]
    assert job["status"] == "failed"
    assert job["error"].startswith("OpenAI transcription failed (500)")
    assert "transcription" not in job
    assert leftover_files(transcription_settings) == []


def test_openai_chunks_are_stitched_without_duplicates(api, long_speech, long_audio_settings, fake_openai):
    response = _post(api, long_speech, response_format="verbose_json")
    job = api.get(response["Location"]).json()["job"]
    assert job["status"] == "completed", job
    assert len(fake_openai.requests) == 3
    assert all(r["filename"] == "chunk.flac" and r["file_type"] == "audio/flac" for r in fake_openai.requests)
    # The fake says "tick" every 0.5 s of the audio it hears: after stitching, one tick per 0.5 s of
    # the whole file, none repeated in the overlaps and none missing at the seams.
    starts = [w["start"] for w in job["transcription"]["words"]]
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.2 and max(gaps) <= 0.8, gaps
    assert len(starts) == pytest.approx(job["duration"] / 0.5, abs=3)


def test_thread_runner_without_a_broker(api, long_speech, long_audio_settings, transactional_db):
    long_audio_settings.CELERY_TASK_ALWAYS_EAGER = False
    long_audio_settings.CELERY_BROKER_URL = ""
    response = _post(api, long_speech)
    assert response.status_code == 202
    assert response.json()["job"]["status"] in ("queued", "running")
    job = _wait_for(api, response["Location"])
    assert job["status"] == "completed", job
    assert word_error_rate(long_speech.text, job["transcription"]["text"]) < 0.2


def test_celery_worker_runs_the_job_over_rabbitmq(
    api, long_speech, long_audio_settings, transactional_db, require_service
):
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_prerun

    from mlservice.celery import app

    ran_on_worker: list[tuple[str, tuple]] = []

    def record(sender=None, args=(), **kwargs) -> None:
        ran_on_worker.append((sender.name, tuple(args)))

    task_prerun.connect(record, weak=False)

    broker = require_service("rabbitmq")
    long_audio_settings.CELERY_TASK_ALWAYS_EAGER = False
    long_audio_settings.TRANSCRIPTION_JOB_RUNNER = "celery"
    previous = app.conf.broker_url, app.conf.broker_heartbeat
    app.conf.broker_url = broker
    # With AMQP heartbeats the worker's event loop wakes every second, so it stops at once
    # instead of after its 10 s idle poll.
    app.conf.broker_heartbeat = 2
    try:
        # A thread pool: the worker's event loop keeps sending AMQP heartbeats while the job runs (with the
        # solo pool a long job missed them, RabbitMQ dropped the connection and redelivered the task).
        with start_worker(app, pool="threads", perform_ping_check=False, shutdown_timeout=30, without_heartbeat=False):
            _wait_for_worker(app)
            response = _post(api, long_speech)
            assert response.status_code == 202
            job = _wait_for(api, response["Location"])
    finally:
        app.conf.broker_url, app.conf.broker_heartbeat = previous
        _reset_connections(app)
        task_prerun.disconnect(record)
    # The worker (not the in-process fallback) ran it, after a round trip through RabbitMQ.
    assert ran_on_worker == [("transcription.run_job", (job["id"],))]
    assert job["status"] == "completed", job
    assert job["chunksDone"] == 3
    assert word_error_rate(long_speech.text, job["transcription"]["text"]) < 0.2


def test_unreachable_broker_falls_back_to_a_thread(api, long_speech, long_audio_settings, transactional_db):
    from mlservice.celery import app

    long_audio_settings.CELERY_TASK_ALWAYS_EAGER = False
    long_audio_settings.TRANSCRIPTION_JOB_RUNNER = "celery"
    previous = app.conf.broker_url, app.conf.broker_connection_timeout
    app.conf.broker_url = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens on port 1
    app.conf.broker_connection_timeout = 0.5
    try:
        response = _post(api, long_speech)
        assert response.status_code == 202
        job = _wait_for(api, response["Location"])
    finally:
        app.conf.broker_url, app.conf.broker_connection_timeout = previous
        _reset_connections(app)
    assert job["status"] == "completed", job
    assert word_error_rate(long_speech.text, job["transcription"]["text"]) < 0.2


def _reset_connections(app) -> None:
    """Drop the producer pool built for the test broker; the next use builds a fresh one."""
    app.pool.force_close_all()
    app._pool = None


def _wait_for_worker(app, timeout: float = 20.0) -> None:
    """The worker's control channel may answer a moment after its task consumer is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1.0):
            return
    raise AssertionError("the Celery test worker never answered a ping")


def test_cleanup_command(transcription_settings):
    import os
    from datetime import timedelta
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    jobs_dir, scratch = transcription_settings / "jobs", transcription_settings / "scratch"
    old = timezone.now() - timedelta(days=10)
    finished = TranscriptionJob.objects.create(filename="a.wav", backend="whisper-local", model="m", status="completed")
    recent = TranscriptionJob.objects.create(filename="b.wav", backend="whisper-local", model="m", status="failed")
    lost_audio = jobs_dir / "lost.wav"
    lost_audio.write_bytes(b"x")
    lost = TranscriptionJob.objects.create(
        filename="c.wav", backend="whisper-local", model="m", audio_path=str(lost_audio)
    )
    live_audio = jobs_dir / "live.wav"
    live_audio.write_bytes(b"x")
    live = TranscriptionJob.objects.create(
        filename="d.wav", backend="whisper-local", model="m", audio_path=str(live_audio)
    )
    TranscriptionJob.objects.filter(pk__in=[finished.pk, lost.pk]).update(created_at=old, updated_at=old)
    orphan, leftover = jobs_dir / "orphan.wav", scratch / "tmpabc.flac"
    for path in (orphan, leftover):
        path.write_bytes(b"x")
        os.utime(path, (old.timestamp(), old.timestamp()))
    os.utime(live_audio, (old.timestamp(), old.timestamp()))  # old file, but its job is still queued

    out = StringIO()
    call_command("transcription_cleanup", stdout=out)
    assert out.getvalue().strip() == (
        "1 expired jobs deleted, 1 lost jobs marked failed, 1 orphan audio files and 1 scratch files removed"
    )
    assert set(TranscriptionJob.objects.values_list("pk", flat=True)) == {recent.pk, lost.pk, live.pk}
    lost.refresh_from_db()
    assert lost.status == "failed" and lost.error.startswith("Job lost: no progress for 21600 s")
    assert not lost_audio.exists() and not orphan.exists() and not leftover.exists()
    assert live_audio.exists()
