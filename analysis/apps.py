from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from services import analysis_service, health_service, llm_service

        health = health_service.get_instance()
        # Analysis always works: with a configured LLM, or with the local methods.
        health.register_capability("analysis", lambda: True)
        health.register_info("llmModel", lambda: llm_service.get_instance().default_model())
        health.register_info("analysisMethods", lambda: analysis_service.get_instance().methods())
