"""Build (export, fuse, quantise) and load the local embedding model ahead of serving.

Useful in a Docker build or deploy step so that no worker pays the one-time ONNX export
(10-30 s) on its first request. Safe to run while workers start: builds take a file lock.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from services import embedding_service


class Command(BaseCommand):
    help = "Build and cache the local embedding model (ONNX) under EMBEDDING_MODELS_DIR, then check it."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        service = embedding_service.get_instance()
        result = service.embed(["The quick brown fox jumps over the lazy dog."], embedding_service.LOCAL_MODEL_NAME)
        self.stdout.write(
            f"{result.model} ready ({settings.EMBEDDING_LOCAL_BACKEND}, {result.dimensions} dimensions) "
            f"in {time.perf_counter() - started:.1f} s; cache dir {settings.EMBEDDING_MODELS_DIR}"
        )
