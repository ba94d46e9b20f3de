import logging
import sys
import threading

from django.apps import AppConfig

from mlservice.core.process import is_serving_process

logger = logging.getLogger("mlservice.rag")


class RagConfig(AppConfig):
    name = "rag"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from services import health_service
        from services.vectorstores import configured_backend

        health = health_service.get_instance()
        # Retrieval needs only the local embedding model and a store, both always configured.
        health.register_capability("rag", lambda: True)
        health.register_check("vector_store", _check_vector_store)
        health.register_info("vectorStore", configured_backend)
        from django.conf import settings

        if settings.WARM_MODELS_ON_START and is_serving_process(sys.argv):
            threading.Thread(target=_warm_calibration, name="rag-calibration-warmup", daemon=True).start()


def _check_vector_store() -> bool:
    from services import rag_service

    rag_service.get_instance().store.ping()
    return True


def _warm_calibration() -> None:
    """Embed the score calibration's background (services/rag_calibration.py) at start-up, when the
    default embedding model is the local one, so the first search does not pay about 3 s for it."""
    from services import embedding_service, rag_service

    try:
        if embedding_service.get_instance().provider_for(None) != "local":
            return  # a remote model is asked only when a search needs it
        rag_service.get_instance().warm_calibration()
    except Exception:
        logger.exception("Warming the RAG score calibration failed")
