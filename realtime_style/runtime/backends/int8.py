"""``--precision int8``: OpenVINO's model of the net quantized by NNCF, calibrated on generated scenes.

Post-training quantization (NNCF's MIXED preset: symmetric int8 weights per channel, asymmetric int8
activations) of each input shape's model, as :class:`~.openvino_net.OpenVINONet` compiles it. The
calibration frames are the demo's generated landscapes (:mod:`realtime_style.scenery`) at that shape:
always there, no photo needed, and the same every time, so one net and shape always give one int8
model. Measured against calibration on 16 real photos (AMD EPYC Zen 4, mosaic nets, 360x640, six
held-out photos): the generated scenes differ from the f32 output as little (standard mean 5.5 vs 5.7
levels, light 16.5 vs 14.5); the InstanceNorms after each convolution keep activation ranges nearly
independent of the picture.

It pays where the CPU has int8 dot products (AVX512-VNNI, AVX-VNNI or AMX): 1.5-1.7x OpenVINO bf16 on
Zen 4 (360x640). Without them (AVX2 only) it measured 1.0-1.2x with visible grain (docs/performance.md). NNCF is an
extra (``pip install 'rtstyle[int8]'``), imported only here.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import threading
from collections.abc import Iterator
from functools import lru_cache

import numpy as np

#: Generated scenes a shape's model is calibrated on (more measured no closer to f32 on real photos).
CALIBRATION_SCENES = 4
#: One quantization at a time: stdout is swapped while NNCF runs (live workers calibrate on side threads), and two
#: calibrations at once would only share the cores.
_QUANTIZE_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def nncf_status() -> str | None:
    """None when NNCF can quantize here, else one line saying what to install."""
    try:
        importlib.import_module("nncf")
    except Exception as exc:  # noqa: BLE001 -- missing or broken: either way int8 cannot run
        return f"--precision int8 needs NNCF ({type(exc).__name__}): pip install 'rtstyle[int8]'"
    return None


def int8_instructions() -> list[str]:
    """The CPU's int8 dot-product instruction sets (``/proc/cpuinfo``), empty where none or unknown."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [name for name in ("amx_int8", "avx512_vnni", "avx_vnni") if name in flags]
    except OSError:
        pass
    return []


def calibration_batches(shape: tuple[int, ...], count: int = CALIBRATION_SCENES) -> list[np.ndarray]:
    """``count`` float32 (N, 3, H, W) RGB [0, 1] batches of generated scenes at ``shape``."""
    from realtime_style.scenery import generate_scene

    batch, _, height, width = shape
    scenes = [generate_scene(width, height, seed=seed) for seed in range(count)]
    frames = [np.ascontiguousarray(scene.transpose(2, 0, 1), dtype=np.float32) / 255.0 for scene in scenes]
    return [np.stack([frames[(index * batch + k) % count] for k in range(batch)]) for index in range(count)]


@contextlib.contextmanager
def _quiet_nncf() -> Iterator[None]:
    """NNCF's INFO tables and progress bars (it writes them to stdout) kept out of rtstyle's output."""
    logger = logging.getLogger("nncf")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def quantize(model, shape: tuple[int, ...]):
    """``model`` (an ``openvino.Model`` of input ``shape``) with int8 weights and activations."""
    import nncf

    batches = calibration_batches(shape)
    with _QUANTIZE_LOCK, _quiet_nncf():
        return nncf.quantize(
            model, nncf.Dataset(batches), preset=nncf.QuantizationPreset.MIXED, subset_size=len(batches)
        )
