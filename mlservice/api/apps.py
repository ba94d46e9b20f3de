from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The shared API layer; an app only so that its OpenAPI extensions register at start-up."""

    name = "mlservice.api"
    label = "mlservice_api"

    def ready(self) -> None:
        from . import schema  # noqa: F401 - registers drf-spectacular field extensions
