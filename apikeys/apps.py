from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    name = "apikeys"
    verbose_name = "API keys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mlservice.api.auth import warn_if_throttles_not_shared

        # Each worker process logs it at start-up: limits counted per process admit N times more.
        warn_if_throttles_not_shared()
