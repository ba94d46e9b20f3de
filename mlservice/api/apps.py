from django.apps import AppConfig
from django.core.signals import setting_changed

from mlservice.core.resets import reset_all


class ApiConfig(AppConfig):
    """The shared API layer; an app so that its OpenAPI extensions and the settings receiver register."""

    name = "mlservice.api"
    label = "mlservice_api"

    def ready(self) -> None:
        from . import schema  # noqa: F401 - registers drf-spectacular field extensions

        # The one receiver that rebuilds cached services when override_settings changes a setting.
        setting_changed.connect(_reset_caches, dispatch_uid="mlservice.core.resets")


def _reset_caches(setting: str, **_: object) -> None:
    reset_all(setting)
