"""The framework-light core that every layer may use and that imports no layer above it.

It holds what services and the HTTP layer share without either owning it: the ``ServiceError``
family (errors with a stable machine-readable ``code``, an HTTP status and optional headers, free of
DRF), the provider error policy that turns SDK failures into those errors, text-size limits, the
JavaScript-style number and ISO-timestamp formatting of the wire contract, and the fail-open cache
guard. It may import Django's settings and cache but never ``services``, ``mlservice.api``, the
apps or DRF (``lint-imports`` checks this; contracts in pyproject.toml).
"""
