"""ASGI entry point, for the guide's ``uvicorn mlservice.asgi:application`` and for production.

Django runs as a WSGI application inside bounded thread pools behind this ASGI front
(``mlservice/serving.py``): request bodies are read on the event loop with deadlines, slow upstream
calls wait on one of many threads, and the probes have threads of their own. Static files
(the admin's and the API docs' assets) are served here too, so the guide's command needs nothing else.
"""

import os

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.wsgi import get_wsgi_application

from mlservice.serving import ServingLimits, ThreadPoolWSGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings")

application = ThreadPoolWSGI(StaticFilesHandler(get_wsgi_application()), ServingLimits.from_settings())
