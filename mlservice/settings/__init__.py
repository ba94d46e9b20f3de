"""Settings are chosen by DJANGO_ENV: development (default), production or test."""

import os

_ENV = os.environ.get("DJANGO_ENV", "development").strip().lower() or "development"

if _ENV == "production":
    from .production import *
elif _ENV == "test":
    from .test import *
elif _ENV == "development":
    from .development import *
else:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"DJANGO_ENV={_ENV!r} is not one of development, production, test")
