import atexit
import os
import shutil
import tempfile

# Each test run counts its metrics in a folder of its own, so a test can check exact values while
# other runs (or yesterday's files) share the machine; subprocesses inherit it through the env.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mlservice-metrics-")
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], True)

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
