import logging
import sys
import threading

from django.apps import AppConfig

from mlservice.core.process import is_serving_process

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
        if settings.WARM_MODELS_ON_START and is_serving_process(sys.argv):
            threading.Thread(target=_warm, args=(service,), name="embeddings-warmup", daemon=True).start()


def _warm(service) -> None:  # type: ignore[no-untyped-def]
    try:
        if service.provider_for(None) != "local":
            return  # the default model is remote; load the local one only if a request asks for it
        service.warm()
    except Exception:
        logger.exception("Warming the local embedding model failed")
