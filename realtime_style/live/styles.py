"""The styles a live session switches between, each loaded (with its engine) on first use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.errors import StyleNotFoundError
from realtime_style.models.store import MODEL_SUFFIX, StyleModel, list_styles, load_model, resolve_style

#: The light network is what a CPU can run live; it is preferred there when a style ships one.
LIVE_CPU_ARCH = "light"
#: Styles the digit keys 1-9 select: a default list longer than this would hide some from them.
MAX_DEFAULT_STYLES = 9


def default_arch(device: torch.device, requested: str | None) -> str | None:
    """``--arch`` if given; otherwise ``light`` on a CPU (where a style has it), the standard net elsewhere."""
    if requested is not None:
        return requested
    return LIVE_CPU_ARCH if device.type == "cpu" else None


def default_live_styles(prefer_arch: str | None) -> list[str]:
    """The shipped styles a live session switches between when none is named.

    One style per style image (``mosaic``, not also ``mosaic_stable``); with ``prefer_arch`` (``light`` on a
    CPU, where the standard nets are too slow live) only the styles that ship that network, unless none does;
    at most :data:`MAX_DEFAULT_STYLES`, the styles the digit keys reach.
    """
    installed = sorted(list_styles(), key=lambda entry: entry[1].style)
    preferred = [info for _path, info in installed if info.arch == prefer_arch]
    by_image: dict[str, str] = {}
    for info in preferred or [info for _path, info in installed]:
        by_image.setdefault(info.style_image or info.style, info.style)
    return sorted(set(by_image.values()))[:MAX_DEFAULT_STYLES]


def resolve_live_styles(names: Sequence[str], arch: str | None, prefer_arch: str | None = None) -> list[Path]:
    """Model files for ``names`` (all shipped styles when empty).

    ``arch`` demands one variant; ``prefer_arch`` takes that variant where a style ships it and the
    standard one otherwise. Paths are used as they are.
    """
    if not names:
        names = default_live_styles(prefer_arch)
        if not names:
            raise StyleNotFoundError("no styles installed; pass --style NAME or --style PATH (a model file)")
    paths = []
    for name in names:
        try:
            paths.append(resolve_style(name, arch or prefer_arch))
        except StyleNotFoundError:
            if arch is not None or prefer_arch is None:
                raise
            paths.append(resolve_style(name))
    return list(dict.fromkeys(paths))


def style_label(path: Path) -> str:
    """``mosaic.light`` for ``.../mosaic.light.safetensors``."""
    return path.name.removesuffix(MODEL_SUFFIX)


class StyleBank:
    """An ordered list of styles; :meth:`engine` loads a style's model once and its engines on demand.

    Each live worker thread runs its own engine ``replica`` of a style (an engine is used by one
    thread at a time); replicas share the loaded model file.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        options: EngineOptions | None = None,
        engine_factory: Callable[[StyleModel], Engine] | None = None,
    ):
        if not paths:
            raise StyleNotFoundError("no styles to show")
        self.paths = list(paths)
        self.names = [style_label(p) for p in self.paths]
        self._factory = engine_factory or (lambda model: Engine(model, options))
        self._models: dict[int, StyleModel] = {}
        self._engines: dict[tuple[int, int], Engine] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def engine(self, index: int, replica: int = 0) -> Engine:
        """Engine ``replica`` of style ``index``; raises :class:`ModelError` if its file is bad."""
        if index not in self._models:
            self._models[index] = load_model(self.paths[index])
        if (index, replica) not in self._engines:
            self._engines[index, replica] = self._factory(self._models[index])
        return self._engines[index, replica]
