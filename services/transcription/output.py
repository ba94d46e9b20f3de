"""Rendering a transcript as json, text, verbose_json, srt or vtt (OpenAI's response formats)."""

from __future__ import annotations

from typing import Any

from mlservice.core.formatting import js_number

from .types import Segment, Transcript

RESPONSE_FORMATS = ("json", "text", "verbose_json", "srt", "vtt")
CONTENT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


def as_json(transcript: Transcript) -> dict[str, Any]:
    """The contract's ``transcription`` object (4.6.1): language as Whisper's name, e.g. "english"."""
    return {
        "text": transcript.text,
        "language": transcript.language_name,
        "duration": _seconds(transcript.duration),
        "model": transcript.model,
    }


def as_verbose(transcript: Transcript) -> dict[str, Any]:
    """OpenAI's verbose_json fields plus the ISO code and whether the language was detected."""
    return {
        "task": "transcribe",
        "language": transcript.language_name,
        "language_code": transcript.language,
        "language_detected": transcript.language_detected,
        "language_probability": transcript.language_probability,
        "duration": _seconds(transcript.duration),
        "model": transcript.model,
        "text": transcript.text,
        "segments": [_segment(index, segment) for index, segment in enumerate(transcript.segments)],
        "words": [
            {"word": w.word, "start": _seconds(w.start), "end": _seconds(w.end), "probability": w.probability}
            for w in transcript.words
        ],
    }


def as_text(transcript: Transcript) -> str:
    return transcript.text + "\n" if transcript.text else ""


def as_srt(transcript: Transcript) -> str:
    blocks = [
        f"{index}\n{timestamp(s.start, ',')} --> {timestamp(s.end, ',')}\n{s.text}\n"
        for index, s in enumerate(_cues(transcript), start=1)
    ]
    return "\n".join(blocks)


def as_vtt(transcript: Transcript) -> str:
    blocks = [f"{timestamp(s.start, '.')} --> {timestamp(s.end, '.')}\n{s.text}\n" for s in _cues(transcript)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def render(transcript: Transcript, response_format: str) -> str:
    """The body of a plain-text format (text, srt, vtt)."""
    return {"text": as_text, "srt": as_srt, "vtt": as_vtt}[response_format](transcript)


def timestamp(seconds: float, decimal_marker: str) -> str:
    """``HH:MM:SS,mmm`` (SRT) or ``HH:MM:SS.mmm`` (WebVTT)."""
    total_ms = max(0, round(seconds * 1000))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_marker}{millis:03d}"


def _cues(transcript: Transcript) -> list[Segment]:
    return [s for s in transcript.segments if s.text.strip()]


def _segment(index: int, segment: Segment) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": index,
        "start": _seconds(segment.start),
        "end": _seconds(segment.end),
        "text": segment.text,
    }
    if segment.avg_logprob is not None:
        body["avg_logprob"] = segment.avg_logprob
    if segment.no_speech_prob is not None:
        body["no_speech_prob"] = segment.no_speech_prob
    if segment.words:
        body["words"] = [{"word": w.word, "start": _seconds(w.start), "end": _seconds(w.end)} for w in segment.words]
    return body


def _seconds(value: float) -> float | int:
    return js_number(round(float(value), 3))
