"""Where a model's style image (the painting it was trained on) is found.

A model file names its style image by file name (``info.style_image``); training also records the
path it read it from (``info.training["style_image_path"]``). :func:`find_style_image` looks, in order:

1. ``styles_dir`` when the caller gives one;
2. beside the model file (its folder, then a ``styles/`` folder there): a user's own model kept with its painting;
3. the path training read it from;
4. ``$RTSTYLE_DATA/styles`` when that variable names a data folder (e.g. the full-size originals);
5. the reduced copies shipped with the package (``trained_models/styles/``, long side 512 px).
"""

from __future__ import annotations

import os
from pathlib import Path

from realtime_style.errors import InputError, StyleNotFoundError
from realtime_style.models.store import ModelInfo, shipped_models_dir

#: Names a data folder laid out as ``styles/`` (style images) and ``content/`` (photos): where the full-size
#: style images and the default evaluation photos are looked for. Unset, neither is.
DATA_ENV = "RTSTYLE_DATA"


def data_dir() -> Path | None:
    """The data folder ``$RTSTYLE_DATA`` names, or None when it is unset."""
    value = os.environ.get(DATA_ENV)
    return Path(value).expanduser() if value else None


def shipped_style_images_dir() -> Path:
    """The folder of the shipped styles' style images (inside the installed package, or the repo's)."""
    return shipped_models_dir() / "styles"


def style_image_candidates(
    info: ModelInfo, model_path: str | Path | None = None, styles_dir: str | Path | None = None
) -> list[Path]:
    """The paths tried for the style image of ``info``, in order (see the module docstring)."""
    name = Path(info.style_image or "").name
    if styles_dir is not None:
        return [Path(styles_dir).expanduser() / name]
    candidates = []
    if model_path is not None:
        folder = Path(model_path).expanduser().resolve().parent
        candidates += [folder / name, folder / "styles" / name]
    recorded = info.training.get("style_image_path") if isinstance(info.training, dict) else None
    if recorded:
        candidates.append(Path(recorded))
    data = data_dir()
    if data is not None:
        candidates.append(data / "styles" / name)
    return [*candidates, shipped_style_images_dir() / name]


def find_style_image(
    info: ModelInfo, model_path: str | Path | None = None, styles_dir: str | Path | None = None
) -> Path:
    """The style image of the model ``info``; an :class:`InputError` says where it was looked for."""
    if not info.style_image:
        raise InputError(f"model {info.style!r} names no style image in its metadata; pass --style-image PATH")
    candidates = style_image_candidates(info, model_path, styles_dir)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = f"in {candidates[0].parent}" if styles_dir is not None else "beside the model, where training read it or with the shipped styles"
    raise InputError(
        f"style image {Path(info.style_image).name!r} of style {info.style!r} not found {where}; "
        "pass --style-image PATH or --styles-dir DIR"
    )


def style_image_from_text(text: str, styles_dir: str | Path | None = None) -> Path:
    """What ``--style-image TEXT`` means: an image file, or the style image of the style named ``text``."""
    from realtime_style.image_files import existing_image_file, is_image_file
    from realtime_style.models.store import read_info, resolve_style

    path = Path(text).expanduser()
    if path.exists() or is_image_file(path) or "/" in text:
        return existing_image_file(path, "style image")
    try:
        model_path = resolve_style(text)
    except StyleNotFoundError as exc:
        raise InputError(f"{text!r} is neither an image file nor a shipped style ({str(exc).split('; ', 1)[-1]})") from None
    return find_style_image(read_info(model_path), model_path, styles_dir)
