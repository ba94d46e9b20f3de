"""Long audio: cut into overlapping windows, transcribe each, stitch the timelines back together.

Each pair of neighbouring windows shares ``overlap`` seconds. The seam sits in the middle of the
shared stretch: words (by their midpoint) before it come from the earlier window, words after it
from the later one, so a word cut at a window edge is always taken from the window that heard it
whole. When an engine gives no word timings, the duplicated words are found by matching the end of
one window's text with the start of the next.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import audio
from .audio import WHISPER_SAMPLE_RATE
from .types import Segment, Transcript, TranscriptionOptions, Word

_MAX_TEXT_OVERLAP_WORDS = 20
_NON_WORD = re.compile(r"[^\w']+")


@dataclass(frozen=True)
class Chunk:
    index: int
    start: float
    end: float
    keep_from: float = 0.0
    keep_until: float = math.inf

    def samples(self, pcm: np.ndarray) -> np.ndarray:
        return pcm[int(self.start * WHISPER_SAMPLE_RATE) : int(self.end * WHISPER_SAMPLE_RATE)]


def plan_chunks(total: float, window: float, overlap: float) -> list[Chunk]:
    """Windows of ``window`` seconds stepping by ``window - overlap``; a short tail joins the last one."""
    if overlap >= window:
        raise ValueError("chunk overlap must be shorter than the chunk")
    spans: list[tuple[float, float]] = []
    start = 0.0
    while True:
        end = min(start + window, total)
        if total - end < overlap + 2.0:  # a tail this short adds nothing but a seam
            end = total
        spans.append((start, end))
        if end >= total:
            break
        start = end - overlap
    chunks = []
    for index, (start, end) in enumerate(spans):
        keep_from = 0.0 if index == 0 else (start + spans[index - 1][1]) / 2
        keep_until = math.inf if index == len(spans) - 1 else (spans[index + 1][0] + end) / 2
        chunks.append(Chunk(index, start, end, keep_from, keep_until))
    return chunks


def transcribe_chunked(
    pcm: np.ndarray,
    transcribe: Callable[[np.ndarray, TranscriptionOptions], Transcript],
    options: TranscriptionOptions,
    *,
    window: float,
    overlap: float,
    on_progress: Callable[[int, int], None] | None = None,
) -> Transcript:
    """Transcribe ``pcm`` window by window (``transcribe`` is one engine call) and stitch the results."""
    total = len(pcm) / WHISPER_SAMPLE_RATE
    return transcribe_stream([pcm], total, transcribe, options, window=window, overlap=overlap, on_progress=on_progress)


def transcribe_stream(
    blocks: Iterable[np.ndarray],
    total: float,
    transcribe: Callable[[np.ndarray, TranscriptionOptions], Transcript],
    options: TranscriptionOptions,
    *,
    window: float,
    overlap: float,
    on_progress: Callable[[int, int], None] | None = None,
) -> Transcript:
    """Like ``transcribe_chunked`` for audio arriving as consecutive 16 kHz blocks (a decoder).

    ``total`` is the measured duration the windows are planned on. Only the current window is held
    in memory, so the memory of a job does not grow with the length of its audio; samples past
    ``total`` are never read, and a stream that ends early just ends the last window early.
    """
    chunks = plan_chunks(total, window, overlap)
    parts: list[Transcript] = []
    used: list[Chunk] = []
    for chunk, samples in windows(blocks, chunks):
        part = transcribe(samples, options)
        if options.language is None and part.language and part.language_detected:
            # The first window decides the language; later windows keep it for a consistent text.
            options = replace(options, language=part.language)
        parts.append(part)
        used.append(chunk)
        if on_progress:
            on_progress(chunk.index + 1, len(chunks))
    segments = stitch(used, [part.segments for part in parts])
    first = parts[0]
    return Transcript(
        text=" ".join(segment.text for segment in segments if segment.text).strip(),
        language=first.language,
        duration=total,
        model=first.model,
        segments=segments,
        language_detected=first.language_detected,
        language_probability=first.language_probability,
        speech_seconds=_total_speech(parts),
    )


def _total_speech(parts: list[Transcript]) -> float | None:
    """Seconds the model decoded over all windows (overlaps count twice: they were decoded twice)."""
    seconds = [part.speech_seconds for part in parts if part.speech_seconds is not None]
    return sum(seconds) if len(seconds) == len(parts) else None


def transcribe_file_in_windows(
    path: Path,
    total: float,
    transcribe: Callable[[np.ndarray, TranscriptionOptions], Transcript],
    options: TranscriptionOptions,
    *,
    window: float,
    overlap: float,
    on_progress: Callable[[int, int], None] | None = None,
) -> Transcript:
    """``transcribe_stream`` over a file decoded as it goes; ``total`` is its measured duration.

    The decoder is never read past the last planned window, so a file that grew (or lied) since
    it was measured costs no more memory or time than ``total`` seconds.
    """
    with contextlib.closing(audio.pcm_blocks(path)) as blocks:
        return transcribe_stream(
            blocks, total, transcribe, options, window=window, overlap=overlap, on_progress=on_progress
        )


def windows(blocks: Iterable[np.ndarray], chunks: list[Chunk]) -> Iterator[tuple[Chunk, np.ndarray]]:
    """Each planned chunk with its samples, cut from a stream of blocks.

    The buffer holds the current window (plus one block): samples before the next window's start
    are let go as soon as the window has been handed out.
    """
    stream = iter(blocks)
    buffer = np.zeros(0, dtype=np.float32)
    offset = 0  # stream position of buffer[0], in samples
    exhausted = False
    for chunk in chunks:
        start = int(chunk.start * WHISPER_SAMPLE_RATE)
        end = int(chunk.end * WHISPER_SAMPLE_RATE)
        pending: list[np.ndarray] = [buffer]
        have = offset + len(buffer)
        while have < end and not exhausted:
            block = next(stream, None)
            if block is None:
                exhausted = True
            else:
                pending.append(block)
                have += len(block)
        buffer = np.concatenate(pending) if len(pending) > 1 else buffer
        # The stream can pass ``end`` by at most one block; the rest waits for the next window.
        samples = buffer[max(start - offset, 0) : end - offset]
        if len(samples) == 0 and chunk.index > 0:
            return  # the stream ended before this window (the file is shorter than measured)
        yield chunk, samples
        keep_from = max(start - offset, 0)
        if chunk.index + 1 < len(chunks):
            keep_from = max(int(chunks[chunk.index + 1].start * WHISPER_SAMPLE_RATE) - offset, 0)
        # A view, not a copy: it keeps at most the last concatenated window alive, and a caller's
        # whole signal (``transcribe_chunked``) is never copied at all.
        buffer = buffer[keep_from:]
        offset += keep_from


def stitch(chunks: list[Chunk], chunk_segments: list[list[Segment]]) -> list[Segment]:
    """One timeline from per-window segments (times relative to each window's start)."""
    stitched: list[Segment] = []
    for chunk, segments in zip(chunks, chunk_segments, strict=True):
        kept = [s for s in (_keep(chunk, segment.shifted(chunk.start)) for segment in segments) if s]
        if stitched and kept:
            kept = _drop_seam_duplicates(stitched, kept)
        stitched.extend(kept)
    return stitched


def _keep(chunk: Chunk, segment: Segment) -> Segment | None:
    if not segment.words:
        middle = (segment.start + segment.end) / 2
        return segment if chunk.keep_from <= middle < chunk.keep_until else None
    words = tuple(w for w in segment.words if chunk.keep_from <= (w.start + w.end) / 2 < chunk.keep_until)
    if not words:
        return None
    if len(words) == len(segment.words):
        return segment
    return Segment(words[0].start, words[-1].end, _join(words), words, segment.avg_logprob, segment.no_speech_prob)


def _drop_seam_duplicates(before: list[Segment], after: list[Segment]) -> list[Segment]:
    last, first = before[-1], after[0]
    if last.words and first.words:
        # The same word heard by both windows, straddling the seam: keep the earlier copy.
        a, b = last.words[-1], first.words[0]
        if _norm(a.word) == _norm(b.word) and _same_moment(a, b):
            return _without_leading_words(after, 1)
        return after
    repeated = _text_overlap(_tokens(last.text), _tokens(first.text))
    return _without_leading_words(after, repeated) if repeated else after


def _same_moment(a: Word, b: Word) -> bool:
    """Two timings of one spoken word overlap by most of their length; a real repetition does not."""
    shared = min(a.end, b.end) - max(a.start, b.start)
    return shared > 0.5 * max(min(a.end - a.start, b.end - b.start), 0.01)


def _text_overlap(tail: list[str], head: list[str]) -> int:
    """Length of the longest run that ends ``tail`` and starts ``head``."""
    for size in range(min(len(tail), len(head), _MAX_TEXT_OVERLAP_WORDS), 0, -1):
        if tail[-size:] == head[:size]:
            return size
    return 0


def _without_leading_words(segments: list[Segment], count: int) -> list[Segment]:
    first, rest = segments[0], segments[1:]
    if first.words:
        words = first.words[count:]
        if not words:
            return rest
        trimmed = Segment(words[0].start, first.end, _join(words), words, first.avg_logprob, first.no_speech_prob)
    else:
        remaining = first.text.split()[count:]
        if not remaining:
            return rest
        trimmed = Segment(first.start, first.end, " ".join(remaining), (), first.avg_logprob, first.no_speech_prob)
    return [trimmed, *rest]


def _join(words: Iterable[Word]) -> str:
    return " ".join(w.word for w in words).strip()


def _tokens(text: str) -> list[str]:
    return [_norm(token) for token in text.split()]


def _norm(word: str) -> str:
    return _NON_WORD.sub("", word.lower())
