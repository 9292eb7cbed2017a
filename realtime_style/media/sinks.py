"""Video file sink (PyAV): encode RGB uint8 frames, copy audio packets from a source file.

Knows nothing of models. The file pipeline writes to it on its encode thread; the live pipeline
reuses it for ``--record``. The output is written in place (no temp file) and :meth:`close`
always finalizes the container, so a run stopped early still leaves a playable file. MP4 and MOV
are written fragmented (a self-contained fragment every second or so), so a hard kill or a full
disk, which leave no chance to finalize, still leave a file playable up to its last fragment;
Matroska and WebM are written cluster by cluster, which needs no such option.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from realtime_style.errors import OutputError, first_line
from realtime_style.media.outfile import CheckedFile

DEFAULT_CODEC = "libx264"
#: Containers whose default is not H.264 (WebM takes only VP8/VP9/AV1; GIF only its own codec).
_CODEC_BY_SUFFIX = {".webm": "libvpx-vp9", ".gif": "gif"}
DEFAULT_CRF = 18
DEFAULT_PRESET = "medium"
#: Encoders that understand the ``crf`` private option, with its highest value (0 is lossless or best).
CRF_MAX = {"libx264": 51, "libx265": 51, "libvpx-vp9": 63, "libaom-av1": 63, "libsvtav1": 63}
#: Encoders that understand ``preset``, and its values (fastest to slowest).
_PRESET_CODECS = {"libx264", "libx265"}
X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
#: RGB -> YUV uses the BT.601 matrix in limited range; the stream is tagged accordingly.
_COLORSPACE = av.video.reformatter.Colorspace.ITU601
_TAG_SMPTE170M = 6
_RANGE_MPEG = 1
#: Seconds of video per MP4/MOV fragment: at most this much (plus the encoder's delay) is lost to a kill.
FRAGMENT_SECONDS = 1.0
#: FFmpeg muxers of the MP4 family, which hold their index at the end unless fragmented.
_FRAGMENTABLE = {"mp4", "mov", "ipod", "ismv", "3gp", "3g2", "f4v"}


class VideoFileSink:
    """Encodes RGB uint8 (H, W, 3) frames into ``path`` (container chosen by its extension).

    ``codec`` defaults to H.264 (libx264), VP9 for ``.webm``; ``crf`` and ``preset`` apply to
    the encoders that know them; ``threads`` caps the encoder's threads (0: the encoder's choice).

    ``pts`` given to :meth:`write` count ``time_base`` units (default ``1 / fps``) and must
    increase; omitted, frames are spaced at ``fps``. ``display_matrix`` (FFmpeg's 9-int32 layout)
    carries rotation and flips into the container. ``audio_from`` names a file whose audio
    streams are copied packet by packet (no re-encode), interleaved with the video and cut at the
    end of the last video frame written; ``audio_cut`` leaves out the audio's first seconds (packets
    starting before it are dropped, the rest shifted back by it), for a video whose frames were cut
    and shifted the same way (:attr:`VideoFileSource.cut_time`). ``fragment_seconds`` is the MP4/MOV fragment length
    (None: one index at the end, as classic MP4 players expect, lost if the run is killed).
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: Fraction | float,
        time_base: Fraction | None = None,
        codec: str | None = None,
        crf: int | None = DEFAULT_CRF,
        preset: str | None = DEFAULT_PRESET,
        display_matrix: tuple[int, ...] | None = None,
        audio_from: str | Path | None = None,
        audio_cut: float = 0.0,
        options: dict[str, str] | None = None,
        threads: int = 0,
        fragment_seconds: float | None = FRAGMENT_SECONDS,
    ):
        self.path = Path(path)
        self.width, self.height = width, height
        self.fps = Fraction(fps).limit_denominator(1_000_000)
        self.time_base = time_base or 1 / self.fps
        self.frames_written = 0
        #: True when ``audio_from`` had audio that this format cannot hold (e.g. GIF): it was not copied.
        self.audio_dropped = False
        self._last_pts: int | None = None
        self._closed = False
        self._container, self._file = _open_output(self.path)
        if fragment_seconds is not None and self._container.format.name in _FRAGMENTABLE:
            self._container.container_options.update(_fragment_options(fragment_seconds))
        self._audio_input: av.container.InputContainer | None = None
        self._audio_packets: Iterator[av.Packet] | None = None
        self._audio_next: av.Packet | None = None
        self._audio_map: dict[int, av.stream.Stream] = {}
        self._audio_cut = audio_cut
        try:
            codec = codec or _CODEC_BY_SUFFIX.get(self.path.suffix.lower(), DEFAULT_CODEC)
            self._stream = self._add_video_stream(codec, crf, preset, display_matrix, options or {})
            self._stream.codec_context.thread_count = threads
            if audio_from is not None:
                self._add_audio(Path(audio_from))
        except BaseException:
            self._abandon()
            self.path.unlink(missing_ok=True)  # created by _open_output above, still empty
            raise

    @property
    def pix_fmt(self) -> str:
        return self._stream.codec_context.pix_fmt

    def _add_video_stream(
        self,
        codec: str,
        crf: int | None,
        preset: str | None,
        display_matrix: tuple[int, ...] | None,
        extra: dict[str, str],
    ) -> av.video.stream.VideoStream:
        try:
            encoder = av.codec.Codec(codec, "w")
        except (av.FFmpegError, ValueError):
            raise OutputError(f"unknown video codec {codec!r} (try libx264, libx265, libvpx-vp9, mpeg4)") from None
        if encoder.type != "video":
            raise OutputError(f"{codec!r} is not a video codec")
        options = dict(extra)
        if crf is not None and codec in CRF_MAX:
            if not 0 <= crf <= CRF_MAX[codec]:
                raise OutputError(f"crf {crf} is out of range for {codec} (0-{CRF_MAX[codec]}, lower is better)")
            options.setdefault("crf", str(crf))
            if codec == "libvpx-vp9":
                options.setdefault("b", "0")
        if preset is not None and codec in _PRESET_CODECS:
            if preset not in X26X_PRESETS:
                raise OutputError(f"unknown {codec} preset {preset!r} (one of {', '.join(X26X_PRESETS)})")
            options.setdefault("preset", preset)
        try:
            stream = self._container.add_stream(codec, rate=self.fps, options=options)
        except (av.FFmpegError, ValueError) as exc:
            raise OutputError(f"{self.path}: cannot write {codec} to this format ({first_line(exc)})") from None
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = pick_pixel_format(encoder, self.width, self.height)
        stream.time_base = self.time_base
        context = stream.codec_context
        context.time_base = self.time_base
        context.framerate = self.fps
        context.colorspace = _TAG_SMPTE170M
        context.color_primaries = _TAG_SMPTE170M
        context.color_trc = _TAG_SMPTE170M
        context.color_range = _RANGE_MPEG
        if display_matrix is not None:
            stream.set_display_matrix(list(display_matrix))
        return stream

    def _add_audio(self, source: Path) -> None:
        try:
            self._audio_input = av.open(str(source), mode="r")
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"{source}: cannot read its audio ({first_line(exc)})") from None
        audio = list(self._audio_input.streams.audio)
        if audio and self._container.default_audio_codec == "none":  # e.g. GIF: a format without sound
            self.audio_dropped = True
            return
        if not audio:
            return
        for stream in audio:
            try:
                self._audio_map[stream.index] = self._container.add_stream_from_template(stream)
            except (av.FFmpegError, ValueError) as exc:
                raise OutputError(
                    f"{self.path}: cannot copy {stream.codec_context.name} audio into this format "
                    f"({first_line(exc)}); use another extension (e.g. .mkv) or --no-audio"
                ) from None
        if self._audio_cut > 0:
            try:  # near the cut; where the file cannot seek, the packets before it are read and dropped
                self._audio_input.seek(int(self._audio_cut * av.time_base), backward=True)
            except (av.FFmpegError, ValueError, OSError):
                pass
        self._audio_packets = self._audio_input.demux(*audio)
        self._advance_audio()

    def _advance_audio(self) -> None:
        assert self._audio_packets is not None
        for packet in self._audio_packets:
            if packet.size and packet.pts is not None and self._cut_audio(packet):
                self._audio_next = packet
                return
        self._audio_next = None

    def _cut_audio(self, packet: av.Packet) -> bool:
        """Shift ``packet`` back by ``audio_cut``; False when it starts before the cut (left out)."""
        if self._audio_cut <= 0:
            return True
        if float(packet.pts * packet.time_base) < self._audio_cut:
            return False
        shift = int(round(self._audio_cut / packet.time_base))
        packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        return True

    def _mux_audio_until(self, seconds: float) -> None:
        """Copy the audio packets that start before ``seconds`` (keeps the file interleaved)."""
        while self._audio_next is not None and float(self._audio_next.pts * self._audio_next.time_base) < seconds:
            packet = self._audio_next
            packet.stream = self._audio_map[packet.stream.index]
            self._mux(packet)
            self._advance_audio()

    def _mux(self, packets: av.Packet | list[av.Packet]) -> None:
        try:
            self._container.mux(packets)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise OutputError(f"{self.path}: cannot write ({first_line(exc)})") from None

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Encode one RGB uint8 (H, W, 3) frame of the sink's size."""
        if self._closed:
            raise ValueError("write() on a closed VideoFileSink")
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise ValueError(f"expected uint8 ({self.height}, {self.width}, 3), got {image.dtype} {image.shape}")
        if pts is None:
            pts = int(round(self.frames_written / (self.fps * self.time_base)))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame = frame.reformat(format=self.pix_fmt, dst_colorspace=_COLORSPACE)
        frame.pts, frame.time_base = pts, self.time_base
        self._mux_audio_until(float(pts * self.time_base))
        self._mux(self._encode(frame))
        self._last_pts = pts
        self.frames_written += 1

    def _encode(self, frame: av.VideoFrame | None) -> list[av.Packet]:
        try:
            return self._stream.encode(frame)
        except (av.FFmpegError, ValueError) as exc:
            raise OutputError(f"{self.path}: the {self._stream.codec_context.name} encoder failed ({first_line(exc)})") from None

    def close(self) -> None:
        """Flush the encoder, copy the audio up to the end of the video, finalize the container."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.frames_written:
                self._mux(self._encode(None))
                assert self._last_pts is not None
                self._mux_audio_until(float(self._last_pts * self.time_base + 1 / self.fps))
        finally:
            self._abandon()

    def _abandon(self) -> None:
        """Close both containers and the file, whatever state they are in; raise any write error."""
        self._closed = True
        try:
            self._container.close()
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"{self.path}: cannot finalize ({first_line(exc)})") from None
        finally:
            self._file.close()
            if self._audio_input is not None:
                self._audio_input.close()
        if self._file.error is not None:
            raise OutputError(f"{self.path}: cannot write ({first_line(self._file.error)})")

    def __enter__(self) -> "VideoFileSink":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def pick_pixel_format(encoder: av.codec.Codec, width: int, height: int) -> str:
    """4:2:0 where the size allows it (what every player decodes), else 4:4:4 for odd sizes."""
    formats = [f.name for f in (encoder.video_formats or ())]
    even = width % 2 == 0 and height % 2 == 0
    for candidate in (("yuv420p",) if even else ()) + ("yuv444p", "yuv420p"):
        if candidate in formats:
            return candidate
    if not formats:
        return "yuv420p"
    return formats[0]


def _fragment_options(seconds: float) -> dict[str, str]:
    """MP4 muxer options: a fragment at least every ``seconds``; the header (with the edit list that
    keeps timestamps exact) is written with the first fragment."""
    return {
        "movflags": "frag_keyframe+delay_moov+default_base_moof",
        "frag_duration": str(int(seconds * 1_000_000)),
    }


def _open_output(path: Path) -> tuple[av.container.OutputContainer, CheckedFile]:
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name such as {path / 'out.mp4'}")
    if path.parent.exists() and not path.parent.is_dir():
        raise OutputError(f"{path}: {path.parent} is not a folder")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")
    try:
        file = CheckedFile(path)
    except PermissionError:
        raise OutputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot create ({first_line(exc)})") from None
    try:
        container = av.open(file, mode="w")
        file.truncate()
        return container, file
    except ValueError as exc:
        _discard(file, path)
        raise OutputError(f"{path}: unknown output format; use an extension such as .mp4 or .mkv ({first_line(exc)})") from None
    except (av.FFmpegError, OSError) as exc:
        _discard(file, path)
        raise OutputError(f"{path}: cannot create ({first_line(exc)})") from None


def _discard(file: CheckedFile, path: Path) -> None:
    """Close ``file`` and remove it if :func:`_open_output` created it (a file there before stays)."""
    file.close()
    if not file.existed:
        path.unlink(missing_ok=True)
