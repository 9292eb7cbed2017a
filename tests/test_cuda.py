"""The CUDA path's switches, each against the plain path, with stated tolerances (skipped without a GPU).

Tolerances (uint8 output levels, random-weight `light` nets as in test_engine.py):
- fp16 on the GPU against plain fp32 on the CPU: mean < 1.5 levels, max <= 32 (as test_engine.py's
  half-precision paths; random weights make rougher outputs than a trained model's);
- scheduling switches against each other at the same precision and batch shape (copy streams,
  CUDA graphs, pinned buffers, submit vs stylize, the file pipeline): max <= 2 levels (2/255) --
  they run the same kernels (cuDNN's autotuning cache is per process and shape; the module runs
  with ``cudnn.deterministic``), only scheduled differently, so a leak or race shows as far more;
- fp32 on the GPU (TF32 off) against fp32 on the CPU: max <= 2 levels.
"""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from test_engine import PLAIN, images, level_error, net, plain  # noqa: F401  (fixtures)

from realtime_style.runtime.color import Look
from realtime_style.runtime.cuda_graphs import GraphCache
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

FP16 = dict(device="cuda", precision="fp16")
SAME_PRECISION_MAX = 2


@pytest.fixture(scope="module", autouse=True)
def deterministic_cudnn():
    """Deterministic cuDNN algorithms only, so equal inputs give equal outputs run to run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.backends.cudnn, "deterministic", True)
        yield


def reference(net: TransformerNet, frames: np.ndarray) -> np.ndarray:
    """fp16 on CUDA with every scheduling switch off, batch 2: the reference for the switches."""
    return cuda_engine(net, copy_streams=False, cuda_graphs=False, pinned_buffers=False, batch_size=2).stylize(frames)


def cuda_engine(net: TransformerNet, **options) -> Engine:
    return Engine(net, EngineOptions(**{**FP16, **options}))


@pytest.fixture(scope="module")
def eager_fp16(net: TransformerNet, images: np.ndarray) -> np.ndarray:
    return reference(net, images)


def test_defaults_on_cuda(net: TransformerNet) -> None:
    engine = Engine(net, EngineOptions(device="cuda"))
    assert engine.dtype == torch.float16 and engine.channels_last and engine.batch_size == 8
    assert engine.copy_streams and not engine.cuda_graphs  # graphs: off until measured
    assert "copy streams" in engine.describe()


@pytest.mark.parametrize(
    "option, same_kernels",
    [
        (dict(), True),
        (dict(copy_streams=False), True),
        (dict(cuda_graphs=True), True),
        (dict(cuda_graphs=True, copy_streams=False), True),
        (dict(pinned_buffers=False), True),
        (dict(channels_last=False), False),  # other kernels: only the fp32 tolerance applies
    ],
)
def test_fp16_switches_match_fp32(net, images, plain, eager_fp16, option, same_kernels) -> None:
    engine = cuda_engine(net, batch_size=2, **option)
    for _ in range(3):  # with cuda_graphs: eager, then capture, then replay
        out = engine.stylize(images)
        mean, worst = level_error(out, plain)
        assert mean < 1.5 and worst <= 32
        if same_kernels:
            assert level_error(out, eager_fp16)[1] <= SAME_PRECISION_MAX
    # reused staging buffers and static graph buffers must not leak one batch into the next
    assert level_error(engine.stylize(images[::-1]), engine.stylize(images)[::-1])[1] <= SAME_PRECISION_MAX


def test_submitted_results_stay_valid_while_later_batches_run(net, images) -> None:
    engine = cuda_engine(net, batch_size=2)
    batches = [images, images[::-1], 255 - images, images // 2]
    handles = [engine.submit(batch) for batch in batches]  # all in flight at once
    results = [handle.result() for handle in handles]
    kept = [result.copy() for result in results]
    for batch in batches:  # more work on the same engine must not write into earlier results
        engine.submit(batch).result()
    torch.cuda.synchronize()
    for batch, result, copy in zip(batches, results, kept):
        assert np.array_equal(result, copy)
        assert level_error(result, engine.stylize(batch))[1] <= SAME_PRECISION_MAX


def test_cuda_graphs_capture_full_batches_and_run_a_last_partial_one_eagerly(net, images, eager_fp16) -> None:
    engine = cuda_engine(net, batch_size=2, cuda_graphs=True)
    for _ in range(3):
        assert level_error(engine.stylize(images), eager_fp16)[1] <= SAME_PRECISION_MAX
    assert level_error(engine.stylize(images[:1]), reference(net, images[:1]))[1] <= SAME_PRECISION_MAX
    assert [key[0] for key in engine._graphs.graphs] == [(2, 3, *images.shape[1:3])]


def test_cuda_graphs_follow_strength_and_a_model_switch(net, images) -> None:
    engine = cuda_engine(net, batch_size=2, cuda_graphs=True)
    for _ in range(3):
        engine.stylize(images)
    assert np.array_equal(engine.stylize(images, Look(strength=0.0)), images)  # applied outside the graph
    torch.manual_seed(5)
    other = TransformerNet(ARCHITECTURES["light"]).eval()
    engine.set_model(other)
    expected = reference(other, images)
    for _ in range(3):
        assert level_error(engine.stylize(images), expected)[1] <= SAME_PRECISION_MAX


def test_cuda_graphs_refuse_compile(net) -> None:
    with pytest.raises(ValueError, match="compile"):
        cuda_engine(net, cuda_graphs=True, compile=True)


@pytest.mark.parametrize("option", [dict(), dict(copy_streams=False), dict(cuda_graphs=True)])
def test_file_pipeline_with_submit_keeps_order_on_cuda(net, images, option) -> None:
    from realtime_style.file_pipeline import FilePipeline, PipelineOptions  # no PyAV needed (the GPU session machine)
    from realtime_style.media import Frame

    engine = cuda_engine(net, batch_size=2, **option)
    clip = np.concatenate([images, images[::-1], 255 - images] * 3 + [images[:1]])  # 19 frames, last batch partial
    expected = reference(net, clip)  # the same batches, one at a time
    frames = [Frame(image=image, index=i, pts=i, time_base=Fraction(1, 25)) for i, image in enumerate(clip)]
    written: list[np.ndarray] = []
    sink = SimpleNamespace(write=lambda image, pts=None: written.append(image))
    stats = FilePipeline(engine.submit, PipelineOptions(batch_size=2)).run(frames, sink)
    assert stats.frames == len(clip)
    assert level_error(np.stack(written), expected)[1] <= SAME_PRECISION_MAX


@pytest.mark.parametrize("option", [dict(copy_streams=False, channels_last=False), dict()])
def test_plain_fp32_on_cuda_matches_the_cpu(net, images, plain, option, monkeypatch) -> None:
    """The transfers and conversions themselves lose nothing: fp32 on the GPU is the CPU's result."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # TF32 convolutions round like fp16
    engine = Engine(net, EngineOptions(**{**PLAIN, "device": "cuda", **option}))
    assert level_error(engine.stylize(images), plain)[1] <= SAME_PRECISION_MAX


class SyncsInForward(torch.nn.Module):
    """A net that reads a value back to the host mid-forward: legal eagerly, illegal inside a CUDA graph capture."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        out.float().mean().item()  # a host sync: refused while a stream captures
        return out


def test_a_failed_graph_capture_falls_back_to_eager(net, images, eager_fp16, capfd) -> None:
    engine = cuda_engine(net, batch_size=2, cuda_graphs=True)
    engine.net = SyncsInForward(engine.net)
    engine._graphs = GraphCache(engine.net)
    for _ in range(3):  # eager, then a capture that fails, then eager again
        assert level_error(engine.stylize(images), eager_fp16)[1] <= SAME_PRECISION_MAX
    assert engine.graphs_failed and "CUDA graphs failed: eager" in engine.describe()
    assert capfd.readouterr().err.count("CUDA graph capture failed") == 1
