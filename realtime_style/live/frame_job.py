"""One live frame's work, as a worker thread does it: resize to the processing size, run the network(s).

Everything a frame needs is fixed in its :class:`FrameJob` when the pipeline hands it out (the
style's engine replica of that worker, its look -- strength and colour --, crossfade weight), and the
engines are handed the look with the frame, so frames stylized on different threads come out exactly
as they would on one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from realtime_style.runtime.color import Look
from realtime_style.runtime.engine import Engine
from realtime_style.live.capture import CapturedFrame
from realtime_style.person.live import PersonWork


@dataclass(frozen=True)
class FrameJob:
    """A captured frame and how to stylize it."""

    frame: CapturedFrame
    #: Processing size (width, height).
    size: tuple[int, int]
    engine: Engine
    look: Look
    #: The style being faded out and the new style's weight in this frame; None: no crossfade.
    fade: tuple[Engine, float] | None
    #: Pipeline clock when the job was handed to a worker.
    handed: float
    #: Segment (and maybe paint) the person too; None: person modes off.
    person: PersonWork | None = None


@dataclass(frozen=True)
class Stylized:
    """A job's result at the processing size, with the input it came from (for temporal smoothing)."""

    job: FrameJob
    small: np.ndarray
    image: np.ndarray
    #: The person's probability at the segmenter's size, and the person style's frame (person modes).
    probability: np.ndarray | None = None
    person_image: np.ndarray | None = None


@torch.inference_mode()
def stylize_job(job: FrameJob) -> Stylized:
    """Stylize ``job.frame`` at ``job.size`` (the engines must be this thread's replicas)."""
    import cv2

    image = job.frame.image
    height, width = image.shape[:2]
    small = image if job.size == (width, height) else cv2.resize(image, job.size, interpolation=cv2.INTER_AREA)
    engine, look = job.engine, job.look
    x = engine.to_tensor(small[None])
    y = engine.run_tensor(x, look)
    if job.fade is not None:
        old, alpha = job.fade
        y = torch.lerp(old.run_tensor(x.to(old.frame_dtype), look).to(y.dtype), y, alpha)
    if job.person is None:
        return Stylized(job, small, engine.to_frames(y)[0])
    person = job.person.engine
    person_image = None if person is None else person.to_frames(person.run_tensor(x.to(person.frame_dtype), look))[0]
    return Stylized(job, small, engine.to_frames(y)[0], job.person.segmenter(small), person_image)
