"""Helpers for values that must print the way the TS service prints them (contract 2.6)."""

from __future__ import annotations

from datetime import UTC, datetime

_MAX_SAFE_INTEGER = 2**53 - 1


def js_number(value: float | int) -> float | int:
    """Whole numbers print without a decimal part, as in JavaScript (``1``, not ``1.0``).

    Only within JavaScript's safe-integer range: beyond it JSON would need integers that neither
    JavaScript nor a 64-bit encoder can hold, so the float stays (printed with an exponent).
    """
    if isinstance(value, float) and value.is_integer() and abs(value) <= _MAX_SAFE_INTEGER:
        return int(value)
    return value


def js_text(value: float | int) -> str:
    """A number as JavaScript's ``String(n)`` writes it: 300, 2.5, 1e+21, 5.9e+307."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def iso_now() -> str:
    """``YYYY-MM-DDTHH:MM:SS.sssZ``, the format of JavaScript's ``Date.toISOString``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
