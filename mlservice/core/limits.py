"""Size limits that the serializers and the services both enforce (bounded everything).

Texts are counted before anything tokenises them, and nested JSON before anything stores it, so
an oversized request costs a length check, not seconds of CPU or a crashed encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings

from .errors import PayloadTooLarge

# Objects and arrays nested deeper than this are refused: deeper values crash JSON encoders
# (orjson stops at 255 levels, the json module at Python's recursion limit) after being stored.
MAX_JSON_DEPTH = 32


def nesting_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests objects or arrays more than ``limit`` levels deep (``{}`` is one
    level). Iterative, so a 100,000-level body cannot exhaust the stack while being checked."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children)
    return False


def check_text_chars(text: str, name: str) -> None:
    """413 for a text longer than ``EMBEDDING_MAX_TEXT_CHARS``, before anything tokenises it.

    A tokenizer reads the whole text even when the model keeps its first 256 tokens: a 9.9 MB text
    took 21.9 s and a 2.2 GB peak that the worker kept."""
    limit = settings.EMBEDDING_MAX_TEXT_CHARS
    if len(text) > limit:
        raise PayloadTooLarge(f"{name} is {len(text)} characters; the limit is {limit} (EMBEDDING_MAX_TEXT_CHARS)")


def check_texts_chars(texts: Sequence[str], name: str) -> None:
    """``check_text_chars`` for each text (named ``name[i]``), then 413 when all of them together
    exceed ``EMBEDDING_MAX_REQUEST_CHARS``: tokenising costs about 2.5 s per million characters
    here whether they come as one text or many."""
    for index, text in enumerate(texts):
        check_text_chars(text, f"{name}[{index}]")
    total = sum(len(text) for text in texts)
    limit = settings.EMBEDDING_MAX_REQUEST_CHARS
    if total > limit:
        raise PayloadTooLarge(
            f"{name} hold {total} characters together; the limit per request is {limit} (EMBEDDING_MAX_REQUEST_CHARS)"
        )
