import logging
import sys
import threading

from django.apps import AppConfig

logger = logging.getLogger("mlservice.analysis")


class AnalysisConfig(AppConfig):
    name = "analysis"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from mlservice.core.process import is_serving_process
        from services import analysis_service, health_service, llm_service

        health = health_service.get_instance()
        # Analysis always works: with a configured LLM, or with the local methods.
        health.register_capability("analysis", lambda: True)
        health.register_info("llmModel", lambda: llm_service.get_instance().default_model())
        health.register_info("analysisMethods", lambda: analysis_service.get_instance().methods())
        if settings.WARM_MODELS_ON_START and is_serving_process(sys.argv):
            threading.Thread(target=_warm, name="analysis-warmup", daemon=True).start()


def _warm() -> None:
    from services import analysis_service

    try:
        analysis_service.get_instance().warm()
    except Exception:
        logger.exception("Warming the local analysis methods failed")
