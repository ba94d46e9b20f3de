"""Background transcription jobs (audio longer than TRANSCRIPTION_ASYNC_THRESHOLD_SECONDS)."""

from __future__ import annotations

import uuid

from django.db import models


class TranscriptionJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    filename = models.CharField(max_length=255)
    # The queued audio, shared with the workers; removed as soon as the job finishes.
    audio_path = models.CharField(max_length=1024, blank=True, default="")
    duration = models.FloatField(default=0.0)
    backend = models.CharField(max_length=32)
    model = models.CharField(max_length=100)
    language = models.CharField(max_length=8, blank=True, default="")
    prompt = models.TextField(blank=True, default="")
    response_format = models.CharField(max_length=16, default="json")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "transcription_jobs"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.status} {self.filename}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.COMPLETED, self.Status.FAILED)
