"""A live session: newest captured frame -> engine worker(s) -> (smoother) -> every sink, never a backlog.

Capture runs on its own thread and keeps one frame (:class:`LatestFrameGrabber`). Whenever an
engine worker (:class:`~realtime_style.live.workers.WorkerPool`, ``workers`` threads) is idle,
this loop hands it the newest frame at batch size 1; frames that arrive while every worker is
busy are dropped and counted, so latency is one capture interval plus one processing time at
most, whatever the engine's speed. With several workers, frames are stylized in parallel and
shown in capture order: a frame that finishes after a newer one was shown is dropped (counted as
late). Controls (keys, stdin, Python calls), temporal smoothing and the sinks run on this thread,
between frames. On CUDA the engine moves frames through pinned memory with non-blocking copies
and runs in fp16 (see :class:`~realtime_style.runtime.engine.Engine`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from realtime_style.errors import DeviceError, ModelError
from realtime_style.frame_processor import FrameProcessor
from realtime_style.live.adaptive import GovernorOptions, ResolutionGovernor, fixed_size, scaled_size
from realtime_style.live.cameras import CaptureSource
from realtime_style.live.capture import CapturedFrame, LatestFrameGrabber, ReconnectPolicy, stderr_log
from realtime_style.live.controls import Action, Command, Controls
from realtime_style.live.frame_job import FrameJob, Stylized, stylize_job
from realtime_style.live.outputs import LiveSink, OutputMeta, save_snapshot
from realtime_style.live.stats import LiveStats
from realtime_style.live.styles import StyleBank
from realtime_style.live.window import PreviewWindow
from realtime_style.live.workers import Done, WorkerPool
from realtime_style.person.compose import PersonMode
from realtime_style.person.live import LivePerson
from realtime_style.person.segmenter import MissingExtraError
from realtime_style.runtime.color import Look

#: Seconds an overlay notice (style name, strength, ...) stays on screen.
NOTICE_SECONDS = 2.0
#: How often the loop looks for work while a worker is idle and another one is busy (or paced).
POLL_SECONDS = 0.005
#: Seconds from the first output to the first headless status line (later ones: ``status_every``).
FIRST_STATUS_S = 2.0


@dataclass
class LiveOptions:
    """How a live session runs and when it ends."""

    #: Hold this output rate by adapting the processing size (None: no adaptation).
    target_fps: float | None = None
    #: Fixed processing size: (width, height) or a height; overrides ``target_fps``.
    size: tuple[int, int] | int | None = None
    #: Frames over which a style switch blends the old style into the new one (0: cut).
    crossfade_frames: int = 8
    strength: float = 1.0
    preserve_color: bool = False
    #: Start with temporal smoothing on (when a smoother is given).
    temporal: bool = True
    max_frames: int | None = None
    duration: float | None = None
    snapshot_dir: Path = field(default_factory=Path.cwd)
    #: Seconds without any frame (outside a reconnection) before the camera counts as lost.
    frame_timeout: float = 5.0
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    #: Engine worker threads stylizing frames in parallel (see :func:`~realtime_style.live.workers.default_workers`).
    workers: int = 1
    #: Log a status line (fps, latency, size, style) every this many seconds; for runs without a window.
    status_every: float | None = None


@dataclass
class LiveState:
    """What the controls change; read by tests and by the overlay."""

    style: int = 0
    strength: float = 1.0
    preserve_color: bool = False
    temporal: bool = False
    paused: bool = False
    #: The style being faded out and how many crossfade frames were shown so far.
    fade_from: int | None = None
    fade_step: int = 0
    snapshots: list[Path] = field(default_factory=list)


class LiveSession:
    """Runs one live session; :attr:`controls` steers it from any thread, :meth:`run` blocks."""

    def __init__(
        self,
        source: CaptureSource,
        styles: StyleBank,
        sinks: Sequence[LiveSink],
        options: LiveOptions | None = None,
        smoother: FrameProcessor | None = None,
        log: Callable[[str], None] = stderr_log,
        clock: Callable[[], float] = time.monotonic,
        person: LivePerson | None = None,
    ):
        self.source = source
        #: The person modes (the k key); None: not offered in this session.
        self.person = person
        self.styles = styles
        self.sinks = list(sinks)
        self.options = options or LiveOptions()
        self.smoother = smoother
        self.log = log
        self.clock = clock
        self.controls = Controls()
        self.stats = LiveStats()
        self.state = LiveState(
            strength=self.options.strength,
            preserve_color=self.options.preserve_color,
            temporal=smoother is not None and self.options.temporal,
        )
        self.window = next((s for s in self.sinks if isinstance(s, PreviewWindow)), None)
        self.governor: ResolutionGovernor | None = None
        self.processing_size: tuple[int, int] = (0, 0)
        self._last_output: np.ndarray | None = None
        #: Sequence number of the newest frame shown: an older one finishing later is late.
        self._shown_seq = -1
        #: Several workers: hand out frames at least a frame's work / workers apart, so their results
        #: come out evenly spaced (not in bursts) and rarely overtake each other.
        self._pace = 0.0
        self._last_handed = float("-inf")
        self._snapshot_due = False
        self._notice = ""
        self._notice_until = 0.0
        self._last_status = float("-inf")

    # ----------------------------------------------------------------------------- running

    def run(self) -> LiveStats:
        """Run until quit, ``max_frames``, ``duration``, a closed window, or a lost device."""
        self.styles.engine(self.state.style)  # a bad model file fails before the camera opens
        grabber = LatestFrameGrabber(self.source, self.options.reconnect, log=self.log, clock=self.clock)
        self.source.open()
        opened: list[LiveSink] = []
        try:
            width, height = self.source.size
            self._init_size(width, height)
            self._warm_up()
            for sink in self.sinks:
                sink.open(width, height, self.source.fps)
                opened.append(sink)
            pool: WorkerPool[FrameJob, Stylized] = WorkerPool(self.options.workers, lambda _i, job: stylize_job(job))
            grabber.start(open_source=False)
            try:
                self._loop(grabber, pool)
            finally:
                pool.close()
                self.stats.dropped += pool.busy  # taken, never shown
        finally:
            grabber.stop()
            for sink in reversed(opened):
                try:
                    sink.close()
                except Exception as exc:  # closing must not hide the run's own outcome
                    self.log(f"closing {sink.name} failed: {exc}")
            self.stats.captured = grabber.captured
            self.stats.dropped += grabber.dropped + self.stats.late
            self.stats.reconnects = grabber.reconnects
        return self.stats

    def _init_size(self, width: int, height: int) -> None:
        o = self.options
        if o.size is not None:
            self.processing_size = fixed_size(o.size, width, height)
        elif o.target_fps:
            self.governor = ResolutionGovernor(GovernorOptions(target_fps=o.target_fps))
            self.processing_size = scaled_size(width, height, self.governor.scale)
        else:
            self.processing_size = (width, height)

    def _warm_up(self) -> None:
        """One frame through each worker's engine first, so one-off set-up costs are not in the first frames' latency."""
        width, height = self.processing_size
        blank = CapturedFrame(np.zeros((height, width, 3), np.uint8), self.clock(), -1)
        for worker in range(self.options.workers):
            stylize_job(self._job(blank, worker))

    def _finished(self, start: float) -> bool:
        o = self.options
        if o.max_frames is not None and self.stats.outputs >= o.max_frames:
            return True
        if o.duration is not None and self.clock() - start >= o.duration:
            return True
        return self.window is not None and self.window.closed

    def _loop(self, grabber: LatestFrameGrabber, pool: WorkerPool[FrameJob, Stylized]) -> None:
        start = last_frame = self.clock()
        captured = -1
        while not self._finished(start):
            self._poll_window()
            if self._apply(self.controls.drain()):
                return
            now = self.clock()
            if grabber.captured != captured or grabber.reconnecting:
                captured, last_frame = grabber.captured, now
            elif now - last_frame > self.options.frame_timeout:
                raise DeviceError(f"no frames from {self.source.description} for {self.options.frame_timeout:g} s")
            taking = self._can_take(pool)
            if taking:
                frame = grabber.latest(timeout=POLL_SECONDS if pool.busy else 0.05)
                if frame is not None:
                    self._take(frame, pool)
            waiting = 0.0 if taking else POLL_SECONDS if pool.idle_worker() is not None else 0.05
            for done in pool.collect(timeout=waiting):
                self._emit(done)

    def _can_take(self, pool: WorkerPool[FrameJob, Stylized]) -> bool:
        """Paused (frames are shown frozen), or a worker is idle and more output is wanted."""
        if self.state.paused:
            return True
        wanted = self.options.max_frames
        if pool.idle_worker() is None or (wanted is not None and self.stats.outputs + pool.busy >= wanted):
            return False
        return self.clock() >= self._last_handed + self._pace

    def _take(self, frame: CapturedFrame, pool: WorkerPool[FrameJob, Stylized]) -> None:
        if self.state.paused:
            self._show_paused(frame)
            return
        worker = pool.idle_worker()
        assert worker is not None
        job = self._job(frame, worker)
        self._last_handed = job.handed
        pool.submit(worker, job)

    def _job(self, frame: CapturedFrame, worker: int) -> FrameJob:
        """The frame's work under the current controls; advances a crossfade by one frame."""
        s = self.state
        fade = None
        if s.fade_from is not None:
            s.fade_step += 1
            fade = (self.styles.engine(s.fade_from, worker), s.fade_step / (self.options.crossfade_frames + 1))
            if s.fade_step >= self.options.crossfade_frames:
                s.fade_from, s.fade_step = None, 0
        engine = self.styles.engine(s.style, worker)
        person = self.person.work(worker, self.processing_size) if self.person is not None else None
        look = Look(s.strength, s.preserve_color)
        return FrameJob(frame, self.processing_size, engine, look, fade, self.clock(), person)

    def _emit(self, done: Done[Stylized]) -> None:
        """Smooth, size and show a finished frame, unless a newer one is already out."""
        if done.error is not None:
            raise done.error
        assert done.result is not None
        job, frame = done.result.job, done.result.job.frame
        if frame.seq <= self._shown_seq:
            self.stats.late += 1
            return
        self._shown_seq = frame.seq
        image = done.result.image
        if self.smoother is not None and self.state.temporal:
            image = self.smoother.process(done.result.small, image)
        height, width = frame.image.shape[:2]
        if image.shape[:2] != (height, width):
            import cv2

            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        if self.person is not None and job.person is not None and done.result.probability is not None:
            result = done.result  # composed at the output size: a kept region is the captured frame itself
            image = self.person.compose(job.person.mode, frame.image, image, result.probability, result.person_image)
        if self._snapshot_due:
            self._snapshot_due = False
            self._save_snapshot(image)
        self._last_output = image
        meta = self._meta(frame)
        for sink in self.sinks:
            sink.write(image, meta)
        finished = self.clock()
        work = finished - job.handed
        self.stats.record(frame.time, finished, work, done.cpu)
        self._log_status(finished)
        self._pace = work / self.options.workers if self.options.workers > 1 else 0.0
        # Frames in parallel: the output rate is the workers' count over each frame's work. A frame that ran while
        # OpenVINO compiled a size aside (on torch, beside the compile) is not typical of its size: counted, it made
        # the size step back down after each step up.
        if self.governor is not None and self.governor.update(work / self.options.workers, not self._compiling()):
            self._resize(width, height)

    def _compiling(self) -> bool:
        """Whether any worker's engine of the current style compiles a frame size aside."""
        return any(self.styles.engine(self.state.style, worker).compiling for worker in range(self.options.workers))

    def _resize(self, width: int, height: int) -> None:
        assert self.governor is not None
        new = scaled_size(width, height, self.governor.scale)
        if new != self.processing_size:
            self.processing_size = new
            self.stats.size_changes += 1
            if self.smoother is not None:
                self.smoother.reset()

    def _show_paused(self, frame: CapturedFrame) -> None:
        """Paused: the picture freezes on every sink (receivers keep getting frames), nothing is stylized."""
        self.stats.paused_frames += 1
        self._shown_seq = frame.seq
        if self._last_output is None:
            return
        meta = self._meta(frame)
        for sink in self.sinks:
            sink.write(self._last_output, meta)

    def _poll_window(self) -> None:
        if self.window is not None:
            key = self.window.poll_key()
            if key is not None:
                self.controls.key(key)

    # ----------------------------------------------------------------------------- controls

    def _apply(self, commands: list[Command]) -> bool:
        """Apply queued commands; True when one of them is quit."""
        s = self.state
        for command in commands:
            action = command.action
            if action is Action.QUIT:
                return True
            if action is Action.NEXT_STYLE:
                self._switch((s.style + 1) % len(self.styles))
            elif action is Action.PREVIOUS_STYLE:
                self._switch((s.style - 1) % len(self.styles))
            elif action is Action.SELECT_STYLE:
                if 0 <= int(command.value) < len(self.styles):
                    self._switch(int(command.value))
            elif action is Action.STRENGTH:
                s.strength = round(min(1.0, max(0.0, s.strength + command.value)), 3)
                self._tell(f"strength {s.strength:.1f}")
            elif action is Action.TOGGLE_COLOR:
                s.preserve_color = not s.preserve_color
                self._tell(f"preserve colour {'on' if s.preserve_color else 'off'}")
            elif action is Action.TOGGLE_TEMPORAL:
                self._toggle_temporal()
            elif action is Action.CYCLE_PERSON:
                self._cycle_person()
            elif action is Action.SNAPSHOT:
                if s.paused and self._last_output is not None:
                    self._save_snapshot(self._last_output)
                else:
                    self._snapshot_due = True
            elif action is Action.PAUSE:
                s.paused = not s.paused
                self._tell("paused" if s.paused else "resumed")
                if not s.paused and self.smoother is not None:
                    self.smoother.reset()
        return False

    def _switch(self, index: int) -> None:
        s = self.state
        if index == s.style:
            return
        try:
            self.styles.engine(index)
        except ModelError as exc:
            self._tell(f"cannot switch to {self.styles.names[index]}: {exc}")
            return
        if self.options.crossfade_frames > 0:
            s.fade_from, s.fade_step = s.style, 0
        s.style = index
        if self.smoother is not None:
            self.smoother.reset()
        self._tell(f"style {index + 1}/{len(self.styles)}: {self.styles.names[index]}")

    def _toggle_temporal(self) -> None:
        s = self.state
        if self.smoother is None:
            self._tell("temporal smoothing is not available in this session (see --temporal)")
            return
        s.temporal = not s.temporal
        self.smoother.reset()
        self._tell(f"temporal smoothing {'on' if s.temporal else 'off'}")

    def _cycle_person(self) -> None:
        if self.person is None:
            self._tell("person modes are not available in this session")
            return
        previous, self.person.mode = self.person.mode, self.person.next_mode()
        try:
            self.person.work(0, self.processing_size)  # the segmenter loads now, or says what is missing
        except MissingExtraError as exc:
            self.person.mode = previous
            self._tell(str(exc))
            return
        self.person.matte.reset()
        self._tell(self.person.label())

    def _save_snapshot(self, image: np.ndarray) -> None:
        path = save_snapshot(image, self.options.snapshot_dir, self.styles.names[self.state.style])
        self.state.snapshots.append(path)
        self._tell(f"snapshot saved to {path}")

    def _log_status(self, now: float) -> None:
        """Every ``status_every`` seconds, what the overlay would show (headless runs have no overlay)."""
        every = self.options.status_every
        if every is None or now - self._last_status < every:
            return
        if self._last_status == float("-inf"):
            # The first line comes FIRST_STATUS_S after the first output (a rate needs a few frames),
            # so a headless start is not silent for a whole interval; then one every ``every`` seconds.
            self._last_status = now - every + min(every, FIRST_STATUS_S)
            return
        self._last_status = now
        width, height = self.processing_size
        self.log(
            f"{self.stats.current_fps:.1f} fps, latency {self.stats.current_latency_ms:.0f} ms, "
            f"{width}x{height}, {self.styles.names[self.state.style]}; {self.stats.outputs} frames out"
        )

    def _tell(self, message: str) -> None:
        self.log(message)
        self._notice, self._notice_until = message, self.clock() + NOTICE_SECONDS

    def _meta(self, frame: CapturedFrame) -> OutputMeta:
        s = self.state
        status = ["paused"] if s.paused else []
        if self.person is not None and self.person.mode is not PersonMode.OFF:
            status.append(self.person.label())
        if self._notice and self.clock() < self._notice_until:
            status.append(self._notice)
        return OutputMeta(
            capture_time=frame.time,
            index=self.stats.outputs,
            style=self.styles.names[s.style],
            strength=s.strength,
            fps=self.stats.current_fps,
            latency_ms=self.stats.current_latency_ms,
            processing_size=self.processing_size,
            status=status,
        )
