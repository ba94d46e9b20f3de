"""The request log: one row per API request (``ml_service_requests``), written off the hot path by
a background writer that the HTTP layer calls through a registered response observer; the
admin's read-only view and the ``requestlog_prune`` retention command.
"""
