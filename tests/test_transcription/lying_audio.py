"""Audio whose header lies about its length (issue 12): hours of FLAC silence that claim seconds.

Plain PyAV and NumPy, no Django, so ``benchmarks/faults.py`` builds its attack file with the same
code as the tests. Silence compresses to a few bytes per FLAC frame: an hour at 16 kHz is ~650 KB.
"""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np

_STREAMINFO_FIELDS = slice(18, 26)  # "fLaC", block header (4), then 10 bytes in: rate|channels|bits|samples
_TOTAL_SAMPLES_BITS = 36


def silence_flac(path: Path, seconds: float, sample_rate: int = 16_000, tone: bool = False) -> Path:
    """``seconds`` of mono silence (or a quiet 440 Hz tone) as FLAC, written block by block."""
    block_samples = sample_rate * 10
    t = np.arange(block_samples) / sample_rate
    wave = (300 * np.sin(2 * np.pi * 440 * t)).astype(np.int16) if tone else np.zeros(block_samples, np.int16)
    block = wave.reshape(1, -1)
    with av.open(str(path), mode="w", format="flac") as out:
        stream = out.add_stream("flac", rate=sample_rate, layout="mono")
        left, pts = int(seconds * sample_rate), 0
        while left > 0:
            count = min(left, block_samples)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block[:, :count]), format="s16", layout="mono")
            frame.sample_rate, frame.pts = sample_rate, pts
            for packet in stream.encode(frame):
                out.mux(packet)
            left, pts = left - count, pts + count
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def claim_duration(path: Path, seconds: float) -> Path:
    """Rewrite STREAMINFO's total-samples field so the header claims ``seconds`` (the frames stay)."""
    data = bytearray(path.read_bytes())
    if data[:4] != b"fLaC" or data[4] & 0x7F != 0:
        raise ValueError(f"{path} does not start with a FLAC STREAMINFO block")
    (fields,) = struct.unpack(">Q", data[_STREAMINFO_FIELDS])
    sample_rate = fields >> 44
    mask = (1 << _TOTAL_SAMPLES_BITS) - 1
    fields = (fields & ~mask) | (int(seconds * sample_rate) & mask)
    data[_STREAMINFO_FIELDS] = struct.pack(">Q", fields)
    path.write_bytes(bytes(data))
    return path


def lying_flac(path: Path, real_seconds: float, claimed_seconds: float = 10.0, **kwargs) -> Path:
    return claim_duration(silence_flac(path, real_seconds, **kwargs), claimed_seconds)
