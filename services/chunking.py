"""The TS service's chunker (contract 4.3.0), reproduced exactly, with the progress fix (8.12).

``chunk_text`` cuts at the last sentence, paragraph, line or word break that starts at or before
``start + size``; a chunk can therefore be one character longer than ``size``. Unlike TS, ``start``
always moves forward, so an overlap larger than the progress of a chunk can no longer loop forever.
"""

from __future__ import annotations

SEPARATORS = (". ", "! ", "? ", "\n\n", "\n", " ")


def chunk_text(text: str, size: int = 1000, overlap: int = 200, *, max_chunks: int | None = None) -> list[str]:
    """The chunks of ``text``; with ``max_chunks``, stop once that many are made (callers refuse
    more than their limit, and a step of one character would otherwise make ``len(text)`` chunks)."""
    if size <= 0:
        raise ValueError("chunk size must be positive")
    if not 0 <= overlap < size:
        raise ValueError("chunk overlap must be at least 0 and smaller than the chunk size")
    chunks: list[str] = []
    length = len(text)
    start = 0
    while start < length:
        end = _break_point(text, start, start + size)
        chunk = text[start:end].strip()
        if chunk:
            chunks.append(chunk)
        if end >= length or (max_chunks is not None and len(chunks) >= max_chunks):
            break
        # TS: start = end - overlap, which can move backwards; always advance by at least one.
        start = max(end - overlap, start + 1)
    return chunks


def _break_point(text: str, start: int, end: int) -> int:
    if end >= len(text):
        return end
    # JS lastIndexOf(sep, end) finds a separator that *starts* at or before ``end``. Only those after
    # ``start`` count, so the search starts there: from 0, a text without some separator was
    # rescanned from its beginning for every chunk (quadratic: 40k characters took 9.6 s).
    positions = [text.rfind(sep, start + 1, end + len(sep)) for sep in SEPARATORS]
    kept = [position for position in positions if position > start]
    return max(kept) + 1 if kept else end
