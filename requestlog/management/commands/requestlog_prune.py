"""Delete this service's ml_service_requests rows older than the retention. Run it from cron (daily)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from requestlog.recorder import prune


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=float,
            default=settings.REQUEST_LOG_RETENTION_DAYS,
            help="Delete rows older than this many days (default REQUEST_LOG_RETENTION_DAYS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days <= 0:
            self.stderr.write("--days must be positive")
            raise SystemExit(2)
        deleted = prune(days)
        self.stdout.write(f"{deleted} request-log rows older than {days:g} days deleted")
