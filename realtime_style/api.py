"""The Python face of rtstyle: load a style once, stylize frames, images, folders and videos.

>>> from realtime_style import Stylizer, configure_process
>>> configure_process()              # once per program: CPU threads, malloc tuning  # doctest: +SKIP
>>> stylizer = Stylizer("mosaic", strength=0.8)
>>> stylizer.stylize_video("in.mp4", "out.mp4")          # doctest: +SKIP
>>> out = stylizer.stylize_frames(frames)                # uint8 (N, H, W, 3) RGB  # doctest: +SKIP

The ``rtstyle`` command only parses arguments and calls these functions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from realtime_style.runtime.color import Look
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.errors import InputError, OutputError
from realtime_style.media.geometry import Resize
from realtime_style.image_files import IMAGE_SUFFIXES, find_images, is_image_file, output_name
from realtime_style.media.images import check_image_output, read_image, write_image
from realtime_style.media.sources import VideoFileSource
from realtime_style.models.store import ModelInfo, StyleModel, load_model
from realtime_style.models.store import list_styles as _store_list_styles
from realtime_style.person import PersonCompositor, PersonMode, PersonOptions
from realtime_style.video import VideoOptions, VideoResult, process_video, refuse_same_file

#: RGB uint8 (H, W, 3) in, RGB uint8 (H', W', 3) out: a stylizer, or any other image transform.
ImageTransform = Callable[[np.ndarray], np.ndarray]


@dataclass
class ImagesResult:
    """The outcome of stylizing one image or a folder: files written, and inputs that failed."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


class Stylizer:
    """One style model on one device, ready to stylize frames, images and videos.

    ``style`` is a shipped style name (``mosaic``), a model file path or a loaded
    :class:`StyleModel`; ``arch`` picks a shipped variant (``standard`` or ``light``).
    ``strength`` (0..1) blends with the original; ``preserve_color`` keeps the input's colours
    (together the :attr:`look`, which may be changed between calls).
    ``keep="person"`` (or ``"background"``) shows that region of the input unstylized;
    ``person_style`` paints the person with a second style instead (see :mod:`realtime_style.person`;
    needs ``rtstyle[person]``). Frames passed to :meth:`stylize_frames` count as one sequence for the
    mask's smoothing over time (:meth:`reset` starts a new one); images and videos start afresh.

    The everyday keywords have a full form: ``device`` is short for ``engine=EngineOptions(device=...)``
    (precision, batch size, fast paths, backend), ``keep``/``person_style`` for ``person=PersonOptions(...)``
    (also the mask's settings); give one form or the other. Threads and malloc tuning are the process's:
    call :func:`~realtime_style.runtime.process.configure_process` once for the measured CPU speed.
    """

    def __init__(
        self,
        style: str | Path | StyleModel,
        *,
        arch: str | None = None,
        device: str | None = None,
        strength: float = 1.0,
        preserve_color: bool = False,
        keep: str | None = None,
        person_style: str | Path | StyleModel | None = None,
        engine: EngineOptions | None = None,
        person: PersonOptions | None = None,
    ):
        if engine is not None and device is not None:
            raise ValueError("give the device in engine=EngineOptions(device=...) or as device=, not both")
        if person is not None and (keep is not None or person_style is not None):
            raise ValueError("give keep/person_style in person=PersonOptions(...) or as keywords, not both")
        #: How the stylized frames meet the originals (strength, colour preservation).
        self.look = Look(strength, preserve_color)
        model = style if isinstance(style, StyleModel) else load_model(style, arch)
        options = engine or EngineOptions(device=device or "auto")
        self.engine = Engine(model, options)
        person = person or PersonOptions(keep=keep, person_style=person_style)
        self.person_engine: Engine | None = None
        if person.person_style is not None:
            ps = person.person_style
            self.person_engine = Engine(ps if isinstance(ps, StyleModel) else load_model(ps, arch), options)
        self.compositor: PersonCompositor | None = None
        if person.mode is not PersonMode.OFF:
            self.compositor = PersonCompositor(person, self._stylize_person)

    @property
    def info(self) -> ModelInfo | None:
        return self.engine.style_model.info if self.engine.style_model else None

    @property
    def strength(self) -> float:
        return self.look.strength

    @strength.setter
    def strength(self, value: float) -> None:
        self.look = replace(self.look, strength=float(value))

    @property
    def preserve_color(self) -> bool:
        return self.look.preserve_color

    @preserve_color.setter
    def preserve_color(self, value: bool) -> None:
        self.look = replace(self.look, preserve_color=bool(value))

    def describe(self) -> str:
        text = self.engine.describe()
        if self.compositor is None:
            return text
        if self.person_engine is not None:
            return f"{text}, person painted with {self.person_engine.describe()}"
        return f"{text}, {self.compositor.mode.value}"

    def reset(self) -> None:
        """Start a new sequence: the person mask forgets the frames before."""
        if self.compositor is not None:
            self.compositor.reset()

    def stylize_frames(self, frames: np.ndarray) -> np.ndarray:
        """uint8 RGB (N, H, W, 3) or (H, W, 3) -> stylized uint8 frames of the same shape."""
        out = self.engine.stylize(frames, self.look)
        if self.compositor is None:
            return out
        if out.ndim == 3:
            return self.compositor.process(np.asarray(frames), out)
        return np.stack([self.compositor.process(frame, styled) for frame, styled in zip(frames, out)])

    def _stylize_still(self, rgb: np.ndarray) -> np.ndarray:
        self.reset()
        return self.stylize_frames(rgb)

    def _stylize_person(self, rgb: np.ndarray) -> np.ndarray:
        assert self.person_engine is not None
        return self.person_engine.stylize(rgb, self.look)

    def stylize_image(self, image: np.ndarray | Image.Image) -> np.ndarray | Image.Image:
        """Stylize an RGB uint8 array or a PIL image; returns the same kind (alpha kept for PIL)."""
        if isinstance(image, Image.Image):
            alpha = image.getchannel("A") if "A" in image.getbands() else None
            out = Image.fromarray(self._stylize_still(np.array(image.convert("RGB"))), "RGB")
            if alpha is not None:
                out.putalpha(alpha)
            return out
        return self._stylize_still(np.asarray(image))

    def stylize_path(self, src: str | Path, dst: str | Path, resize: Resize | None = None) -> ImagesResult:
        """Stylize an image file, or every image in a folder into a folder (same relative names)."""
        return transform_images(src, dst, self._stylize_still, resize)

    def stylize_video(
        self,
        src: str | Path,
        dst: str | Path,
        options: VideoOptions | None = None,
        *,
        stop: threading.Event | None = None,
        on_start: Callable[[VideoFileSource, tuple[int, int]], None] | None = None,
    ) -> VideoResult:
        """Stylize a video file into ``dst``; ``options`` holds size, encoder, audio and limits.

        Setting ``stop`` ends the run early with a finalized, playable ``dst``; ``on_start`` is
        called once the input is open, with the source and the output size. Batches are capped to
        what the free memory holds at the frame size.
        """
        options = options or VideoOptions()
        if self.compositor is not None:  # after any smoother: the kept region stays exactly the input
            options = replace(options, postprocess=[*options.postprocess, self.compositor])
        look = self.look
        return process_video(
            lambda frames: self.engine.submit(frames, look),
            self.engine.batch_size,
            src,
            dst,
            options,
            stop=stop,
            on_start=on_start,
            batch_limit=self.engine.largest_batch,
        )


def transform_images(
    src: str | Path,
    dst: str | Path,
    transform: ImageTransform,
    resize: Resize | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImagesResult:
    """Apply ``transform`` to one image file, or to every image in a folder.

    A file goes to ``dst`` (or into ``dst`` when that is an existing folder). A folder goes into
    the folder ``dst`` (created) under the same relative names; unreadable images there are
    recorded in :attr:`ImagesResult.failed` and the others still processed. Alpha is kept.
    ``progress(done, total)`` is called once the images are counted and after each one.
    """
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise InputError(f"{src}: no such file or folder")
    if src.is_dir():
        return _transform_folder(src, dst, transform, resize, progress)
    if dst.is_dir():
        dst = dst / output_name(Path(src.name))
    refuse_same_file(src, dst)
    check_image_output(dst)
    if progress:
        progress(0, 1)
    _transform_file(src, dst, transform, resize)
    if progress:
        progress(1, 1)
    return ImagesResult(written=[dst])


def _transform_file(src: Path, dst: Path, transform: ImageTransform, resize: Resize | None) -> None:
    image = read_image(src, resize)
    write_image(dst, replace(image, rgb=transform(image.rgb)))


def _transform_folder(
    src: Path,
    dst: Path,
    transform: ImageTransform,
    resize: Resize | None,
    progress: Callable[[int, int], None] | None = None,
) -> ImagesResult:
    if dst.exists() and not dst.is_dir():
        raise OutputError(f"{dst}: input is a folder, so the output must be a folder too")
    if not dst.exists() and is_image_file(dst):  # `still photos/ out.jpg` would make a folder named out.jpg
        raise OutputError(
            f"{dst}: input is a folder, so the output must be a folder too, not an image file name (e.g. {dst.with_suffix('')}/)"
        )
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise OutputError(f"{dst}: output folder must not be the input folder or inside it")
    names = find_images(src)
    if not names:
        raise InputError(f"{src}: no images found (looked for {' '.join(IMAGE_SUFFIXES)})")
    result = ImagesResult()
    if progress:
        progress(0, len(names))
    for done, name in enumerate(names, 1):
        target = dst / output_name(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{target.parent}: cannot create folder ({exc.strerror or exc})") from None
        try:
            _transform_file(src / name, target, transform, resize)
        except InputError as exc:
            result.failed.append((src / name, str(exc)))
        else:
            result.written.append(target)
        if progress:
            progress(done, len(names))
    return result


def stylize_image(
    src: str | Path,
    dst: str | Path,
    style: str | Path,
    resize: Resize | None = None,
    **stylizer_options: Any,
) -> ImagesResult:
    """One-shot: stylize an image file (or a folder of them) with ``style``."""
    return Stylizer(style, **stylizer_options).stylize_path(src, dst, resize)


def stylize_video(
    src: str | Path,
    dst: str | Path,
    style: str | Path,
    options: VideoOptions | None = None,
    **stylizer_options: Any,
) -> VideoResult:
    """One-shot: stylize a video file with ``style``."""
    return Stylizer(style, **stylizer_options).stylize_video(src, dst, options)


def list_styles() -> list[tuple[Path, ModelInfo]]:
    """The installed model files and their metadata (shipped styles and ``$RTSTYLE_MODELS_PATH``)."""
    return _store_list_styles()
