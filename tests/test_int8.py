"""``--precision int8``: OpenVINO + NNCF on the CPU, close to f32 on real photos, refused clearly elsewhere.

Accuracy guard (shipped mosaic nets, two held-out photos at 320 px, int8 against OpenVINO f32, 8-bit levels): the
standard net within a mean of 8 levels and 2 levels of brightness, the light net within 20 and 8 (measured on AMD
EPYC Zen 4: standard mean 5.3, brightness +0.4 / +0.8; light mean 11.1 / 10.2, brightness -6.2 / -1.1: the thin
light net quantizes worse, its statues came out darker). The quantization must also have happened: a mean
under half a level would be f32 under another name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from media_helpers import single_thread  # noqa: F401  (fixture)
from PIL import Image

import realtime_style.runtime.engine as engine_module
from realtime_style.errors import DeviceError, UsageError
from realtime_style.models.store import load_model
from realtime_style.runtime.backends import openvino_net
from realtime_style.runtime.backends.int8 import calibration_batches, nncf_status
from realtime_style.runtime.engine import Engine, EngineOptions, select_backend, select_precision

pytestmark = pytest.mark.usefixtures("single_thread")

needs_int8 = pytest.mark.skipif(
    openvino_net.openvino_status() is not None or nncf_status() is not None,
    reason=str(openvino_net.openvino_status() or nncf_status()),
)
#: arch -> the largest mean difference from f32 int8 may show (8-bit levels).
MEAN_LEVELS = {"standard": 8.0, "light": 20.0}
#: arch -> the largest change of the mean brightness int8 may show (8-bit levels).
BRIGHTNESS_SHIFT = {"standard": 2.0, "light": 8.0}


@needs_int8
@pytest.mark.parametrize("arch", ["standard", "light"])
def test_int8_stays_close_to_f32_on_real_photos(shared_data: Path, arch: str) -> None:
    from realtime_style.metrics.style import DEFAULT_PHOTO_PATTERN, select_photos

    model = load_model("mosaic", None if arch == "standard" else "light")
    f32 = Engine(model, EngineOptions(device="cpu", backend="openvino", precision="fp32"))
    int8 = Engine(model, EngineOptions(device="cpu", backend="openvino", precision="int8"))
    for path in select_photos(shared_data / "content" / "bsds500", 2, DEFAULT_PHOTO_PATTERN):
        image = Image.open(path).convert("RGB")
        image.thumbnail((320, 320))
        photo = np.asarray(image)
        height, width = photo.shape[:2]
        assert int8.calibrates_int8(width, height) and not f32.calibrates_int8(width, height)
        reference, quantized = f32.stylize(photo).astype(np.int16), int8.stylize(photo).astype(np.int16)
        assert not int8.calibrates_int8(width, height)  # once per size
        mean = float(np.abs(quantized - reference).mean())
        shift = float(quantized.mean() - reference.mean())
        assert 0.5 < mean <= MEAN_LEVELS[arch], f"{path.name}: mean {mean:.2f} levels"
        assert abs(shift) <= BRIGHTNESS_SHIFT[arch], f"{path.name}: brightness {shift:+.2f} levels"
    assert int8.describe().count("int8") == 1 and "openvino int8" in int8.describe()


def test_calibration_batches_fill_the_shape_with_the_same_scenes_each_time() -> None:
    batches = calibration_batches((3, 3, 40, 56), count=4)
    assert len(batches) == 4 and all(b.shape == (3, 3, 40, 56) and b.dtype == np.float32 for b in batches)
    assert 0.0 <= min(b.min() for b in batches) and max(b.max() for b in batches) <= 1.0
    assert not np.array_equal(batches[0][0], batches[0][1])  # a batch holds different scenes
    again = calibration_batches((3, 3, 40, 56), count=4)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


def test_int8_is_openvino_on_the_cpu_or_a_clear_refusal(monkeypatch) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    with pytest.raises(DeviceError, match="int8 runs on the CPU"):
        select_precision(cuda, "int8")
    assert select_precision(cpu, "int8") == select_precision(cpu, "auto")  # the torch copy's dtype
    with pytest.raises(UsageError, match="--backend torch"):
        select_backend(cpu, "torch", precision="int8")
    with pytest.raises(UsageError, match="--compile"):
        select_backend(cpu, "auto", compile=True, precision="int8")
    monkeypatch.setattr(engine_module, "openvino_status", lambda: None)
    monkeypatch.setattr(engine_module, "nncf_status", lambda: "--precision int8 needs NNCF (ImportError): pip install 'rtstyle[int8]'")
    with pytest.raises(DeviceError, match=r"pip install 'rtstyle\[int8\]'"):
        select_backend(cpu, "auto", precision="int8")
    monkeypatch.setattr(engine_module, "nncf_status", lambda: None)
    assert select_backend(cpu, "auto", precision="int8") == "openvino"  # no probe: int8 is OpenVINO's


def test_int8_with_the_torch_backend_is_one_line_and_exit_2(tmp_path: Path, random_model_file: Path, capsys) -> None:
    from realtime_style.cli import main

    photo = tmp_path / "in.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(photo)
    code = main(["still", "--style", str(random_model_file), str(photo), str(tmp_path / "out.png"),
                 "--precision", "int8", "--backend", "torch"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "int8" in err[0] and "--backend torch" in err[0]


@needs_int8
def test_live_int8_answers_with_torch_while_a_new_size_calibrates(tmp_path: Path, monkeypatch) -> None:
    """A live session must not stop for the seconds a size's calibration takes: torch bridges them."""
    from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
    from realtime_style.runtime.backends.auto import AutoNet

    monkeypatch.setenv("RTSTYLE_CACHE_DIR", str(tmp_path))  # no remembered backend choices or int8 models
    torch.manual_seed(0)
    net = TransformerNet(ARCHITECTURES["light"]).eval()
    engine = Engine(net, EngineOptions(device="cpu", precision="int8", compile_in_background=True))
    assert isinstance(engine.runner, AutoNet)
    frame = np.random.default_rng(0).integers(0, 256, (128, 160, 3), dtype=np.uint8)
    first = engine.stylize(frame)  # at once, on torch
    assert engine.compiling or engine.runner.chosen
    engine.runner.wait_for_compiles(60)
    later = engine.stylize(frame)
    assert "openvino int8" in engine.describe()
    assert first.shape == later.shape == frame.shape
    assert not np.array_equal(first, later)  # torch's bf16/fp32 frame, then int8's


@needs_int8
def test_quantizing_on_two_threads_prints_nothing(capfd) -> None:
    """NNCF writes tables and progress bars to stdout; live workers quantize on side threads, maybe at once."""
    import threading

    from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
    from realtime_style.runtime.backends.openvino_net import OpenVINONet

    torch.manual_seed(0)
    nets = [OpenVINONet(TransformerNet(ARCHITECTURES["light"]).eval(), threads=1, precision="int8") for _ in range(2)]
    threads = [threading.Thread(target=net.compile, args=((1, 3, 48, 64),)) for net in nets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(net.is_compiled((1, 3, 48, 64)) for net in nets)
    out, err = capfd.readouterr()
    assert out == "" and "Statistics" not in err


@needs_int8
@pytest.mark.filterwarnings("ignore")  # the ONNX exporter's tracer warnings (OpenVINONet.compile silences them too)
def test_a_quantized_model_is_kept_on_disk_and_read_back(tmp_path: Path, monkeypatch) -> None:
    """The second run at a size (or the second live worker) reads the int8 model instead of calibrating again."""
    import nncf

    from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
    from realtime_style.runtime.backends import int8 as int8_module
    from realtime_style.runtime.backends.openvino_net import OpenVINONet, shared_core

    calibrations = []
    real_quantize = nncf.quantize
    monkeypatch.setattr(nncf, "quantize", lambda *args, **kwargs: calibrations.append(1) or real_quantize(*args, **kwargs))
    torch.manual_seed(0)
    net = OpenVINONet(TransformerNet(ARCHITECTURES["light"]).eval(), threads=1)
    shape, other = (1, 3, 40, 56), (1, 3, 48, 64)

    def run(model, seed=0):
        x = np.random.default_rng(seed).random(model.inputs[0].get_shape(), dtype=np.float32)
        return shared_core().compile_model(model, "CPU").create_infer_request().infer({0: x})[0]

    first = int8_module.quantize(net.convert(torch.zeros(shape)), shape, tmp_path)
    again = int8_module.quantize(net.convert(torch.zeros(shape)), shape, tmp_path)  # a fresh conversion, same net
    assert len(calibrations) == 1 and np.array_equal(run(first), run(again))
    assert len(list(tmp_path.glob("*.xml"))) == 1 and len(list(tmp_path.glob("*.bin"))) == 1

    (xml,) = tmp_path.glob("*.xml")
    xml.write_text("damaged")
    int8_module.quantize(net.convert(torch.zeros(shape)), shape, tmp_path)  # damaged: calibrates again, rewrites
    assert len(calibrations) == 2 and int8_module._read_cached(xml) is not None

    monkeypatch.setattr(int8_module, "MAX_CACHED", 1)
    int8_module.quantize(net.convert(torch.zeros(other)), other, tmp_path)  # another size: another entry, the oldest goes
    assert len(calibrations) == 3 and len(list(tmp_path.glob("*.xml"))) == 1 and len(list(tmp_path.glob("*.bin"))) == 1

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert int8_module.quantize(net.convert(torch.zeros(shape)), shape, blocked / "int8") is not None  # unwritable: still int8
