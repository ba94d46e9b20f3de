"""Pure pieces: chunk planning, stitching, subtitle timestamps, language table."""

from __future__ import annotations

import math

import pytest
from faster_whisper.tokenizer import _LANGUAGE_CODES

from services.transcription import output
from services.transcription.chunking import plan_chunks, stitch
from services.transcription.types import (
    WHISPER_LANGUAGES,
    Segment,
    Transcript,
    Word,
    language_code,
    transcript_from_dict,
    transcript_to_dict,
)


def test_plan_chunks_overlaps_and_absorbs_a_short_tail():
    chunks = plan_chunks(70.0, 30.0, 3.0)
    assert [(c.start, c.end) for c in chunks] == [(0.0, 30.0), (27.0, 57.0), (54.0, 70.0)]
    assert chunks[0].keep_from == 0 and chunks[0].keep_until == 28.5
    assert chunks[1].keep_from == 28.5 and chunks[1].keep_until == 55.5
    assert chunks[2].keep_until == math.inf
    # A 3 s tail would be mostly overlap: the previous window takes it.
    assert [(c.start, c.end) for c in plan_chunks(58.0, 30.0, 3.0)] == [(0.0, 30.0), (27.0, 58.0)]
    assert [(c.start, c.end) for c in plan_chunks(12.0, 30.0, 3.0)] == [(0.0, 12.0)]
    with pytest.raises(ValueError):
        plan_chunks(60.0, 3.0, 3.0)


def _words(*spec: tuple[str, float]) -> tuple[Word, ...]:
    return tuple(Word(start, start + 0.3, text) for text, start in spec)


def test_stitch_takes_each_word_from_one_window_and_shifts_times():
    chunks = plan_chunks(20.0, 12.0, 4.0)  # [0,12] and [8,20], seam at 10
    first = [Segment(0.0, 11.9, "one two three cut", _words(("one", 1.0), ("two", 9.0), ("three", 9.8), ("cut", 11.8)))]
    # The second window starts at 8 s: "two" at 1.0 (9.0 absolute) is a repeat, "three" straddles the seam.
    second = [
        Segment(
            1.0, 6.0, "two three cutting four", _words(("two", 1.0), ("three", 1.8), ("cutting", 3.8), ("four", 5.0))
        )
    ]
    (a, b) = stitch(chunks, [first, second])
    assert [w.word for w in a.words] == ["one", "two", "three"]
    assert a.text == "one two three" and a.end == pytest.approx(10.1)
    assert [w.word for w in b.words] == ["cutting", "four"]
    assert b.words[0].start == pytest.approx(11.8)


def test_stitch_drops_a_word_both_windows_claim():
    chunks = plan_chunks(20.0, 12.0, 4.0)
    first = [Segment(9.0, 10.2, "hello", (Word(9.7, 10.2, "hello"),))]  # midpoint 9.95: kept
    second = [Segment(1.8, 3.0, "hello world", (Word(1.95, 2.4, "Hello,"), Word(2.5, 3.0, "world")))]
    stitched = stitch(chunks, [first, second])
    assert [w.word for s in stitched for w in s.words] == ["hello", "world"]
    # A real repetition ("tick tick") is kept.
    again = [Segment(2.2, 3.0, "hello", (Word(2.2, 2.5, "hello"),))]
    assert [w.word for s in stitch(chunks, [first, again]) for w in s.words] == ["hello", "hello"]


def test_stitch_without_word_timings_matches_text():
    chunks = plan_chunks(20.0, 12.0, 4.0)
    first = [Segment(0.0, 12.0, "we met on Tuesday to plan the launch")]
    second = [Segment(0.0, 12.0, "plan the launch, and then we left")]
    joined = " ".join(s.text for s in stitch(chunks, [first, second]))
    assert joined == "we met on Tuesday to plan the launch and then we left"


def test_subtitle_timestamps():
    assert output.timestamp(0, ",") == "00:00:00,000"
    assert output.timestamp(3725.4567, ",") == "01:02:05,457"
    assert output.timestamp(59.9996, ".") == "00:01:00.000"
    transcript = Transcript("Hi. Bye.", "en", 4.0, "m", [Segment(0.0, 1.5, "Hi."), Segment(2.0, 3.25, "Bye.")])
    assert (
        output.as_srt(transcript) == "1\n00:00:00,000 --> 00:00:01,500\nHi.\n\n2\n00:00:02,000 --> 00:00:03,250\nBye.\n"
    )
    assert (
        output.as_vtt(transcript)
        == "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHi.\n\n00:00:02.000 --> 00:00:03.250\nBye.\n"
    )
    assert output.as_text(transcript) == "Hi. Bye.\n"


def test_language_table_matches_whisper_and_round_trips():
    assert set(WHISPER_LANGUAGES) == set(_LANGUAGE_CODES)
    assert language_code("EN") == "en" and language_code("English") == "en" and language_code("xx") is None
    transcript = Transcript(
        "a b", "en", 2.0, "m", [Segment(0.0, 1.0, "a b", _words(("a", 0.1), ("b", 0.5)))], True, 0.9
    )
    assert transcript_from_dict(transcript_to_dict(transcript)) == transcript


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRANSCRIPTION_BACKEND": "gpu"}, "TRANSCRIPTION_BACKEND='gpu' is not one of: auto, local, openai"),
        (
            {"TRANSCRIPTION_CHUNK_SECONDS": "5", "TRANSCRIPTION_CHUNK_OVERLAP_SECONDS": "6"},
            "TRANSCRIPTION_CHUNK_OVERLAP_SECONDS must be less than TRANSCRIPTION_CHUNK_SECONDS",
        ),
    ],
)
def test_bad_settings_stop_the_process_at_start(env, message):
    import os
    import subprocess
    import sys

    from django.conf import settings

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_ENV": "test", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert (
        message in result.stderr
    )  # settings errors print as "Configuration error: ...", app checks as ImproperlyConfigured
