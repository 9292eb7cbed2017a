"""The style metric of issue 4: a hand computation, identity and style-image limits, photo selection."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from realtime_style.errors import InputError
from realtime_style.losses import CONTENT_LAYER, STYLE_LAYERS
from realtime_style.metrics.style import (
    EVAL_LONG_SIDE,
    StyleMetric,
    default_photos,
    eval_size,
    evaluate_model,
    prepare_photos,
    resolve_style_image,
    select_photos,
    stylize_for_eval,
)
from realtime_style.models.store import ModelInfo, load_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet


def scaled_features(image: torch.Tensor) -> dict[str, torch.Tensor]:
    """A stand-in for VGG: style layer k is (k + 1)·x, the content layer is x² (C = 3, full size)."""
    out = {layer: image * (k + 1) for k, layer in enumerate(STYLE_LAYERS)}
    out[CONTENT_LAYER] = image**2
    return out


def hand_gram(array: np.ndarray) -> np.ndarray:
    """G = F Fᵀ / (C·H·W) in float64 from an (H, W, C) array."""
    h, w, c = array.shape
    flat = array.reshape(h * w, c).T
    return flat @ flat.T / (c * h * w)


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a - b) ** 2).sum() / (b**2).sum())


def random_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_metric_matches_a_hand_computation_across_image_sizes() -> None:
    """Photo 2x4 and style 4x3 differ in H·W: the 1/(C·H·W) normalization must make their Grams comparable."""
    rng = np.random.default_rng(0)
    photo, output, style = random_image(rng, 2, 4), random_image(rng, 2, 4), random_image(rng, 4, 3)
    metric = StyleMetric(extractor=scaled_features, long_side=4)  # images already have long side 4: no resize
    score = metric.score(photo, output, style)

    def sd(image: np.ndarray) -> float:
        x, s = image / 255.0, style / 255.0
        return float(np.mean([rel(hand_gram(x * (k + 1)), hand_gram(s * (k + 1))) for k in range(5)]))

    assert score.style_distance_output == pytest.approx(sd(output), rel=1e-5)
    assert score.style_distance_photo == pytest.approx(sd(photo), rel=1e-5)
    assert score.style_ratio == pytest.approx(sd(output) / sd(photo), rel=1e-5)
    assert list(score.layer_ratios) == list(STYLE_LAYERS)
    # this extractor scales every layer alike, so each layer's ratio is the overall one
    assert list(score.layer_ratios.values()) == pytest.approx([sd(output) / sd(photo)] * 5, rel=1e-5)
    content = rel((output / 255.0) ** 2, (photo / 255.0) ** 2)
    assert score.content_distance == pytest.approx(content, rel=1e-5)


def test_gram_normalization_makes_a_tiled_style_image_identical() -> None:
    """An image tiled 2x2 has the same Gram under F Fᵀ/(C·H·W): SD of the tile against the tiled image is 0."""
    rng = np.random.default_rng(1)
    tile = random_image(rng, 3, 4)
    metric = StyleMetric(extractor=scaled_features, long_side=8)
    tiled = metric.image_stats(np.tile(tile, (2, 2, 1)))
    single = metric.image_stats(tile, size=(4, 3))
    assert metric.style_distance(single, tiled) == pytest.approx(0.0, abs=1e-10)


def test_an_image_file_is_measured_once_until_it_changes(tmp_path) -> None:
    """A painting that several models are measured against goes through VGG once (it was once per model)."""
    calls = []
    metric = StyleMetric(extractor=lambda image: calls.append(1) or scaled_features(image), long_side=8)
    path = tmp_path / "painting.png"
    Image.fromarray(random_image(np.random.default_rng(3), 6, 8)).save(path)
    first = metric.image_stats(path)
    assert metric.image_stats(str(path)) is first and len(calls) == 1
    Image.fromarray(random_image(np.random.default_rng(4), 6, 8)).save(path)
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1))
    assert metric.image_stats(path) is not first and len(calls) == 2
    metric.image_stats(path, size=(4, 3))  # another size is not the file's own statistics: computed
    assert len(calls) == 3


@pytest.fixture(scope="module")
def vgg_metric() -> StyleMetric:
    """The real VGG19 metric at a long side of 64 px (fast; figures differ from the 512-px metric)."""
    return StyleMetric(long_side=64)


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:48, 0:64]
    photo = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    stripes = np.where((xx // 4 + yy // 4) % 2 == 0, 230, 20)
    style = np.stack([stripes, 255 - stripes, rng.integers(0, 256, stripes.shape)], axis=-1).astype(np.uint8)
    return {"photo": photo, "style": style}


def test_identity_output_has_ratio_one_and_no_content_distance(vgg_metric, images) -> None:
    score = vgg_metric.score(images["photo"], images["photo"], images["style"])
    assert score.style_ratio == pytest.approx(1.0, abs=1e-6)
    assert list(score.layer_ratios.values()) == pytest.approx([1.0] * len(STYLE_LAYERS), abs=1e-6)
    assert score.content_distance == pytest.approx(0.0, abs=1e-9)
    assert score.style_distance_photo > 0.05


def test_style_image_as_output_has_zero_style_distance(vgg_metric, images) -> None:
    style = vgg_metric.image_stats(images["style"])
    as_output = vgg_metric.image_stats(images["style"])
    assert vgg_metric.style_distance(as_output, style) == pytest.approx(0.0, abs=1e-9)
    other = vgg_metric.score(images["photo"], images["style"], images["style"])
    assert other.style_ratio < 0.5 and other.content_distance > 0.1
    assert max(other.layer_ratios.values()) < 1.0  # the style image itself is nearer the style at every layer


def test_default_long_side_is_512() -> None:
    assert EVAL_LONG_SIDE == 512
    assert eval_size(481, 321) == (512, 342)
    assert eval_size(321, 481) == (342, 512)
    assert eval_size(1024, 1024) == (512, 512)


def test_evaluate_model_reports_mean_and_worst(vgg_metric, images, random_model_file, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    paths = []
    for index in range(3):
        path = tmp_path / f"photo{index}.png"
        Image.fromarray(random_image(rng, 40, 56)).save(path)
        paths.append(path)
    photos = prepare_photos(paths, vgg_metric)
    score = evaluate_model(load_model(random_model_file), photos, images["style"], vgg_metric)
    ratios = [p.style_ratio for p in score.per_photo]
    distances = [p.content_distance for p in score.per_photo]
    assert score.photos == 3 and [p.photo for p in score.per_photo] == ["photo0.png", "photo1.png", "photo2.png"]
    assert score.mean_style_ratio == pytest.approx(np.mean(ratios))
    for layer in STYLE_LAYERS:
        assert score.mean_layer_ratios[layer] == pytest.approx(np.mean([p.layer_ratios[layer] for p in score.per_photo]))
    assert score.worst_style_ratio == max(ratios) and score.worst_content_distance == max(distances)
    assert score.worst_style_ratio_photo == paths[int(np.argmax(ratios))].name
    assert all(np.isfinite(ratios)) and min(distances) > 0
    assert "per_photo" not in score.to_dict() and len(score.to_dict(per_photo=True)["per_photo"]) == 3


def test_select_photos_is_deterministic_and_spread(tmp_path: Path) -> None:
    for index in range(10):
        (tmp_path / "sub").mkdir(exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / "sub" / f"val_{index:02d}.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    chosen = select_photos(tmp_path, 4)
    assert [p.name for p in chosen] == ["val_00.jpg", "val_02.jpg", "val_05.jpg", "val_07.jpg"]
    assert select_photos(tmp_path, 4) == chosen
    assert len(select_photos(tmp_path, 50)) == 10
    with pytest.raises(InputError, match="no images"):
        select_photos(tmp_path, 4, pattern="train_*")
    with pytest.raises(InputError, match="not found"):
        select_photos(tmp_path / "absent", 4)


def test_default_photos_are_32_held_out_bsds500_photos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From the data folder ``$RTSTYLE_DATA`` names (here a made-up one): 32 of its ``bsds500/val_*``, no others."""
    from realtime_style.models.style_images import DATA_ENV

    folder = tmp_path / "content" / "bsds500"
    folder.mkdir(parents=True)
    for name in [f"val_{i:03d}.jpg" for i in range(100)] + [f"train_{i:03d}.jpg" for i in range(50)]:
        (folder / name).write_bytes(b"")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    photos = default_photos()
    assert len(photos) == len(set(photos)) == 32
    assert all(p.parent == folder and p.name.startswith("val_") for p in photos)


def test_resolve_style_image(tmp_path: Path) -> None:
    info = ModelInfo(style="mosaic", style_image="mosaic.jpg")
    (tmp_path / "mosaic.jpg").write_bytes(b"x")
    assert resolve_style_image(info, styles_dir=tmp_path) == tmp_path / "mosaic.jpg"
    assert resolve_style_image(info, style_image=tmp_path / "mosaic.jpg") == tmp_path / "mosaic.jpg"
    with pytest.raises(InputError, match="--style-image PATH or --styles-dir DIR"):
        resolve_style_image(info, styles_dir=tmp_path / "empty")
    with pytest.raises(InputError, match="names no style image"):
        resolve_style_image(ModelInfo(style="x"), styles_dir=tmp_path)
    with pytest.raises(InputError, match="style image not found"):
        resolve_style_image(info, style_image=tmp_path / "nope.jpg")


def test_evaluate_model_scores_the_openvino_backend_like_torch(vgg_metric, images, random_model_file, tmp_path: Path) -> None:
    from realtime_style.runtime.backends.openvino_net import openvino_status

    if openvino_status() is not None:
        pytest.skip(str(openvino_status()))
    path = tmp_path / "photo.png"
    Image.fromarray(random_image(np.random.default_rng(4), 40, 56)).save(path)
    photos = prepare_photos([path], vgg_metric)
    model = load_model(random_model_file)
    torch_score = evaluate_model(model, photos, images["style"], vgg_metric)
    openvino_score = evaluate_model(model, photos, images["style"], vgg_metric, backend="openvino")
    assert openvino_score.mean_style_ratio == pytest.approx(torch_score.mean_style_ratio, rel=0.02)
    assert openvino_score.mean_content_distance == pytest.approx(torch_score.mean_content_distance, rel=0.02)


def test_evaluate_model_in_another_precision_scores_the_engine_in_it(vgg_metric, images, random_model_file, tmp_path: Path, monkeypatch) -> None:
    """``rtstyle eval styles --precision bf16`` (or int8) scores what the CPU engine makes in that precision."""
    from realtime_style.metrics import style as style_module

    asked = []
    real_backend_net = style_module.backend_net
    monkeypatch.setattr(style_module, "backend_net", lambda model, backend, precision: asked.append((backend, precision)) or real_backend_net(model, backend, precision))
    path = tmp_path / "photo.png"
    Image.fromarray(random_image(np.random.default_rng(5), 40, 56)).save(path)
    photos = prepare_photos([path], vgg_metric)
    model = load_model(random_model_file)
    fp32 = evaluate_model(model, photos, images["style"], vgg_metric)
    assert asked == []  # torch in fp32: the net as trained, on the metric's device
    bf16 = evaluate_model(model, photos, images["style"], vgg_metric, backend="torch", precision="bf16")
    assert asked == [("torch", "bf16")]
    assert bf16.mean_style_ratio == pytest.approx(fp32.mean_style_ratio, rel=0.05)


def test_stylizing_for_the_metric_records_no_autograd_graph() -> None:
    """Scoring may run a net being trained (its weights require grad) on 32 photos at 512 px: no graph is kept."""
    net = TransformerNet(ARCHITECTURES["light"])
    assert next(net.parameters()).requires_grad
    out = stylize_for_eval(net, torch.rand(1, 3, 24, 32))
    assert not out.requires_grad and out.grad_fn is None
    assert torch.equal(out, (out * 255).round() / 255) and 0 <= out.min() and out.max() <= 1  # 8-bit levels
