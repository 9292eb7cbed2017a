"""Broken inputs for the reliability tests, made from small clips: cut, bit-flipped, resized, audio-only."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import av
from media_helpers import TONE_RATE, clip_frames, mux_tone


def write_clip(path: Path, count: int, size: tuple[int, int], first_pts: int = 0, **container_options: str) -> Path:
    """An H.264 clip at 25 fps in any container (by extension); pts start at ``first_pts``."""
    width, height = size
    with av.open(str(path), "w", container_options=container_options) as container:
        stream = container.add_stream("libx264", rate=Fraction(25), options={"preset": "ultrafast", "g": "10"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index, image in enumerate(clip_frames(count, width, height)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = first_pts + index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def cut(src: Path, dst: Path, fraction: float) -> Path:
    """The first ``fraction`` of ``src``'s bytes (a download or copy that stopped short)."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def flip_bits(src: Path, dst: Path, count: int, seed: int) -> Path:
    """``src`` with ``count`` random bits flipped in its middle half (headers intact, payload hit)."""
    rng = random.Random(seed)
    data = bytearray(src.read_bytes())
    for _ in range(count):
        index = rng.randrange(len(data) // 4, len(data) * 3 // 4)
        data[index] ^= 1 << rng.randrange(8)
    dst.write_bytes(bytes(data))
    return dst


def resolution_change(dst: Path, first: tuple[int, int], second: tuple[int, int], count: int) -> Path:
    """An MPEG-TS whose video changes size mid-way: two TS clips back to back, timestamps continuing."""
    head = write_clip(dst.with_suffix(".a.ts"), count, first)
    tail = write_clip(dst.with_suffix(".b.ts"), count, second, first_pts=count)
    dst.write_bytes(head.read_bytes() + tail.read_bytes())
    return dst


def audio_only(dst: Path, seconds: float = 1.0) -> Path:
    """A file with one AAC stream and no video."""
    with av.open(str(dst), "w") as container:
        mux_tone(container, container.add_stream("aac", rate=TONE_RATE), seconds)
    return dst


def corrupt_randomly(data: bytes, rng: random.Random) -> bytes:
    """One random corruption of ``data``: flipped bits, a cut, a zeroed, dropped or repeated stretch."""
    out = bytearray(data)
    start = rng.randrange(len(out))
    length = rng.randrange(1, max(2, len(out) // 8))
    kind = rng.choice(["flip", "cut", "zero", "drop", "repeat", "noise"])
    if kind == "flip":
        for _ in range(rng.randrange(1, 64)):
            index = rng.randrange(len(out))
            out[index] ^= 1 << rng.randrange(8)
    elif kind == "cut":
        del out[start:]
    elif kind == "zero":
        out[start : start + length] = bytes(len(out[start : start + length]))
    elif kind == "drop":
        del out[start : start + length]
    elif kind == "repeat":
        out[start:start] = out[start : start + length]
    else:
        out[start : start + length] = rng.randbytes(len(out[start : start + length]))
    return bytes(out)
