"""WSGI entry point: production serves through this (granian), see README and benchmarks."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings")

application = get_wsgi_application()
