"""Probes and metrics (HTTP layer): ``/health``, ``/live``, ``/ready`` and ``/metrics``. They are
open (no API key), served by their own threads (``mlservice.serving``) and read
``services.health_service`` for the component checks.
"""
