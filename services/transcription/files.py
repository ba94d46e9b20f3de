"""Scratch-file naming shared by the service and the job runner."""

from __future__ import annotations

import re
from pathlib import Path

# Scratch files keep a short, plain extension (FFmpeg uses it as a hint) and nothing else: a
# client's 300-character "extension" must not become a file name the file system refuses.
_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,10}$")


def safe_suffix(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    return suffix if _SAFE_SUFFIX.match(suffix) else ""
