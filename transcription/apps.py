import logging
import sys
import threading

from django.apps import AppConfig
from django.conf import settings

from mlservice.core.process import is_serving_process

logger = logging.getLogger("mlservice.transcription")


class TranscriptionConfig(AppConfig):
    name = "transcription"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from health.metrics_view import register_gauge_refresher
        from services import health_service, transcription_service
        from services import transcription_jobs as jobs

        _check_settings()

        health = health_service.get_instance()
        health.register_capability("transcription", lambda: transcription_service.get_instance().is_available())
        health.register_check("transcription", _check_backend)
        health.register_info("transcriptionBackend", lambda: transcription_service.get_instance().health()["backend"])
        register_gauge_refresher(jobs.refresh_queue_depth)
        if settings.WARM_MODELS_ON_START and is_serving_process(sys.argv):
            # In the background: a server must answer /health/live while the model loads.
            threading.Thread(target=_warm_up, name="transcription-warm-up", daemon=True).start()


def _check_settings() -> None:
    """Like the env helpers: a bad value stops the process at start-up, naming the variable.

    The one check is the config's own (services/transcription/config.py), which the service uses too.
    """
    from services.transcription.config import transcription_config

    transcription_config()


def _check_backend() -> bool:
    """Ready when some engine can transcribe: the local model files exist, or an OpenAI key is set."""
    from services import transcription_service

    return transcription_service.get_instance().is_available()


def _warm_up() -> None:
    from services import transcription_service

    try:
        transcription_service.get_instance().warm_up()
    except Exception:
        logger.exception("Could not warm up the local transcription model")
