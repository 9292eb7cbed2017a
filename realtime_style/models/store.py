"""Model files: safetensors weights plus JSON metadata, and the registry of shipped styles.

A model file is ``<style>.safetensors`` (the `standard` network) or ``<style>.<arch>.safetensors``
(another size, e.g. ``mosaic.light.safetensors``). Its safetensors header carries one metadata key,
``rtstyle``, holding the JSON of :class:`ModelInfo`. Loading parses only that header and raw tensors:
no pickle, so a hostile file cannot run code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from realtime_style.atomic_file import write_atomically
from realtime_style.errors import ModelError, OutputError, StyleNotFoundError, first_line
from realtime_style.models.transformer import ARCHITECTURES, TransformerConfig, TransformerNet

MODEL_SUFFIX = ".safetensors"
METADATA_KEY = "rtstyle"
FORMAT_VERSION = 1
#: Pixel convention of the network's input and output (see models/transformer.py).
PREPROCESSING_RGB01 = "rgb01"
#: How model files store their weights: float16 takes half the space of float32, and the 8-bit output
#: of every shipped net stays within one level of float32 weights' (on under 2 % of values); a net
#: is always loaded in float32 (and cast to the engine's precision).
STORAGE_DTYPE = torch.float16
#: Extra folders of model files, separated by os.pathsep (searched before the shipped styles).
MODELS_PATH_ENV = "RTSTYLE_MODELS_PATH"


@dataclass
class ModelInfo:
    """What a model file says about itself."""

    style: str
    arch: str = "standard"
    config: TransformerConfig = field(default_factory=TransformerConfig)
    preprocessing: str = PREPROCESSING_RGB01
    style_image: str | None = None
    style_source: str | None = None
    license: str | None = None
    iterations: int = 0
    recipe: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        data["config"] = self.config.to_dict()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelInfo":
        data = json.loads(text)
        if not isinstance(data, dict) or "style" not in data or "config" not in data:
            raise ValueError("metadata lacks 'style' or 'config'")
        known = {f for f in cls.__dataclass_fields__}
        data = {k: v for k, v in data.items() if k in known}
        data["config"] = TransformerConfig.from_dict(data["config"])
        return cls(**data)


@dataclass
class StyleModel:
    """A loaded transform net together with its metadata and where it came from."""

    net: TransformerNet
    info: ModelInfo
    path: Path | None = None

    @property
    def name(self) -> str:
        """The name the user picked it by: the file's (``tahiti`` for ``tahiti.safetensors``), else from the metadata."""
        if self.path is not None:
            return self.path.name.removesuffix(MODEL_SUFFIX)
        return self.info.style if self.info.arch == "standard" else f"{self.info.style}.{self.info.arch}"


def check_model_name(path: str | Path) -> None:
    """An :class:`OutputError` unless ``path`` ends in ``.safetensors``: a model file saved under another name
    would not be found by name (``--style tahiti``) and could be mistaken for something else."""
    path = Path(path)
    if path.suffix != MODEL_SUFFIX:
        # a file type's suffix is replaced; any other dot is part of the name (``mosaic.light``)
        other_type = path.suffix.lower() in {".pt", ".pth", ".ckpt", ".bin", ".onnx", ".txt", ".json"}
        suggestion = path.with_suffix(MODEL_SUFFIX) if other_type else path.with_name(path.name + MODEL_SUFFIX)
        raise OutputError(f"{path}: a model file's name ends in {MODEL_SUFFIX}, e.g. {suggestion}")


def save_model(path: str | Path, net: TransformerNet, info: ModelInfo, dtype: torch.dtype = STORAGE_DTYPE) -> Path:
    """Write ``net`` and ``info`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    Weights are stored as ``dtype`` (float16 unless asked otherwise; float32 where a weight would not
    fit in float16). A name not ending in ``.safetensors`` is an :class:`OutputError`; a failed write
    (full disk, ...) raises :class:`OSError` and leaves any earlier file at ``path`` intact.
    """
    check_model_name(path)
    tensors = {k: v.detach().float().contiguous().cpu() for k, v in net.state_dict().items()}
    stored = {k: v.to(dtype) for k, v in tensors.items()}
    if not all(torch.isfinite(v).all() for v in stored.values()):
        stored = tensors  # a weight beyond float16's range: keep them all exact
    return write_atomically(Path(path), save(stored, metadata={METADATA_KEY: info.to_json()}))


def read_info(path: str | Path) -> ModelInfo:
    """Read only the metadata of a model file (cheap: the header, not the weights)."""
    path = Path(path)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise _unreadable(path, exc) from None
    return _parse_info(path, metadata)


def load_model(style: str | Path, arch: str | None = None) -> StyleModel:
    """Load a model by shipped style name (``mosaic``, ``mosaic.light``) or by file path."""
    path = resolve_style(style, arch)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise _unreadable(path, exc) from None
    info = read_info(path)
    net = TransformerNet(info.config)
    for key, tensor in tensors.items():
        if not tensor.is_floating_point() or not torch.isfinite(tensor).all():
            raise ModelError(f"{path}: tensor {key!r} is not finite floating point")
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{path}: weights do not match the {info.arch} architecture ({first_line(exc)})") from None
    net.eval().requires_grad_(False)
    return StyleModel(net=net, info=info, path=path)


def resolve_style(style: str | Path, arch: str | None = None) -> Path:
    """Turn a style name or a path into the path of a model file."""
    text = str(style)
    candidate = Path(text).expanduser()
    if candidate.suffix == MODEL_SUFFIX or os.sep in text or candidate.is_file():
        if not candidate.is_file():
            raise ModelError(f"model file not found: {candidate}")
        return candidate
    name = text if arch in (None, "standard") or "." in text else f"{text}.{arch}"
    for folder in model_folders():
        found = folder / f"{name}{MODEL_SUFFIX}"
        if found.is_file():
            return found
    known = ", ".join(sorted({p.name[: -len(MODEL_SUFFIX)] for f in model_folders() for p in _model_files(f)}))
    raise StyleNotFoundError(f"unknown style {name!r}; shipped styles: {known or 'none'}")


def list_styles() -> list[tuple[Path, ModelInfo]]:
    """Every model file in the model folders with its metadata (unreadable files are skipped)."""
    seen: set[str] = set()
    found: list[tuple[Path, ModelInfo]] = []
    for folder in model_folders():
        for path in _model_files(folder):
            if path.name in seen:
                continue
            seen.add(path.name)
            try:
                found.append((path, read_info(path)))
            except ModelError:
                continue
    return found


def distinct_labels(specs: Sequence[str | Path], names: Sequence[str]) -> list[str]:
    """Labels for styles given as ``specs`` (names or model files) that loaded as ``names``: the names, or
    ``folder/file`` for the model files when two names would read alike (two candidates both called mosaic)."""
    if len(set(names)) == len(names):
        return list(names)
    return [f"{Path(spec).parent.name}/{Path(spec).stem}" if Path(spec).is_file() else name for spec, name in zip(specs, names)]


def shipped_models_dir() -> Path:
    """The folder of shipped styles: inside the installed package, else the repo's ``trained_models/``."""
    try:
        folder = Path(str(resources.files("realtime_style.trained_models")))
        if folder.is_dir():
            return folder
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "trained_models"


def model_folders() -> list[Path]:
    """User folders from ``$RTSTYLE_MODELS_PATH`` first, then the shipped styles."""
    extra = [Path(p).expanduser() for p in os.environ.get(MODELS_PATH_ENV, "").split(os.pathsep) if p]
    return [*extra, shipped_models_dir()]


def _model_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{MODEL_SUFFIX}")) if folder.is_dir() else []


def _parse_info(path: Path, metadata: dict[str, str]) -> ModelInfo:
    if METADATA_KEY not in metadata:
        raise ModelError(f"{path}: safetensors file without rtstyle metadata")
    try:
        info = ModelInfo.from_json(metadata[METADATA_KEY])
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"{path}: corrupt rtstyle metadata ({first_line(exc)})") from None
    if info.preprocessing != PREPROCESSING_RGB01:
        raise ModelError(f"{path}: unsupported preprocessing {info.preprocessing!r}")
    if info.format_version > FORMAT_VERSION:
        raise ModelError(f"{path}: model format {info.format_version} is newer than this rtstyle understands")
    return info


def _unreadable(path: Path, exc: BaseException) -> ModelError:
    """The error for a file that is no model: what it is and what to do instead, where that is known."""
    from realtime_style.models.not_a_model import what_to_do_instead

    return ModelError(what_to_do_instead(path) or f"{path}: not a readable rtstyle model file ({first_line(exc)})")


__all__ = [
    "ARCHITECTURES",
    "ModelInfo",
    "StyleModel",
    "list_styles",
    "load_model",
    "model_folders",
    "read_info",
    "resolve_style",
    "save_model",
    "shipped_models_dir",
]
