"""mlservice: a Django REST Framework replacement for the SynthStack ML service."""

__version__ = "0.1.0"

# Load the Celery app with Django so that @shared_task binds to it (the standard Celery layout).
from .celery import app as celery_app

__all__ = ["celery_app"]
