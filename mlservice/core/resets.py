"""One registry of the process-wide caches that must be rebuilt when settings change.

Each cached module registers its reset next to its cache (``register_reset(get_instance.cache_clear)``);
one ``setting_changed`` receiver (mlservice/api/apps.py) calls them. Settings only change at run
time under ``override_settings`` (tests), so this is the single way a test's new configuration
reaches the next ``get_instance()``. The core imports neither services nor apps: they come to it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class _Reset:
    fn: Callable[[], None]
    # Setting names (or prefixes ending in "_") that concern the cache; None: every setting.
    settings: tuple[str, ...] | None

    def concerns(self, setting: str) -> bool:
        if self.settings is None:
            return True
        return any(setting == name or (name.endswith("_") and setting.startswith(name)) for name in self.settings)


_resets: list[_Reset] = []
_lock = threading.Lock()


def register_reset(fn: Callable[[], None], *, settings: Iterable[str] | None = None) -> Callable[[], None]:
    """Call ``fn`` whenever a setting changes (only those in ``settings`` when given). Idempotent."""
    entry = _Reset(fn, None if settings is None else tuple(settings))
    with _lock:
        if entry not in _resets:
            _resets.append(entry)
    return fn


def reset_all(setting: str | None = None) -> int:
    """Run the resets that concern ``setting`` (all of them for None); returns how many ran."""
    with _lock:
        due = [entry for entry in _resets if setting is None or entry.concerns(setting)]
    for entry in due:
        entry.fn()
    return len(due)


def registered() -> list[Callable[[], None]]:
    with _lock:
        return [entry.fn for entry in _resets]
