"""``--precision int8``: OpenVINO's model of the net quantized by NNCF, calibrated on generated scenes.

Post-training quantization (NNCF's MIXED preset: symmetric int8 weights per channel, asymmetric int8
activations) of each input shape's model, as :class:`~.openvino_net.OpenVINONet` compiles it. The
calibration frames are the demo's generated landscapes (:mod:`realtime_style.scenery`) at that shape:
always there, no photo needed, and the same every time, so one net and shape always give one int8
model. Measured against calibration on 16 real photos (AMD EPYC Zen 4, mosaic nets, 360x640, six
held-out photos): the generated scenes differ from the f32 output as little (standard mean 5.5 vs 5.7
levels, light 16.5 vs 14.5); the InstanceNorms after each convolution keep activation ranges nearly
independent of the picture.

A quantized model is kept on disk (``$RTSTYLE_CACHE_DIR`` or ``~/.cache/rtstyle``, folder ``int8``; the newest
:data:`MAX_CACHED` of them), keyed by a hash of the model before quantization, the calibration frames and the
library versions: a later run, or a second live worker, at that size reads it instead of calibrating again.

It pays where the CPU has int8 dot products (AVX512-VNNI, AVX-VNNI or AMX): 1.5-1.7x OpenVINO bf16 on
Zen 4 (360x640). Without them (AVX2 only) it measured 1.0-1.2x with visible grain (docs/performance.md). NNCF is an
extra (``pip install 'rtstyle[int8]'``), imported only here.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import logging
import tempfile
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

from realtime_style.atomic_file import write_atomically
from realtime_style.runtime.backends.choices import cache_dir, cpu_flags

#: Generated scenes a shape's model is calibrated on (more measured no closer to f32 on real photos).
CALIBRATION_SCENES = 4
#: One quantization at a time: stdout is swapped while NNCF runs (live workers calibrate on side threads), and two
#: calibrations at once would only share the cores.
_QUANTIZE_LOCK = threading.Lock()
#: Quantized models kept on disk (a live session's adaptive resolution visits a handful of sizes per net).
MAX_CACHED = 32


@lru_cache(maxsize=1)
def nncf_status() -> str | None:
    """None when NNCF can quantize here, else one line saying what to install."""
    try:
        importlib.import_module("nncf")
    except Exception as exc:  # noqa: BLE001 -- missing or broken: either way int8 cannot run
        return f"--precision int8 needs NNCF ({type(exc).__name__}): pip install 'rtstyle[int8]'"
    return None


def int8_instructions() -> list[str]:
    """The CPU's int8 dot-product instruction sets, empty where none or unknown."""
    return [name for name in ("amx_int8", "avx512_vnni", "avx_vnni") if name in cpu_flags()]


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


def quantize(model, shape: tuple[int, ...], cache: Path | None = None):
    """``model`` (an ``openvino.Model`` of input ``shape``) with int8 weights and activations.

    ``cache``: the folder of quantized models (default: ``int8`` in rtstyle's cache folder). An unreadable or
    unwritable cache only costs the calibration.
    """
    batches = calibration_batches(shape)
    cache = cache or cache_dir() / "int8"
    with _QUANTIZE_LOCK:
        key = _cache_key(model, batches)
        cached = _read_cached(cache / f"{key}.xml")
        if cached is not None:
            return cached
        import nncf

        with _quiet_nncf():
            quantized = nncf.quantize(
                model, nncf.Dataset(batches), preset=nncf.QuantizationPreset.MIXED, subset_size=len(batches)
            )
        _write_cached(quantized, cache / f"{key}.xml")
        return quantized


def _serialized(model) -> tuple[bytes, bytes]:
    """An ``openvino.Model`` as its IR files' bytes (.xml, .bin), full precision."""
    import openvino

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.xml"
        openvino.save_model(model, path, compress_to_fp16=False)
        return path.read_bytes(), path.with_suffix(".bin").read_bytes()


def _cache_key(model, batches: list[np.ndarray]) -> str:
    """What the int8 model depends on: the graph (operations, attributes, shapes, constants -- not the names, which
    OpenVINO numbers afresh each conversion), the calibration frames, and NNCF's and OpenVINO's versions."""
    import nncf
    import openvino

    digest = hashlib.sha256(f"nncf {nncf.__version__} openvino {openvino.__version__}".encode())
    ops = model.get_ordered_ops()
    position = {op.get_friendly_name(): index for index, op in enumerate(ops)}  # names are unique within a model
    for op in ops:
        inputs = [(position[source.get_node().get_friendly_name()], source.get_index()) for source in
                  (value.get_source_output() for value in op.inputs())]
        outputs = [str(output.get_partial_shape()) for output in op.outputs()]
        digest.update(f"{op.get_type_name()} {sorted(op.get_attributes().items())} {inputs} {outputs}".encode())
        if op.get_type_name() == "Constant":
            digest.update(op.get_data().tobytes())
    for batch in batches:
        digest.update(batch.tobytes())
    return digest.hexdigest()[:32]


def _read_cached(xml: Path):
    """The quantized model kept at ``xml``, or None (absent, damaged, unreadable)."""
    if not xml.exists():
        return None
    from realtime_style.runtime.backends.openvino_net import shared_core

    try:
        model = shared_core().read_model(str(xml))
        xml.touch()  # recently used: pruned last
        return model
    except Exception:  # noqa: BLE001 -- a damaged cache entry means calibrating again
        return None


def _write_cached(model, xml: Path) -> None:
    """Keep ``model`` at ``xml`` (weights first: the .xml appears last, whole); drop the oldest beyond MAX_CACHED."""
    try:
        structure, weights = _serialized(model)
        write_atomically(xml.with_suffix(".bin"), weights)
        write_atomically(xml, structure)
        kept = sorted(xml.parent.glob("*.xml"), key=lambda path: path.stat().st_mtime, reverse=True)
        for old in kept[MAX_CACHED:]:
            old.unlink(missing_ok=True)
            old.with_suffix(".bin").unlink(missing_ok=True)
    except OSError:
        pass  # a full disk or a read-only home: the next run calibrates again
