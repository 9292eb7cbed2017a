"""TransformerNet sizes and shapes, model files (round trip, corrupt and hostile files), VGG19 features."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from realtime_style.errors import ModelError, StyleNotFoundError
from realtime_style.losses import gram_matrix
from realtime_style.models.store import ModelInfo, distinct_labels, load_model, read_info, resolve_style, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from realtime_style.models.vgg import LAYER_NAMES, WEIGHTS_ENV, VGG19Features, caffe_preprocess, default_weights_path, trim_weights


@pytest.mark.parametrize("arch", ["standard", "light"])
@pytest.mark.parametrize("size", [(338, 640), (17, 23), (64, 64), (1, 1), (2, 2), (3, 3), (4, 4), (1, 200), (7, 5)])
def test_any_size_comes_out_the_same_size(arch: str, size: tuple[int, int]) -> None:
    net = TransformerNet(ARCHITECTURES[arch]).eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, *size))
    assert out.shape == (1, 3, *size)


def test_light_is_much_smaller_than_standard() -> None:
    count = lambda arch: sum(p.numel() for p in TransformerNet(ARCHITECTURES[arch]).parameters())  # noqa: E731
    assert count("light") * 4 < count("standard")


def test_no_transposed_convolutions() -> None:
    net = TransformerNet()
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in net.modules())


def test_half_precision_instance_norm_matches_fp32() -> None:
    """Large activations overflow fp16 variance unless statistics are taken in fp32."""
    torch.manual_seed(0)
    net = TransformerNet(ARCHITECTURES["light"]).eval()
    x = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        reference = net(x)
        low = net.to(torch.bfloat16)(x.to(torch.bfloat16)).float()
    assert torch.allclose(low, reference, atol=0.08), (low - reference).abs().max()
    assert (low - reference).abs().mean() < 0.01


def test_model_file_round_trip(random_model_file: Path) -> None:
    model = load_model(random_model_file)
    assert model.info.arch == "light" and model.info.style == "random"
    assert read_info(random_model_file).config == ARCHITECTURES["light"]
    torch.manual_seed(0)
    expected = TransformerNet(ARCHITECTURES["light"]).state_dict()
    for key, value in model.net.state_dict().items():  # stored as float16, loaded as float32
        assert value.dtype == torch.float32 and torch.equal(value, expected[key].half().float())


def stored_dtypes(path: Path) -> set[torch.dtype]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return {handle.get_tensor(key).dtype for key in handle.keys()}


def test_model_files_store_float16_unless_a_weight_does_not_fit(tmp_path: Path) -> None:
    info = ModelInfo(style="x", arch="light", config=ARCHITECTURES["light"])
    net = TransformerNet(ARCHITECTURES["light"])
    assert stored_dtypes(save_model(tmp_path / "half.safetensors", net, info)) == {torch.float16}
    assert stored_dtypes(save_model(tmp_path / "full.safetensors", net, info, dtype=torch.float32)) == {torch.float32}
    key = "encoder.0.0.1.bias"
    with torch.no_grad():
        net.state_dict()[key][0] = 1e6  # beyond float16's 65504
    path = save_model(tmp_path / "big.safetensors", net, info)
    assert stored_dtypes(path) == {torch.float32}
    assert load_model(path).net.state_dict()[key][0].item() == 1e6


def test_export_rewrites_a_model_file_and_records_its_source(tmp_path: Path, capsys) -> None:
    from realtime_style.cli import main as rtstyle
    from realtime_style.training.provenance import sha256_file

    info = ModelInfo(style="old", arch="light", config=ARCHITECTURES["light"], training={"wall_time_s": 5.0})
    old = save_model(tmp_path / "old.light.safetensors", TransformerNet(ARCHITECTURES["light"]), info, dtype=torch.float32)
    assert rtstyle(["export", str(old), "--out", str(tmp_path / "new.light.safetensors")]) == 0
    new = tmp_path / "new.light.safetensors"
    assert "wrote" in capsys.readouterr().out and stored_dtypes(new) == {torch.float16}
    assert new.stat().st_size < 0.6 * old.stat().st_size
    facts = read_info(new).training
    assert facts["wall_time_s"] == 5.0 and facts["rewritten_from_sha256"] == [sha256_file(old)]
    image = torch.rand(1, 3, 24, 32)
    with torch.no_grad():
        torch.testing.assert_close(load_model(new).net(image), load_model(old).net(image), atol=2e-3, rtol=0)


def test_truncated_model_file_is_a_clear_error(random_model_file: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(random_model_file.read_bytes()[:5000])
    with pytest.raises(ModelError, match="not a readable rtstyle model file"):
        load_model(broken)


def test_pickle_posing_as_model_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (marker,))

    hostile = tmp_path / "hostile.safetensors"
    hostile.write_bytes(pickle.dumps({"weights": Exploit()}))
    with pytest.raises(ModelError):
        load_model(hostile)
    assert not marker.exists()


def test_mismatched_architecture_is_a_clear_error(tmp_path: Path) -> None:
    info = ModelInfo(style="x", arch="standard", config=ARCHITECTURES["standard"])
    path = save_model(tmp_path / "x.safetensors", TransformerNet(ARCHITECTURES["light"]), info)
    with pytest.raises(ModelError, match="do not match"):
        load_model(path)


def test_unknown_style_names_the_shipped_ones() -> None:
    with pytest.raises(StyleNotFoundError, match="unknown style 'no_such_style'"):
        resolve_style("no_such_style")


def test_vgg_layers_are_named_and_truncated() -> None:
    assert LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    vgg = VGG19Features(["relu2_1"])
    assert list(vgg.body)[-1] == "relu2_1"
    out = vgg(torch.rand(1, 3, 32, 32))
    assert out["relu2_1"].shape == (1, 128, 16, 16)


def test_a_trimmed_weight_file_named_by_the_environment_serves_the_layers_it_holds(tmp_path, monkeypatch) -> None:
    full = default_weights_path()
    trimmed = trim_weights(full, tmp_path / "vgg_to_relu2_1.bin", "relu2_1")
    assert trimmed.stat().st_size < full.stat().st_size / 50
    monkeypatch.setenv(WEIGHTS_ENV, str(trimmed))
    assert default_weights_path() == trimmed
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(VGG19Features(["relu2_1"])(x)["relu2_1"], VGG19Features(["relu2_1"], weights_path=str(full))(x)["relu2_1"])
    with pytest.raises(ModelError, match="stops before conv2_2"):
        VGG19Features(["relu2_2"])
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "missing.bin"))
    with pytest.raises(ModelError, match="names a missing file"):
        default_weights_path()


def test_caffe_preprocessing_is_bgr_255_mean_subtracted() -> None:
    x = torch.zeros(1, 3, 1, 1)
    x[0, 0] = 1.0  # pure red
    y = caffe_preprocess(x).flatten().tolist()
    assert y == pytest.approx([-103.939, -116.779, 255 - 123.68])


def _load(path: Path, size: int = 128, box: tuple[float, float, float, float] | None = None) -> torch.Tensor:
    image = Image.open(path).convert("RGB")
    if box:
        w, h = image.size
        image = image.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)))
    image = image.resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255


def test_vgg_features_are_real(tmp_path: Path) -> None:
    """Two crops of one painting have close Gram matrices; the painting and a picture of a landscape do not."""
    from realtime_style.scenery import generate_scene
    from realtime_style.models.style_images import shipped_style_images_dir

    vgg = VGG19Features(["relu2_1", "relu3_1", "relu4_1"])
    painting = shipped_style_images_dir() / "starry_night.jpg"
    photo = tmp_path / "landscape.png"
    Image.fromarray(generate_scene(256, 192)).save(photo)
    left = vgg(_load(painting, box=(0.0, 0.0, 0.55, 1.0)))
    right = vgg(_load(painting, box=(0.45, 0.0, 1.0, 1.0)))
    other = vgg(_load(photo))

    def distance(a: dict, b: dict) -> float:
        return sum(float(((gram_matrix(a[k]) - gram_matrix(b[k])) ** 2).sum() / (gram_matrix(b[k]) ** 2).sum()) for k in a)

    assert distance(left, right) * 3 < distance(other, right)


def test_atomic_writes_give_ordinary_file_permissions(tmp_path: Path) -> None:
    """Atomic saves go through a private temp file; the result must still be readable by others (umask)."""
    import os
    import stat

    from realtime_style.atomic_file import write_atomically

    old = os.umask(0o022)
    try:
        fresh = write_atomically(tmp_path / "fresh.bin", b"x")
        kept = tmp_path / "kept.bin"
        kept.write_bytes(b"old")
        kept.chmod(0o640)
        write_atomically(kept, b"new")
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_bytes() == b"new"


def test_model_files_that_share_a_name_are_labelled_by_their_folder(tmp_path) -> None:
    for folder in ("run-a", "run-b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "mosaic.safetensors").write_bytes(b"")
    specs = ["mosaic", str(tmp_path / "run-a" / "mosaic.safetensors"), str(tmp_path / "run-b" / "mosaic.safetensors")]
    assert distinct_labels(specs, ["mosaic"] * 3) == ["mosaic", "run-a/mosaic", "run-b/mosaic"]
    assert distinct_labels(["mosaic", "candy"], ["mosaic", "candy"]) == ["mosaic", "candy"]
