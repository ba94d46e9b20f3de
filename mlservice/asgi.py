"""ASGI entry point, for users who want it. Sync DRF views are ~10x slower under ASGI here;
production uses WSGI (see shared/spec/serving-bench.md and benchmarks/http_overhead.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings")

application = get_asgi_application()
