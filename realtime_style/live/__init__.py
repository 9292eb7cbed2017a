"""The live path: a camera (or a file played as one) stylized to a window, a stream, a virtual camera."""

from realtime_style.live.capture import CapturedFrame, LatestFrameGrabber, ReconnectPolicy
from realtime_style.live.controls import Action, Command, Controls
from realtime_style.live.cameras import CameraSource, CaptureRequest, LoopingFileSource
from realtime_style.live.outputs import OutputMeta, RecordSink, StreamSink, VirtualCameraSink
from realtime_style.live.session import LiveOptions, LiveSession, LiveState
from realtime_style.live.stats import LiveStats
from realtime_style.live.styles import StyleBank, resolve_live_styles
from realtime_style.live.window import PreviewWindow, display_available

__all__ = [
    "Action",
    "CameraSource",
    "CaptureRequest",
    "CapturedFrame",
    "Command",
    "Controls",
    "LatestFrameGrabber",
    "LiveOptions",
    "LiveSession",
    "LiveState",
    "LiveStats",
    "LoopingFileSource",
    "OutputMeta",
    "PreviewWindow",
    "RecordSink",
    "ReconnectPolicy",
    "StreamSink",
    "StyleBank",
    "VirtualCameraSink",
    "display_available",
    "resolve_live_styles",
]
