"""Expire old transcription jobs, fail lost ones and remove leftover audio. Run it from cron."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from services import transcription_jobs as jobs


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=float,
            default=settings.TRANSCRIPTION_JOB_RETENTION_DAYS,
            help="Delete finished jobs older than this (default TRANSCRIPTION_JOB_RETENTION_DAYS).",
        )
        parser.add_argument(
            "--stale-seconds",
            type=float,
            default=settings.TRANSCRIPTION_JOB_STALE_SECONDS,
            help="Fail queued/running jobs with no progress for this long (default TRANSCRIPTION_JOB_STALE_SECONDS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = jobs.cleanup(retention_days=options["days"], stale_seconds=options["stale_seconds"])
        self.stdout.write(
            f"{counts['expired']} expired jobs deleted, {counts['lost']} lost jobs marked failed, "
            f"{counts['orphan_files']} orphan audio files and {counts['scratch_files']} scratch files removed"
        )
