"""Background jobs for long audio: create, dispatch (Celery, a thread, or inline) and run.

Runner choice (``TRANSCRIPTION_JOB_RUNNER``): ``auto`` is inline when CELERY_TASK_ALWAYS_EAGER
(tests), Celery when a broker is configured, else a thread in this process so a laptop with no
services still works. A broker that cannot be reached falls back to the thread: the job is
never lost. The queued audio lives under TRANSCRIPTION_JOB_DIR (shared with the workers) and is
deleted when the job finishes, whatever the outcome.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from django.db import DatabaseError, OperationalError, close_old_connections, connections
from django.db.models import Count
from django.utils import timezone

from mlservice import metrics
from mlservice.core.errors import ServiceError
from services.model_gate import patient
from services.transcription import audio
from services.transcription.chunking import transcribe_file_in_windows
from services.transcription.config import transcription_config
from services.transcription.files import safe_suffix
from services.transcription.types import (
    EngineChoice,
    Transcript,
    TranscriptionEngine,
    TranscriptionOptions,
    transcript_to_dict,
)
from transcription.models import TranscriptionJob

logger = logging.getLogger("mlservice.transcription.jobs")

QUEUE = "transcription"  # the job queue's name in metrics

# The Celery task that runs a job (transcription/tasks.py registers it under this name).
RUN_JOB_TASK = "transcription.run_job"

_executor: ThreadPoolExecutor | None = None
_workers_seen_at: float | None = None
_WORKER_PING_TTL_SECONDS = 60.0
_WORKER_PING_TIMEOUT_SECONDS = 2.0
_WRITE_ATTEMPTS = 6  # about 1.6 s of back-off in all
_executor_lock = threading.Lock()


class JobService(Protocol):
    """What a job needs of ``TranscriptionService``, which is passed in: that module imports this
    one to queue jobs, so this one does not import it back (no import cycle)."""

    # Read-only: the service holds concrete engines, which a mutable Protocol attribute would refuse.
    @property
    def local(self) -> TranscriptionEngine: ...
    @property
    def openai(self) -> TranscriptionEngine: ...

    def record_audio(self, choice: EngineChoice, seconds: float) -> None: ...


def create_job(
    prepared: Any, choice: EngineChoice, options: TranscriptionOptions, response_format: str, service: JobService
) -> TranscriptionJob:
    """Copy the audio where the workers can read it, store the job, and dispatch it."""
    job_id = uuid.uuid4()
    job_dir = transcription_config().job_dir
    job_dir.mkdir(parents=True, exist_ok=True)
    stored = job_dir / f"{job_id}{safe_suffix(prepared.filename)}"
    shutil.copyfile(prepared.path, stored)
    try:
        job = TranscriptionJob.objects.create(
            id=job_id,
            filename=prepared.filename[:255],
            audio_path=str(stored),
            duration=prepared.info.duration,
            backend=choice.engine.backend,
            model=choice.model,
            language=options.language or "",
            prompt=options.prompt or "",
            response_format=response_format,
        )
    except Exception:
        stored.unlink(missing_ok=True)
        raise
    logger.info("Queued transcription job %s (%s, %.1f s, %s)", job.id, job.filename, job.duration, job.backend)
    dispatch(str(job.id), service)
    job.refresh_from_db()
    return job


def runner() -> str:
    config = transcription_config()
    if config.job_runner != "auto":
        return config.job_runner
    if config.celery_always_eager:
        return "eager"
    return "celery" if config.celery_broker_url else "thread"


def dispatch(job_id: str, service: JobService) -> None:
    mode = runner()
    if mode == "eager":
        run_job(job_id, service)
        return
    if mode == "celery":
        if _enqueue(job_id):
            return
        logger.warning("Running transcription job %s in this process instead", job_id)
    _thread_pool().submit(_run_in_thread, job_id, service)


def _enqueue(job_id: str) -> bool:
    """Hand the job to Celery when a worker is there to take it; False: run it here instead.

    The task is sent by name: transcription/tasks.py imports this module, never the reverse."""
    from mlservice.celery import app

    if not _workers_answer():
        return False
    try:
        app.send_task(RUN_JOB_TASK, args=[job_id], retry=False)
    except Exception as exc:  # noqa: BLE001 - any broker failure: run it here rather than lose it
        logger.warning("Could not queue transcription job %s: %s", job_id, exc)
        return False
    return True


def _workers_answer() -> bool:
    """A broker with no worker would leave jobs queued forever (REDIS_URL set for the cache, no
    worker started): ping first. A positive answer is trusted for a minute."""
    global _workers_seen_at
    if _workers_seen_at is not None and time.monotonic() - _workers_seen_at < _WORKER_PING_TTL_SECONDS:
        return True
    from mlservice.celery import app

    try:
        replies = app.control.ping(timeout=_WORKER_PING_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - broker down: same answer as "no worker"
        logger.warning("Celery broker unreachable: %s", exc)
        return False
    if not replies:
        logger.warning("No Celery worker answered a ping within %.1fs", _WORKER_PING_TIMEOUT_SECONDS)
        return False
    _workers_seen_at = time.monotonic()
    return True


def run_job(job_id: str, service: JobService) -> None:
    """The work of one job; safe to call again for a job a dead worker left running.

    ``service``: the process's ``TranscriptionService`` (a Celery task passes its ``get_instance()``)."""
    job = TranscriptionJob.objects.filter(pk=job_id).first()
    if job is None or job.is_finished:
        logger.info("Transcription job %s: nothing to do", job_id)
        return
    started = time.perf_counter()
    outcome: dict[str, Any]  # the fields of the final update
    _update(job_id, status=TranscriptionJob.Status.RUNNING, started_at=timezone.now(), progress=0.0)
    try:
        with patient():  # a job waits for the Whisper slot; only live requests are refused
            transcript = _transcribe(job, service)
    except Exception as exc:
        message = exc.message if isinstance(exc, ServiceError) else f"Transcription failed: {exc}"
        if not isinstance(exc, ServiceError | audio.AudioError):
            logger.exception("Transcription job %s failed", job_id)
        outcome = {"status": TranscriptionJob.Status.FAILED, "error": message[:2000]}
    else:
        outcome = {
            "status": TranscriptionJob.Status.COMPLETED,
            "progress": 1.0,
            "result": transcript_to_dict(transcript),
        }
        logger.info(
            "Transcription job %s done: %.1f s of audio in %.1f s", job_id, job.duration, time.perf_counter() - started
        )
    # Finished either way: the audio goes and the outcome is written once, as the last step. (A
    # worker shut down mid-job skips this, keeping the audio for the redelivered message.)
    if job.audio_path:
        Path(job.audio_path).unlink(missing_ok=True)
    _update(job_id, audio_path="", finished_at=timezone.now(), **outcome)
    metrics.record_job_finished(QUEUE, outcome["status"])


def refresh_queue_depth() -> None:
    """Set the job-queue gauge from the database just before a scrape (one indexed aggregate)."""
    active = (TranscriptionJob.Status.QUEUED, TranscriptionJob.Status.RUNNING)
    try:
        rows = (
            TranscriptionJob.objects.filter(status__in=active).order_by().values_list("status").annotate(n=Count("id"))
        )
        counts = {str(status): n for status, n in rows}
    except DatabaseError:
        logger.warning("Job queue depth not refreshed: the database did not answer", exc_info=True)
        return
    metrics.set_job_queue_depth(QUEUE, counts)


def _transcribe(job: TranscriptionJob, service: JobService) -> Transcript:
    engine = service.openai if job.backend == service.openai.backend else service.local
    choice = EngineChoice(engine, job.model)
    options = TranscriptionOptions(language=job.language or None, prompt=job.prompt or None)

    def progress(done: int, total: int) -> None:
        _update(job.id, chunks_done=done, chunks_total=total, progress=round(done / total, 4))

    # Decoded window by window and planned on the duration measured at upload: the memory of a
    # job is one window's, whatever the length of its audio (or what its header claims).
    config = transcription_config()
    transcript = transcribe_file_in_windows(
        Path(job.audio_path),
        job.duration,
        lambda samples, opts: choice.engine.transcribe_pcm(samples, choice.model, opts),
        options,
        window=config.chunk_seconds,
        overlap=config.chunk_overlap_seconds,
        on_progress=progress,
    )
    service.record_audio(choice, job.duration)
    return transcript


def _update(job_id: str | uuid.UUID, **fields: Any) -> None:
    """Write job fields, retrying briefly: SQLite refuses writes while another connection holds
    its lock (the request log, the web process polling the job)."""
    fields["updated_at"] = timezone.now()
    for attempt in range(_WRITE_ATTEMPTS):
        try:
            TranscriptionJob.objects.filter(pk=job_id).update(**fields)
            return
        except OperationalError:
            if attempt == _WRITE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * 2**attempt)


def _run_in_thread(job_id: str, service: JobService) -> None:
    close_old_connections()
    try:
        run_job(job_id, service)
    except Exception:
        logger.exception("Transcription job %s crashed", job_id)
    finally:
        # Jobs are rare and long: do not keep a database connection open between them.
        connections.close_all()


def _thread_pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            # One job at a time per process: inference already uses every thread it is given.
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcription-job")
        return _executor


def cleanup(*, retention_days: float, stale_seconds: float, scratch_age_seconds: float = 86_400.0) -> dict[str, int]:
    """Housekeeping for ``manage.py transcription_cleanup`` (cron): expire old jobs, fail lost ones,
    and remove audio no job needs (left behind by killed processes)."""
    now = timezone.now()
    lost_before = now - timedelta(seconds=stale_seconds)
    active = (TranscriptionJob.Status.QUEUED, TranscriptionJob.Status.RUNNING)
    # Expire first: a job failed as lost below stays visible until the next run.
    expired, _ = TranscriptionJob.objects.filter(
        status__in=(TranscriptionJob.Status.COMPLETED, TranscriptionJob.Status.FAILED),
        created_at__lt=now - timedelta(days=retention_days),
    ).delete()
    lost = list(TranscriptionJob.objects.filter(status__in=active, updated_at__lt=lost_before))
    for job in lost:
        if job.audio_path:
            Path(job.audio_path).unlink(missing_ok=True)
        _update(
            job.id,
            status=TranscriptionJob.Status.FAILED,
            error=f"Job lost: no progress for {stale_seconds:.0f} s (the worker stopped?)",
            finished_at=now,
            audio_path="",
        )
    needed = set(TranscriptionJob.objects.filter(status__in=active).values_list("audio_path", flat=True))
    config = transcription_config()
    orphans = _remove_old_files(config.job_dir, scratch_age_seconds, keep=needed)
    scratch = _remove_old_files(config.temp_dir, scratch_age_seconds, keep=set())
    counts = {"lost": len(lost), "expired": expired, "orphan_files": orphans, "scratch_files": scratch}
    logger.info("Transcription cleanup: %s", counts)
    return counts


def _remove_old_files(folder: Path, age_seconds: float, keep: set[str]) -> int:
    if not folder.is_dir():
        return 0
    cutoff = time.time() - age_seconds
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and str(path) not in keep and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
