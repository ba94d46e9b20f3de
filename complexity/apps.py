from django.apps import AppConfig


class ComplexityConfig(AppConfig):
    name = "complexity"
    default_auto_field = "django.db.models.BigAutoField"
