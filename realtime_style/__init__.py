"""rtstyle: real-time neural style transfer for video files, webcams and live streams."""

__version__ = "0.1.0"
