"""Join and verify the local LLM's packaged GGUF file, then load it and write a few tokens.

A Docker build or deploy step runs it so that no worker pays the one-time join and sha256 check
(a few seconds for the 491 MB default) on its first request. Safe while workers start: the join
takes a file lock.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mlservice.core.errors import ServiceError
from services import llm_service
from services.llm import local_models


class Command(BaseCommand):
    help = "Join and sha256-check the local LLM (LOCAL_LLM_MODEL) under LOCAL_LLM_MODELS_DIR, then test it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-load", action="store_true", help="only join and verify the file")

    def handle(self, *args: Any, **options: Any) -> None:
        if not local_models.is_enabled():
            raise CommandError("LOCAL_LLM_MODEL is empty: the local LLM is turned off")
        started = time.perf_counter()
        try:
            model = local_models.resolve_model()
            self.stdout.write(f"{model.name}: {model.path} verified in {time.perf_counter() - started:.1f} s")
            if options["no_load"]:
                return
            started = time.perf_counter()
            messages = [{"role": "user", "content": "Reply with the single word: ready"}]
            result = llm_service.get_instance().chat(messages, model="local", temperature=0.0, max_tokens=8)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"{result.model} answered {result.content.strip()!r} in {time.perf_counter() - started:.1f} s (load included)"
        )
