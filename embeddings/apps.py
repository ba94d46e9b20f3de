import logging
import os
import sys
import threading

from django.apps import AppConfig

logger = logging.getLogger("mlservice.embeddings")

# manage.py commands that serve requests; every other command (migrate, test, shell...) must not
# spend CPU and memory loading a model it will never use.
_SERVING_COMMANDS = {"runserver"}


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


def is_serving_process(argv: list[str]) -> bool:
    """True under a WSGI/ASGI server (granian, gunicorn, uvicorn) and ``runserver``'s serving child."""
    if "pytest" in sys.modules:
        return False
    program = os.path.basename(argv[0]) if argv else ""
    if program in {"manage.py", "django-admin", "django-admin.py"} or program.endswith("django"):
        command = argv[1] if len(argv) > 1 else ""
        if command not in _SERVING_COMMANDS:
            return False
        # The autoreloader's parent process only watches files; its child (RUN_MAIN) serves.
        return os.environ.get("RUN_MAIN") == "true" or "--noreload" in argv
    return True


def _warm(service) -> None:  # type: ignore[no-untyped-def]
    try:
        if service.provider_for(None) != "local":
            return  # the default model is remote; load the local one only if a request asks for it
        service.warm()
    except Exception:
        logger.exception("Warming the local embedding model failed")
