"""mlservice: a Django REST Framework replacement for the SynthStack ML service."""

__version__ = "0.1.0"
