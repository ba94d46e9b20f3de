"""``python manage.py serve``: the production server command (Makefile ``serve``, the Dockerfile).

One place builds the granian command line from settings, so the Makefile, the image and the
benchmarks serve the same way. granian runs the ASGI front of ``mlservice/serving.py`` (bodies read
with deadlines, Django in bounded thread pools; README "Serving model" says why), respawns a worker
that dies (``kill -9``, the OOM killer) while the others keep serving, and closes connections whose
headers do not arrive within ``SERVER_HEADER_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def granian_command(host: str, port: int, workers: int, *, access_log: bool, static_dir: Path | None) -> list[str]:
    granian = shutil.which("granian", path=str(Path(sys.executable).parent)) or "granian"
    command = [
        granian,
        "--interface", "asgi",
        "--loop", "uvloop",
        "--host", host,
        "--port", str(port),
        "--workers", str(workers),
        "--backlog", "2048",
        "--no-ws",
        "--respawn-failed-workers",
        "--respawn-interval", "0.5",
        "--http1-header-read-timeout", str(int(settings.SERVER_HEADER_TIMEOUT_SECONDS * 1000)),
        "--workers-kill-timeout", "30",
        "--log-level", settings.LOG_LEVEL.lower(),
        "--access-log" if access_log else "--no-access-log",
    ]  # fmt: skip
    if static_dir is not None and static_dir.is_dir():
        # granian answers /static itself, before Python (collectstatic output).
        command += ["--static-path-route", settings.STATIC_URL.rstrip("/"), "--static-path-mount", str(static_dir)]
    return [*command, "mlservice.asgi:application"]


class Command(BaseCommand):
    help = "Serve the API with granian (ASGI front, Django in bounded thread pools, crashed workers respawned)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=settings.SERVER_WORKERS)
        parser.add_argument("--print", action="store_true", help="print the command instead of running it")

    def handle(self, *args: Any, **options: Any) -> None:
        static_dir = Path(settings.STATIC_ROOT) if settings.STATIC_ROOT else None
        command = granian_command(
            options["host"], options["port"], options["workers"], access_log=settings.ACCESS_LOG, static_dir=static_dir
        )
        if options["print"]:
            self.stdout.write(" ".join(command))
            return
        # Metrics of dead worker processes must not be summed into the new ones' figures.
        prometheus_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if prometheus_dir:
            shutil.rmtree(prometheus_dir, ignore_errors=True)
        sys.stdout.flush()
        os.execv(command[0], command)
