from django.apps import AppConfig


class RequestLogConfig(AppConfig):
    name = "requestlog"
    verbose_name = "ML service request log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The HTTP layer's middleware calls registered observers; it does not import this app.
        from mlservice.api.middleware import observe_responses

        from .recorder import record_request

        observe_responses(record_request)
