"""Celery tasks of the transcription app."""

from __future__ import annotations

from celery import shared_task

from services import transcription_jobs as jobs
from services.transcription_service import TranscriptionService


@shared_task(name=jobs.RUN_JOB_TASK, acks_late=True, ignore_result=True)
def run_transcription_job(job_id: str) -> None:
    jobs.run_job(job_id, TranscriptionService.get_instance())
