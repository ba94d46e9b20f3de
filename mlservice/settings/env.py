"""One typed way to read configuration from the environment.

Every setting goes through these helpers so that a malformed value (``DJANGO_DEBUG=maybe``,
``EMBEDDING_DIMENSIONS=abc``) stops the process at start-up with a message naming the variable,
instead of surfacing later as a confusing runtime error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _read(name: str, default: T, parse: Callable[[str], T], kind: str) -> T:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return parse(raw.strip())
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"Environment variable {name}={raw!r} is not a valid {kind}: {exc}") from exc


def read_env_file(path: str | os.PathLike[str]) -> bool:
    """Load ``KEY=value`` lines of a ``.env`` file into the environment, as django-environ projects do.

    The real environment wins: a variable that is already set keeps its value. Returns whether the
    file existed. Values are then read (and checked) by the helpers below like any other variable.
    """
    from dotenv import load_dotenv

    if not os.path.isfile(path):
        return False
    load_dotenv(path, override=False, interpolate=False, encoding="utf-8")
    return True


def env_str(name: str, default: str = "") -> str:
    return _read(name, default, str, "string")


def env_bool(name: str, default: bool = False) -> bool:
    def parse(raw: str) -> bool:
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("expected one of 1/0, true/false, yes/no, on/off")

    return _read(name, default, parse, "boolean")


def env_int(name: str, default: int, *, min_value: int | None = None, max_value: int | None = None) -> int:
    value = _read(name, default, int, "integer")
    _check_range(name, value, min_value, max_value)
    return value


def env_float(name: str, default: float, *, min_value: float | None = None, max_value: float | None = None) -> float:
    value = _read(name, default, float, "number")
    _check_range(name, value, min_value, max_value)
    return value


def env_choice(name: str, choices: Sequence[str], default: str, *, aliases: Mapping[str, str] | None = None) -> str:
    """An enum-like setting: one of ``choices``, else start-up stops naming the variable, value and choices.

    Matching ignores case and the value comes back spelled as in ``choices``; unset or empty is the
    default. ``aliases`` maps accepted alternative spellings to a choice (``local`` -> ``fast``).
    """
    canonical = {choice.lower(): choice for choice in choices}
    canonical.update({alias.lower(): target for alias, target in (aliases or {}).items()})
    if default not in choices:
        raise ValueError(f"default {default!r} of {name} is not one of {', '.join(choices)}")
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = canonical.get(raw.strip().lower())
    if value is None:
        allowed = ", ".join([*choices, *(aliases or {})])
        raise ImproperlyConfigured(f"Environment variable {name}={raw!r} is not one of: {allowed}")
    return value


def env_list(name: str, default: list[str] | None = None, *, separator: str = ",") -> list[str]:
    def parse(raw: str) -> list[str]:
        return [item.strip() for item in raw.split(separator) if item.strip()]

    return _read(name, list(default or []), parse, "list")


def _check_range(name: str, value: float, min_value: float | None, max_value: float | None) -> None:
    if min_value is not None and value < min_value:
        raise ImproperlyConfigured(f"Environment variable {name}={value} must be >= {min_value}")
    if max_value is not None and value > max_value:
        raise ImproperlyConfigured(f"Environment variable {name}={value} must be <= {max_value}")
