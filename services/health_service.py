"""Liveness, readiness and the static capability report of ``/health``.

Areas register what they contribute from their ``AppConfig.ready``:
- ``register_capability(area, fn)``: the ``services.<area>`` flag of ``/health`` (cheap, no I/O);
- ``register_check(name, fn)``: a readiness dependency; ``fn`` raises or returns False when down.
The database and the cache are registered here.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from mlservice.core.formatting import iso_now
from mlservice.core.resets import register_reset
from services.llm.config import llm_config

logger = logging.getLogger("mlservice.health")

AREAS = ("embeddings", "rag", "transcription", "analysis", "complexity")


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    latency_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "latencyMs": round(self.latency_ms, 2)}
        if self.error:
            body["error"] = self.error
        return body


class HealthService:
    def __init__(self) -> None:
        self._capabilities: dict[str, Callable[[], bool]] = {"complexity": lambda: True}
        self._checks: dict[str, Callable[[], Any]] = {}
        self._info: dict[str, Callable[[], Any]] = {}
        self._cached: tuple[float, dict[str, bool], dict[str, Any]] | None = None
        self.register_check("database", _check_database)
        self.register_check("cache", _check_cache)

    def register_capability(self, area: str, available: Callable[[], bool]) -> None:
        self._capabilities[area] = available
        self._cached = None

    def register_check(self, name: str, check: Callable[[], Any]) -> None:
        self._checks[name] = check

    def register_info(self, key: str, value: Callable[[], Any]) -> None:
        """Extra ``config`` entries shown by /health (for example the embedding model in use)."""
        self._info[key] = value
        self._cached = None

    def forget_cached(self) -> None:
        """The next /health probes again (its answers depend on the configuration)."""
        self._cached = None

    def snapshot_is_fresh(self, margin: float = 1.0) -> bool:
        """True while ``health()`` will answer from its cached snapshot for ``margin`` more seconds,
        touching nothing but memory (the ASGI front then serves /health on its event loop)."""
        cached = self._cached
        return cached is not None and time.monotonic() - cached[0] < settings.HEALTH_CACHE_SECONDS - margin

    def health(self) -> dict[str, Any]:
        services, config = self._snapshot()
        up = sum(services.values())
        status = "ok" if up == len(services) else ("degraded" if up else "error")
        return {
            "status": status,
            "timestamp": iso_now(),
            "version": settings.SERVICE_VERSION,
            "services": services,
            "config": config,
        }

    def _snapshot(self) -> tuple[dict[str, bool], dict[str, Any]]:
        # Probes can touch the file system (is a model installed?); /health is polled often and
        # must stay cheap, so their answers are reused for HEALTH_CACHE_SECONDS.
        now = time.monotonic()
        cached = self._cached
        if cached is not None and now - cached[0] < settings.HEALTH_CACHE_SECONDS:
            return cached[1], cached[2]
        # The reference's four keys, with the values this service really uses when a request
        # names no model (not the raw, often empty, environment), then the effective LLM defaults.
        llm = llm_config()
        config: dict[str, Any] = {
            "hasOpenAiKey": bool(llm.openai_api_key),
            "hasQdrantUrl": bool(settings.QDRANT_URL),
            "embeddingModel": _safe(_effective_embedding_model),
            "defaultLlmModel": _safe(_effective_llm_model),
            "defaultTemperature": llm.default_temperature,
            "defaultMaxTokens": llm.default_max_tokens,
        }
        for key, value in self._info.items():
            config[key] = _safe(value)
        services = self._services()
        self._cached = (now, services, config)
        return services, config

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        checks = {name: _run(check) for name, check in self._checks.items()}
        ready = all(result.ok for result in checks.values())
        status = self.health()["status"] if ready else "error"
        for name, result in checks.items():
            if not result.ok:
                logger.warning("Readiness check %s failed: %s", name, result.error)
        return ready, {
            "ready": ready,
            "status": status,
            "timestamp": iso_now(),
            "checks": {name: result.as_dict() for name, result in checks.items()},
        }

    def _services(self) -> dict[str, bool]:
        return {area: bool(_safe(self._capabilities[area])) if area in self._capabilities else False for area in AREAS}


def _effective_embedding_model() -> str:
    from services import embedding_service

    return embedding_service.get_instance().default_model_name()


def _effective_llm_model() -> str:
    from services import llm_service

    # With no generative model configured nothing answers (services.analysis / config.llmModel say
    # so); the contract types this key as a string, so it names what an OpenAI key would use.
    return llm_service.get_instance().default_model() or llm_config().openai_default_model


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:
        logger.exception("Health probe failed")
        return None


def _run(check: Callable[[], Any]) -> CheckResult:
    started = time.perf_counter()
    try:
        outcome = check()
    except Exception as exc:  # noqa: BLE001
        return CheckResult(False, (time.perf_counter() - started) * 1000, f"{type(exc).__name__}: {exc}")
    elapsed = (time.perf_counter() - started) * 1000
    if outcome is False:
        return CheckResult(False, elapsed, "check reported unavailable")
    return CheckResult(True, elapsed)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> bool:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    value: object = cache.get(key)
    cache.delete(key)
    return value == "1"


@functools.cache
def get_instance() -> HealthService:
    return HealthService()


# Not the instance itself: the apps registered their probes on it at start-up.
register_reset(lambda: get_instance().forget_cached())
