"""Temporal consistency: smoothers against flicker and the optical-flow utilities they share with
the warping-error metric (:mod:`realtime_style.metrics.flicker`)."""

from realtime_style.temporal.smooth import (
    DEFAULT_STRENGTH,
    MODES,
    EmaSmoother,
    FlowSmoother,
    SceneCutDetector,
    make_smoother,
)

__all__ = ["DEFAULT_STRENGTH", "MODES", "EmaSmoother", "FlowSmoother", "SceneCutDetector", "make_smoother"]
