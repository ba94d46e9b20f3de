from .base import *

DEBUG = False
REQUEST_LOG_SYNC = True
WARM_MODELS_ON_START = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Background jobs (long transcriptions) run inline; the Celery-over-broker test turns it off.
CELERY_TASK_ALWAYS_EAGER = True
HEALTH_CACHE_SECONDS = 0.0  # tests change configuration between requests
# Throttle counters in memory: no file shared between test runs (the SQLite store has its own tests).
CACHES = {**CACHES, "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}}
