"""The Celery application (worker entry point: ``celery -A mlservice worker``).

Configuration comes from Django settings with the ``CELERY_`` prefix: the broker is
``CELERY_BROKER_URL`` (default: ``REDIS_URL`` when set). With no broker configured nothing here is
used: background work runs in a thread of the web process instead (see
``services/transcription_jobs.py``). Tasks are discovered in every installed app's ``tasks.py``.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings")

app = Celery("mlservice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
