"""Helpers for values that must print the way the TS service prints them (contract 2.6)."""

from __future__ import annotations

from datetime import UTC, datetime


def js_number(value: float | int) -> float | int:
    """Whole numbers print without a decimal part, as in JavaScript (``1``, not ``1.0``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def iso_now() -> str:
    """``YYYY-MM-DDTHH:MM:SS.sssZ``, the format of JavaScript's ``Date.toISOString``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
