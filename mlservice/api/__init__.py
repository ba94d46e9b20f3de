"""The HTTP layer shared by every app: authentication (Bearer or ``X-API-Key``), throttles, the
middleware (request ids, metrics, host checks), the exception handlers that render
``mlservice.core.errors`` in the contract's native shape or OpenAI's envelope, parsers,
renderers, shared serializer fields, SSE helpers and the OpenAPI schema/docs views. It may import
``services`` and the core, never an app (``lint-imports``).
"""
