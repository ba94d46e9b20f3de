from __future__ import annotations

import logging
import sys
import threading
from typing import TYPE_CHECKING

from django.apps import AppConfig

from mlservice.core.process import is_serving_process

if TYPE_CHECKING:
    from services.embedding_service import EmbeddingService

logger = logging.getLogger("mlservice.embeddings")


class EmbeddingsConfig(AppConfig):
    name = "embeddings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from services import embedding_service, health_service

        service = embedding_service.get_instance()
        health = health_service.get_instance()
        # Unlike TS (key configured), the flag means "the default model can serve": the local model
        # needs no key, but EMBEDDING_MODEL=text-embedding-3-small without OPENAI_API_KEY cannot.
        health.register_capability("embeddings", service.available)
        health.register_check("embedding_model", service.local_model_loadable)
        health.register_info("embeddingDefaultModel", service.default_model_name)
        health.register_info("embeddingLocalBackend", service.local_backend)
        _limit_local_model_routes(service)
        if settings.WARM_MODELS_ON_START and is_serving_process(sys.argv):
            threading.Thread(target=_warm, args=(service,), name="embeddings-warmup", daemon=True).start()


# The routes whose requests the local model serves when it is the default, at both of their paths
# (mlservice/urls.py mounts each area at the root and under /api/v1/; OpenAI's route only at /v1/).
_LOCAL_MODEL_PATHS = (
    "/embeddings/generate",
    "/embeddings/batch",
    "/api/v1/embeddings/generate",
    "/api/v1/embeddings/batch",
    "/v1/embeddings",
)


def _limit_local_model_routes(service: EmbeddingService) -> None:
    """Refuse at the ASGI front (503 + Retry-After, before the body is read) once the model's slots
    and queue are taken by requests in progress: mlservice/serving.py RouteLane says why."""
    from django.conf import settings

    from mlservice.core.errors import ServiceError
    from mlservice.serving import limit_routes
    from services.model_gate import retry_after_for

    try:
        local = service.provider_for(None) == "local"
    except ServiceError:  # a misconfigured default model answers its own clear error per request
        return
    if local:
        gate = settings.MODEL_GATES["local-embeddings"]
        limit = gate["concurrency"] + gate["queue"]
        limit_routes(
            "local-embeddings",
            _LOCAL_MODEL_PATHS,
            limit,
            retry_after_for(settings.MODEL_QUEUE_TIMEOUT_SECONDS),
            settings.EMBEDDING_MAX_BODY_BYTES_IN_PROGRESS,
        )


def _warm(service: EmbeddingService) -> None:
    try:
        if service.provider_for(None) != "local":
            return  # the default model is remote; load the local one only if a request asks for it
        service.warm()
    except Exception:
        logger.exception("Warming the local embedding model failed")
