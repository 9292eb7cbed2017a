"""The style metric: how much of a style's Gram statistics an output carries, at what content cost.

Defined so that figures compare across tools (whatever produced the output):

* photo, output and style image are resized to a long side of 512 px (Lanczos, on 8-bit RGB);
* features are VGG19's (:class:`~realtime_style.models.vgg.VGG19Features`, Caffe weights);
* Gram G = F Fᵀ / (C·H·W) (:func:`~realtime_style.losses.gram_matrix`);
* style distance SD(x) = mean over relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 of
  ‖G(x) − G(style)‖² / ‖G(style)‖²;
* **style ratio** = SD(output) / SD(photo): 1 for an untouched photo, lower = more of the style;
* **content distance** = ‖F(output) − F(photo)‖² / ‖F(photo)‖² at relu4_2: 0 for an untouched photo.

:class:`StyleMetric` scores image pairs; :func:`evaluate_model` runs a transform net over a set of
photos (whose features are computed once and reused across styles) and returns mean and worst.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from realtime_style.errors import InputError
from realtime_style.image_files import IMAGE_SUFFIXES, existing_image_file, is_image_file, load_rgb
from realtime_style.image_tensors import image_to_tensor
from realtime_style.losses import CONTENT_LAYER, STYLE_LAYERS, gram_matrix, relative_distance, style_distances
from realtime_style.models.store import ModelInfo, StyleModel, load_model
from realtime_style.models.style_images import DATA_ENV, data_dir, find_style_image
from realtime_style.models.vgg import VGG19Features

#: Long side, in pixels, that photo, output and style image are resized to before measuring.
EVAL_LONG_SIDE = 512
METRIC_LAYERS: tuple[str, ...] = (*STYLE_LAYERS, CONTENT_LAYER)
DEFAULT_PHOTO_COUNT = 32
#: Training holds out ``content/bsds500/val_*``; the default evaluation photos come from there.
DEFAULT_PHOTO_PATTERN = "val_*"

#: Anything that maps RGB [0, 1] (1, 3, H, W) to named feature maps (VGG19Features, or a stand-in in tests).
FeatureExtractor = Callable[[torch.Tensor], Mapping[str, torch.Tensor]]
ImageLike = Image.Image | np.ndarray | str | Path


def as_pil(image: ImageLike) -> Image.Image:
    """A path, a uint8 (H, W, 3) RGB array or a PIL image -> an RGB PIL image."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a uint8 (H, W, 3) RGB array, got {image.dtype} {image.shape}")
        return Image.fromarray(image, "RGB")
    return load_rgb(image)


def eval_size(width: int, height: int, long_side: int = EVAL_LONG_SIDE) -> tuple[int, int]:
    """(width, height) with the long side scaled to ``long_side`` and the aspect ratio kept."""
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_for_eval(
    image: ImageLike, size: tuple[int, int] | None = None, long_side: int = EVAL_LONG_SIDE
) -> Image.Image:
    """Resize to ``size`` (width, height), by default to a long side of ``long_side``."""
    pil = as_pil(image)
    size = size or eval_size(*pil.size, long_side)
    return pil if pil.size == size else pil.resize(size, Image.Resampling.LANCZOS)


@dataclass
class ImageStats:
    """What the metric keeps of one image: its Gram matrices and its content-layer features."""

    grams: dict[str, torch.Tensor]
    content: torch.Tensor


@dataclass
class EvalPhoto:
    """A photo prepared for evaluation: the resized image and its statistics."""

    name: str
    image: torch.Tensor
    stats: ImageStats


@dataclass
class PairScore:
    """The metric for one (photo, output) pair."""

    photo: str
    style_ratio: float
    content_distance: float
    style_distance_output: float
    style_distance_photo: float
    #: Per style layer, the output's Gram distance over the photo's: where the net misses the painting
    #: (relu1_1: colours and fine texture ... relu5_1: the largest motifs).
    layer_ratios: dict[str, float] = field(default_factory=dict)


@dataclass
class StyleScore:
    """Mean and worst of the metric over a set of photos for one style."""

    style: str
    style_image: str
    photos: int
    mean_style_ratio: float
    worst_style_ratio: float
    mean_content_distance: float
    worst_content_distance: float
    worst_style_ratio_photo: str
    worst_content_distance_photo: str
    #: Per style layer, the mean over the photos of :attr:`PairScore.layer_ratios`.
    mean_layer_ratios: dict[str, float] = field(default_factory=dict)
    model: str | None = None
    per_photo: list[PairScore] = field(default_factory=list)

    @classmethod
    def from_pairs(cls, style: str, style_image: str, pairs: Sequence[PairScore], model: str | None = None):
        if not pairs:
            raise ValueError("no photos were scored")
        ratio = max(pairs, key=lambda p: p.style_ratio)
        content = max(pairs, key=lambda p: p.content_distance)
        return cls(
            style=style,
            style_image=style_image,
            photos=len(pairs),
            mean_style_ratio=float(np.mean([p.style_ratio for p in pairs])),
            worst_style_ratio=ratio.style_ratio,
            mean_content_distance=float(np.mean([p.content_distance for p in pairs])),
            worst_content_distance=content.content_distance,
            worst_style_ratio_photo=ratio.photo,
            worst_content_distance_photo=content.photo,
            mean_layer_ratios={
                layer: float(np.mean([p.layer_ratios[layer] for p in pairs])) for layer in pairs[0].layer_ratios
            },
            model=model,
            per_photo=list(pairs),
        )

    def to_dict(self, per_photo: bool = False) -> dict:
        data = asdict(self)
        if not per_photo:
            data.pop("per_photo")
        return data


class StyleMetric:
    """Scores outputs against a photo and a style image with the metric defined in this module."""

    def __init__(
        self,
        device: torch.device | str = "cpu",
        extractor: FeatureExtractor | None = None,
        long_side: int = EVAL_LONG_SIDE,
    ):
        """``long_side`` other than 512 gives figures that do not compare with the metric's; for tests."""
        self.device = torch.device(device)
        self.long_side = long_side
        self.extractor: FeatureExtractor = extractor or VGG19Features(METRIC_LAYERS).to(self.device)
        #: Statistics of image files at the metric's own size, by path and modification time: a painting that
        #: several models are measured against is read and passed through VGG once.
        self._file_stats: dict[tuple[str, int], ImageStats] = {}

    @torch.no_grad()
    def stats(self, image: torch.Tensor) -> ImageStats:
        """Gram matrices at the style layers and features at the content layer of one RGB [0, 1] image."""
        features = self.extractor(image.to(self.device, torch.float32))
        grams = {layer: gram_matrix(features[layer]) for layer in STYLE_LAYERS}
        return ImageStats(grams=grams, content=features[CONTENT_LAYER].float())

    def image_stats(self, image: ImageLike, size: tuple[int, int] | None = None) -> ImageStats:
        """Resize an image for evaluation (long side 512, or ``size``) and compute its statistics."""
        if isinstance(image, (str, Path)) and size is None:
            path = Path(image).resolve()
            key = (str(path), path.stat().st_mtime_ns)
            if key not in self._file_stats:
                self._file_stats[key] = self._resized_stats(path, None)
            return self._file_stats[key]
        return self._resized_stats(image, size)

    def _resized_stats(self, image: ImageLike, size: tuple[int, int] | None) -> ImageStats:
        return self.stats(image_to_tensor(resize_for_eval(image, size, self.long_side)).to(self.device))

    def prepare_photo(self, image: ImageLike, name: str = "photo") -> EvalPhoto:
        """Resize a photo and compute its statistics once, to score many outputs of it."""
        tensor = image_to_tensor(resize_for_eval(image, long_side=self.long_side)).to(self.device)
        return EvalPhoto(name=name, image=tensor, stats=self.stats(tensor))

    @staticmethod
    def layer_distances(stats: ImageStats, style: ImageStats) -> list[float]:
        """Per style layer, ‖G(x) − G(style)‖² / ‖G(style)‖²."""
        return [distance.item() for distance in style_distances(stats.grams, style.grams, STYLE_LAYERS)]

    @classmethod
    def style_distance(cls, stats: ImageStats, style: ImageStats) -> float:
        """SD(x): mean over the style layers of ‖G(x) − G(style)‖² / ‖G(style)‖²."""
        return float(np.mean(cls.layer_distances(stats, style)))  # averaged in float64, as the metric always was

    @staticmethod
    def content_distance(output: ImageStats, photo: ImageStats) -> float:
        """‖F(output) − F(photo)‖² / ‖F(photo)‖² at relu4_2."""
        return float(relative_distance(output.content, photo.content).item())

    def score_stats(self, photo: EvalPhoto, output: ImageStats, style: ImageStats) -> PairScore:
        """The metric for one photo and its output, both already reduced to statistics."""
        by_layer_output = self.layer_distances(output, style)
        by_layer_photo = self.layer_distances(photo.stats, style)
        sd_output, sd_photo = float(np.mean(by_layer_output)), float(np.mean(by_layer_photo))
        return PairScore(
            photo=photo.name,
            style_ratio=_ratio(sd_output, sd_photo),
            content_distance=self.content_distance(output, photo.stats),
            style_distance_output=sd_output,
            style_distance_photo=sd_photo,
            layer_ratios={
                layer: _ratio(out, ref) for layer, out, ref in zip(STYLE_LAYERS, by_layer_output, by_layer_photo)
            },
        )

    def score(self, photo: ImageLike, output: ImageLike, style_image: ImageLike) -> PairScore:
        """Score one output of any tool: images as paths, PIL images or uint8 RGB arrays.

        The output is resized to exactly the resized photo's size, so that content features align.
        """
        prepared = self.prepare_photo(photo, name=str(photo) if isinstance(photo, (str, Path)) else "photo")
        size = (prepared.image.shape[-1], prepared.image.shape[-2])
        return self.score_stats(prepared, self.image_stats(output, size), self.image_stats(style_image))


def _ratio(output: float, photo: float) -> float:
    """A distance of the output over the photo's: 1 when both are 0 (nothing to move), inf when only the photo's is."""
    return output / photo if photo > 0 else (1.0 if output == 0 else float("inf"))


@torch.no_grad()
def stylize_for_eval(net: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor) -> torch.Tensor:
    """Run a transform net (or a backend's net, see :func:`backend_net`) on an RGB [0, 1] image and clamp."""
    if isinstance(net, torch.nn.Module):
        parameter = next(net.parameters())
        out = net.eval()(image.to(parameter.device, parameter.dtype))
    else:
        out = net(image.cpu())
    out = out.float().clamp(0.0, 1.0)
    # Quantize to 8 bits like any output written to disk, so that figures match scoring the saved files.
    return out.mul(255.0).round().div(255.0)


def backend_net(model: StyleModel, backend: str, precision: str = "fp32") -> Callable[[torch.Tensor], torch.Tensor]:
    """``model``'s net as a CPU backend runs it, in ``precision`` (float32 unless asked otherwise)."""
    from realtime_style.runtime.engine import Engine, EngineOptions

    engine = Engine(model, EngineOptions(device="cpu", precision=precision, backend=backend))
    return lambda images: engine.run_tensor(images.to(engine.frame_dtype))


def evaluate_model(
    model: StyleModel,
    photos: Sequence[EvalPhoto],
    style_image: ImageLike,
    metric: StyleMetric,
    progress: Callable[[int, int], None] | None = None,
    backend: str = "torch",
    precision: str = "fp32",
) -> StyleScore:
    """Stylize every prepared photo with ``model`` and return mean and worst of the metric.

    ``backend`` torch in ``precision`` fp32 runs the net as trained, in float32 on the metric's device (the
    reference figures); another backend or precision (``openvino``, ``auto``; ``bf16``, ``int8``) scores the CPU
    engine's output as it would run in rtstyle instead.
    """
    style = metric.image_stats(style_image)
    as_trained = backend == "torch" and precision == "fp32"
    net = model.net.to(metric.device, torch.float32) if as_trained else backend_net(model, backend, precision)
    pairs: list[PairScore] = []
    for index, photo in enumerate(photos):
        output = stylize_for_eval(net, photo.image).to(metric.device)
        pairs.append(metric.score_stats(photo, metric.stats(output), style))
        if progress:
            progress(index + 1, len(photos))
    style_name = str(style_image) if isinstance(style_image, (str, Path)) else "style image"
    return StyleScore.from_pairs(model.name, Path(style_name).name, pairs, str(model.path) if model.path else None)


def prepare_photos(
    paths: Sequence[Path], metric: StyleMetric, progress: Callable[[int, int], None] | None = None
) -> list[EvalPhoto]:
    """Load, resize and compute the statistics of each photo (once, for all styles)."""
    prepared = []
    for path in paths:
        prepared.append(metric.prepare_photo(load_rgb(path), name=path.name))
        if progress:
            progress(len(prepared), len(paths))
    return prepared


def select_photos(folder: str | Path, count: int = DEFAULT_PHOTO_COUNT, pattern: str = "*") -> list[Path]:
    """``count`` photos spread evenly over the sorted image files under ``folder`` (recursive).

    Deterministic: the same folder always gives the same photos. Fewer files than ``count`` gives them all.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"photo folder not found: {folder}")
    if count < 1:
        raise InputError(f"the photo count must be at least 1, got {count}")
    files = sorted(p for p in folder.rglob(pattern) if p.is_file() and is_image_file(p))
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) matching {pattern!r} under {folder}")
    return spread_evenly(files, count)


T = TypeVar("T")


def spread_evenly(items: Sequence[T], count: int | None) -> list[T]:
    """``count`` items spread evenly over ``items``, first one included (all of them if ``count`` is None or larger)."""
    if count is None or count >= len(items):
        return list(items)
    return [items[(index * len(items)) // count] for index in range(count)]


def default_photos(count: int = DEFAULT_PHOTO_COUNT) -> list[Path]:
    """The default evaluation photos: spread over ``$RTSTYLE_DATA/content/bsds500/val_*`` (held out by training)."""
    data = data_dir()
    folder = data / "content" / "bsds500" if data is not None else None
    if folder is None or not folder.is_dir():
        where = f"{DATA_ENV} names no folder with content/bsds500/" if data is not None else f"{DATA_ENV} is unset"
        raise InputError(
            "eval styles needs photos to stylize: pass --photos DIR, a folder of your own photos, "
            f"or set {DATA_ENV} to the project's data folder ({where})"
        )
    return select_photos(folder, count, DEFAULT_PHOTO_PATTERN)


def resolve_style_image(
    info: ModelInfo,
    style_image: str | Path | None = None,
    styles_dir: str | Path | None = None,
    model_path: str | Path | None = None,
) -> Path:
    """The style image a model was trained on: ``style_image`` if given, else found by
    :func:`~realtime_style.models.style_images.find_style_image` (``styles_dir``, beside the model,
    where training read it, ``$RTSTYLE_DATA/styles``, the shipped copies)."""
    if style_image is not None:
        return existing_image_file(style_image, "style image")
    return find_style_image(info, model_path, styles_dir)


def evaluate_styles(
    styles: Sequence[str | Path],
    photos: Sequence[Path] | None = None,
    style_image: str | Path | None = None,
    styles_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    progress: Callable[[str, int, int], None] | None = None,
    metric: StyleMetric | None = None,
    backend: str = "torch",
    precision: str = "fp32",
) -> list[StyleScore]:
    """Measure each style (a shipped name or a model file) on ``photos`` (default: :func:`default_photos`).

    ``style_image`` measures every style against that painting (candidates of one style side by side); without
    it, each model is measured against the painting it names.

    The entry point for Python callers, e.g. training reporting a model's quality::

        evaluate_styles(["trained_models/mosaic.safetensors"])[0].mean_style_ratio
    """
    models = [load_model(style) for style in styles]
    style_images = [resolve_style_image(m.info, style_image, styles_dir, m.path) for m in models]
    metric = metric or StyleMetric(device)
    report = (lambda done, total: progress("photos", done, total)) if progress else None
    prepared = prepare_photos(list(photos) if photos is not None else default_photos(), metric, report)
    scores = []
    for model, image in zip(models, style_images):
        report = (lambda done, total, name=model.name: progress(name, done, total)) if progress else None
        scores.append(evaluate_model(model, prepared, image, metric, report, backend, precision))
    return scores


__all__ = [
    "EVAL_LONG_SIDE",
    "EvalPhoto",
    "ImageStats",
    "PairScore",
    "StyleMetric",
    "StyleScore",
    "default_photos",
    "eval_size",
    "evaluate_model",
    "evaluate_styles",
    "prepare_photos",
    "resize_for_eval",
    "resolve_style_image",
    "select_photos",
    "spread_evenly",
    "stylize_for_eval",
]
