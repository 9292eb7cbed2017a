"""Packet-by-packet video decoding that skips damaged packets instead of giving up on the file.

``container.decode(stream)`` ends at the first packet FFmpeg cannot decode. Decoding each packet
on its own keeps going past bit flips and cut-out bytes; what was lost is counted, so the caller
can report it. A demuxer error (the container itself is damaged) is retried a few times, then
taken as the end of the readable data.
"""

from __future__ import annotations

from collections.abc import Iterator

import av

from realtime_style.errors import first_line

#: Demuxer errors in a row (no good packet between) after which the rest of the file is unreadable.
MAX_DEMUX_RETRIES = 3


class TolerantDecoder:
    """Iterates the decoded frames of ``stream``, skipping packets that fail to decode.

    ``skipped`` counts the packets skipped; ``stopped_early`` is the demuxer's message when reading
    ended before the end of the file, else None.
    """

    def __init__(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream):
        self._container = container
        self._stream = stream
        self.skipped = 0
        self.stopped_early: str | None = None

    def __iter__(self) -> Iterator[av.VideoFrame]:
        for packet in self._packets():
            try:
                frames = self._stream.decode(packet)
            except (av.FFmpegError, ValueError):
                self.skipped += 1
                continue
            yield from frames

    def _packets(self) -> Iterator[av.Packet | None]:
        """The stream's packets, resuming after demuxer errors; None at the end flushes the decoder."""
        failures = 0
        while True:
            try:
                for packet in self._container.demux(self._stream):
                    failures = 0
                    if packet.size:
                        yield packet
                break
            except (av.FFmpegError, ValueError, OSError) as exc:
                failures += 1
                self.skipped += failures == 1  # one damaged stretch, however many retries
                if failures > MAX_DEMUX_RETRIES:
                    self.stopped_early = first_line(exc)
                    break
        yield None
