"""Video file source (PyAV): RGB uint8 frames with their timestamps, and the stream's metadata.

Knows nothing of models. The live pipeline reuses it for ``--source FILE``; the file pipeline
iterates it on its decode thread.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from realtime_style.errors import InputError, first_line
from realtime_style.media.decoding import TolerantDecoder
from realtime_style.media.frame import Frame

#: Frame rate assumed for streams that declare none.
FALLBACK_FPS = Fraction(25)


@dataclass(frozen=True)
class VideoInfo:
    """What a video file says about its first video stream."""

    path: Path
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frames: int | None
    duration: float | None
    codec: str
    #: FFmpeg display matrix (9 int32) of the stream, or None; carries rotation and flips.
    display_matrix: tuple[int, ...] | None = None
    #: Counter-clockwise display rotation in degrees (0 when none).
    rotation: int = 0
    audio_streams: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    #: The file is a still image (a JPEG, PNG, ... read by FFmpeg's image demuxers), not a video.
    still_image: bool = False

    @property
    def has_audio(self) -> bool:
        return self.audio_streams > 0


class VideoFileSource:
    """Decodes a video file into :class:`Frame` objects, optionally resized, limited and cut short.

    Opening probes the file and decodes its first frame, so a missing, unreadable or corrupt file
    raises :class:`InputError` at construction, before any output exists. Damaged packets further
    on are skipped (:attr:`skipped_packets`); :attr:`stopped_early` says why reading ended before
    the end of a damaged file. ``start`` skips that many seconds from the first frame (a seek to the
    keyframe before, then decoding forward): the frames then come with their timestamps shifted by
    :attr:`cut_time`, so the first one is at about 0, as a cut-out clip's would be. Every frame is resampled
    to one fixed ``size`` (the stream's own size unless given), so mid-stream size changes cannot
    reach the consumer; ``size`` may be changed after opening (e.g. from :attr:`info`) and before
    iterating. ``threads`` caps the decoder's threads (0: FFmpeg's choice, one per core). Iterate
    once; use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        path: str | Path,
        size: tuple[int, int] | None = None,
        max_frames: int | None = None,
        duration: float | None = None,
        threads: int = 0,
        start: float = 0.0,
    ):
        self.path = Path(path)
        self.max_frames = max_frames
        self.duration = duration
        self.start = start
        #: Seconds of the input's timeline that come before the first frame given out (0 without ``start``);
        #: the frames' timestamps are shifted back by it. A sink copying the input's audio cuts and shifts it the same.
        self.cut_time = 0.0
        self._shift_pts = 0
        self._threads = threads
        self._container = _open_input(self.path)
        try:
            self._open_video_stream()
            self._first = self._next_decoded()
            if self._first is None:
                raise InputError(f"{self.path}: no decodable video frames")
            self.info = self._probe(self._first)
            if start > 0:
                self._skip_to(start)
        except BaseException:
            self._container.close()
            raise
        self.size = size or (self.info.width, self.info.height)

    def _open_video_stream(self) -> None:
        """Set up decoding of the opened container's first video stream, from its start."""
        if not self._container.streams.video:
            kinds = sorted({stream.type for stream in self._container.streams})
            holds = f" (only {' and '.join(kinds)})" if kinds else ""
            raise InputError(f"{self.path}: no video stream{holds}")
        self._stream = self._container.streams.video[0]
        if self._stream.codec_context is None:
            raise InputError(f"{self.path}: no decoder for its video stream (unknown or damaged codec header)")
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = self._threads
        self._decoder = TolerantDecoder(self._container, self._stream)
        self._frames = iter(self._decoder)

    def _next_decoded(self) -> av.VideoFrame | None:
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except (av.FFmpegError, ValueError) as exc:
            raise InputError(f"{self.path}: corrupt video data ({first_line(exc)})") from None

    def _skip_to(self, seconds: float) -> None:
        """Make the first frame given out the first one ``seconds`` or more after the file's first frame."""
        length = self.info.duration
        if length is not None and seconds >= length:
            raise InputError(f"{self.path}: the start, {seconds:g} s, is past the end of the video ({length:.1f} s long)")
        time_base = self.info.time_base
        first_pts = self._first.pts or 0
        target_pts = first_pts + int(round(seconds / time_base))
        half_frame = int(0.5 / (self.info.fps * time_base))
        decoded = self._seek_before(target_pts + half_frame, first_pts)
        while decoded is not None and decoded.pts is not None and decoded.pts < target_pts - half_frame:
            decoded = self._next_decoded()
        if decoded is None:
            raise InputError(f"{self.path}: no video frames {seconds:g} s or more after its start")
        self._first = decoded
        self._shift_pts = target_pts if decoded.pts is None else min(target_pts, decoded.pts)  # no frame before 0
        self.cut_time = float(self._shift_pts * time_base)

    def _seek_before(self, pts: int, first_pts: int) -> av.VideoFrame | None:
        """Seek so that the next decoded frame is at or before ``pts``, and return it.

        A seek lands on the keyframe before its target in MP4, MKV or WebM, but only near it in MPEG-TS
        (by byte position), possibly past it: then it tries again further back, and in the end reads
        the file again from its start. Where the file cannot seek at all, decoding goes on from where it is.
        """
        for back_seconds in (0, 2, 10, 60):
            goal = max(first_pts, pts - int(back_seconds / self.info.time_base))
            try:
                self._container.seek(goal, stream=self._stream, backward=True, any_frame=False)
            except (av.FFmpegError, ValueError, OSError):
                return self._next_decoded()
            self._frames = iter(self._decoder)
            decoded = self._next_decoded()
            if decoded is not None and (decoded.pts is None or decoded.pts <= pts):
                return decoded  # (nothing decoded: landed at the end, so try further back too)
            if goal == first_pts:
                break
        self._container.close()
        self._container = _open_input(self.path)
        self._open_video_stream()
        return self._next_decoded()

    def _probe(self, first: av.VideoFrame) -> VideoInfo:
        stream = self._stream
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate or FALLBACK_FPS
        time_base = stream.time_base or Fraction(1, 90000)
        duration = float(stream.duration * time_base) if stream.duration else None
        if duration is None and self._container.duration:
            duration = self._container.duration / av.time_base
        frames = stream.frames or (int(round(duration * fps)) if duration else None)
        matrix = _display_matrix(first)
        return VideoInfo(
            path=self.path,
            width=first.width,
            height=first.height,
            fps=Fraction(fps),
            time_base=Fraction(time_base),
            frames=frames,
            duration=duration,
            codec=stream.codec_context.name,
            display_matrix=matrix,
            rotation=int(round(first.rotation)) if matrix else 0,
            audio_streams=len(self._container.streams.audio),
            metadata=dict(stream.metadata),
            still_image=_is_image_demuxer(self._container.format.name),
        )

    @property
    def skipped_packets(self) -> int:
        """Damaged packets skipped so far (their frames are missing from the iteration)."""
        return self._decoder.skipped

    @property
    def stopped_early(self) -> str | None:
        """The demuxer's error when the rest of the file could not be read, else None."""
        return self._decoder.stopped_early

    @property
    def expected_frames(self) -> int | None:
        """How many frames iteration will yield, as far as the container tells (an estimate)."""
        left = max(0, self.info.frames - int(round(self.start * self.info.fps))) if self.info.frames is not None else None
        counts = [n for n in (left, self.max_frames) if n is not None]
        if self.duration is not None:
            counts.append(int(self.duration * self.info.fps + 0.999))
        return min(counts) if counts else None

    def __iter__(self) -> Iterator[Frame]:
        width, height = self.size
        frame_step = 1 / self.info.fps
        start: float | None = None
        index = 0
        decoded = self._first
        self._first = None
        while decoded is not None:
            if self.max_frames is not None and index >= self.max_frames:
                return
            if decoded.pts is not None:
                pts = decoded.pts - self._shift_pts
            else:
                pts = int(round(index * frame_step / self.info.time_base))
            time = float(pts * self.info.time_base)
            start = time if start is None else start
            if self.duration is not None and time - start >= self.duration - 1e-9:
                return
            image = decoded.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
            yield Frame(image=image, index=index, pts=pts, time_base=self.info.time_base)
            index += 1
            decoded = self._next_decoded()

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "VideoFileSource":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _is_image_demuxer(name: str) -> bool:
    """FFmpeg's demuxers of single images: ``image2`` (by extension) and ``png_pipe``, ``jpeg_pipe``, ... (by content)."""
    return any(part == "image2" or part.endswith("_pipe") for part in name.split(","))


def _open_input(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a video file")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(f"{path}: is empty (0 bytes), not a readable video file")
    try:
        return av.open(str(path), mode="r")
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable video file ({first_line(exc)})") from None


def _display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    try:
        entries = frame.side_data  # PyAV reads every entry here
    except ValueError:  # a side-data type PyAV does not know (a TIFF's, say): only the rotation is at hand
        return rotation_matrix(frame.rotation) if frame.rotation else None
    # A mapping by side-data type: look it up, never iterate (PyAV 18.1.1 iterates keys, 18.1.0 entries).
    side_data = entries.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
    if side_data is None or len(raw := bytes(side_data)) != 36:
        return None
    matrix = struct.unpack("<9i", raw)
    identity = (65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30)
    return None if matrix == identity else matrix


def rotation_matrix(degrees: float) -> tuple[int, ...]:
    """FFmpeg's display matrix (9 int32, 16.16 and 2.30 fixed point) of a rotation by ``degrees``,
    in the sense of ``VideoFrame.rotation`` (counter-clockwise); no flips."""
    radians = math.radians(degrees)
    cos, sin = (int(value * (1 << 16)) for value in (math.cos(radians), math.sin(radians)))
    return (cos, -sin, 0, sin, cos, 0, 0, 0, 1 << 30)
