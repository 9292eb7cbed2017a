"""Trained weights -> a model file with full metadata; model file -> ONNX (checked with onnxruntime) or a rewritten model file."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from realtime_style.errors import InputError, ModelError, OutputError, first_line
from realtime_style.models.store import ModelInfo, load_model, save_model
from realtime_style.models.transformer import ARCHITECTURES, SIZE_MULTIPLE, TransformerNet
from .config import TrainOptions
from .lineage import init_record
from .provenance import StyleRecord, sha256_file


def export_model(net: TransformerNet, config: TrainOptions, training: dict, style: StyleRecord | None = None) -> Path:
    """Write ``net`` to ``config.out`` with the style's record (taken now when not given), the recipe and ``training`` facts."""
    style_path = Path(config.style_image)
    if style is None:
        style = StyleRecord.of(style_path, Path(config.sources) if config.sources else None)
    info = ModelInfo(
        style=config.style_name or style_path.stem,
        arch=config.arch,
        config=ARCHITECTURES[config.arch],
        style_image=style_path.name,
        style_source=style.source,
        license=style.license,
        iterations=config.iterations,
        recipe=config.recipe(),
        # The path lets the model find its painting again (eval styles, --optimize --style-image NAME).
        training={"style_image_sha256": style.sha256, "style_image_path": style.path, **training},
    )
    try:
        return save_model(config.out, net, info)
    except OSError as exc:
        raise OutputError(f"cannot write model file {config.out}: {exc.strerror or exc}") from None


def export_checkpoint(checkpoint: str | Path, out: str | Path) -> Path:
    """A training checkpoint -> a model file (the weights at the checkpoint's step, with its recipe)."""
    from dataclasses import replace

    from .checkpoint import load_checkpoint
    from .config import TrainOptions

    state = load_checkpoint(Path(checkpoint))
    step = int(state["step"])
    config = TrainOptions.from_json(state["config"])
    config = replace(config.as_trained(step), out=str(out))
    net = TransformerNet(ARCHITECTURES[config.arch])
    net.load_state_dict(state["model"])
    if state.get("style_record"):
        try:
            style = StyleRecord(**json.loads(state["style_record"]))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"checkpoint {checkpoint}: unreadable style record ({first_line(exc)})") from None
    elif Path(config.style_image).is_file():
        style = None  # a checkpoint from before records were kept: hash the painting now
    else:
        raise ModelError(
            f"the checkpoint's style image {config.style_image} is missing (needed for its hash); "
            "run export from the folder the training ran in"
        )
    losses = json.loads(state.get("losses") or "{}")
    init_facts = json.loads(state.get("init_facts") or "{}")
    elapsed = float(state.get("elapsed_s", 0.0))
    training = {
        "from_checkpoint_step": step,
        **({"teacher_sha256": sha256_file(config.teacher)} if config.teacher and Path(config.teacher).is_file() else {}),
        **({"recipe_history": json.loads(state["recipe_history"])} if state.get("recipe_history", "[]") != "[]" else {}),
        "wall_time_s": round(elapsed, 1),
        "final_losses": {k: round(v, 6) for k, v in losses.items()},
        **init_record(init_facts, step, elapsed),
    }
    return export_model(net, config, training, style)


def rewrite_model(model: str | Path, out: str | Path) -> Path:
    """A model file (or shipped style name) -> ``out`` in the current storage format, metadata kept.

    The source file's sha256 is appended to ``training.rewritten_from_sha256``, so that the
    ``init_sha256`` and ``teacher_sha256`` of nets trained from the earlier file still lead here.
    """
    style = load_model(model)
    assert style.path is not None  # load_model always resolves a file
    info = style.info
    history = [*info.training.get("rewritten_from_sha256", []), sha256_file(style.path)]
    info.training = {**info.training, "rewritten_from_sha256": history}
    try:
        return save_model(out, style.net, info)
    except OSError as exc:
        raise OutputError(f"cannot write model file {out}: {exc.strerror or exc}") from None


class _AnySizeNet(torch.nn.Module):
    """TransformerNet's forward with padding that a trace keeps symbolic (no Python branch on the size)."""

    def __init__(self, net: TransformerNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        pad_h, pad_w = (SIZE_MULTIPLE - height % SIZE_MULTIPLE) % SIZE_MULTIPLE, (SIZE_MULTIPLE - width % SIZE_MULTIPLE) % SIZE_MULTIPLE
        x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        y = self.net.decoder(self.net.residuals(self.net.encoder(x)))
        return y[..., :height, :width]


def export_onnx(model: str | Path, out: str | Path, opset: int = 17, check: bool = True) -> float | None:
    """Export a model file (or shipped style name) to ONNX with dynamic batch/height/width.

    With ``check``, runs the ONNX file with onnxruntime on a test image and returns the largest
    absolute difference from PyTorch's output (None when onnxruntime is not installed).
    """
    try:
        import onnx  # noqa: F401  (torch.onnx needs it)
    except ImportError:
        raise ModelError("ONNX export needs the 'onnx' package: pip install 'rtstyle[onnx]'") from None
    style = load_model(model)
    net = style.net.float().eval()
    out = Path(out)
    example = torch.rand(1, 3, 98, 130, generator=torch.Generator().manual_seed(0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about shape arithmetic, which stays symbolic here
            torch.onnx.export(
                _AnySizeNet(net),
                (example,),
                str(out),
                input_names=["image"],
                output_names=["stylized"],
                dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}, "stylized": {0: "batch", 2: "height", 3: "width"}},
                opset_version=opset,
                dynamo=False,
            )
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
    except RuntimeError as exc:
        if "onnx_opset_version" not in str(exc):
            raise
        raise InputError(f"ONNX opset {opset} is newer than this PyTorch exports ({first_line(exc)})") from None
    return onnx_max_difference(net, out) if check else None


def onnx_max_difference(net: torch.nn.Module, onnx_path: str | Path, height: int = 117, width: int = 172) -> float | None:
    """Largest |ONNX − PyTorch| on a random image of another size (not a multiple of 4) than the export example."""
    try:
        import onnxruntime
    except ImportError:
        return None
    image = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = net(image).numpy()
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": image.numpy()})
    return float(np.abs(got - expected).max())
