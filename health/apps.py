from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mlservice.serving import serve_inline
        from services import health_service

        # Liveness touches nothing but memory; /health too while its snapshot is cached (the probe
        # pool refreshes it). Both then answer on the event loop, with no thread hop.
        serve_inline(["/live", "/health/live"])
        serve_inline(["/health"], when=lambda: health_service.get_instance().snapshot_is_fresh())
