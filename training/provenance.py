"""What a trained model file records about where it came from: style image hash, source, hardware."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from realtime_style.runtime.backends.choices import cpu_label


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_sources_file(style_image: Path) -> Path | None:
    """The nearest SOURCES.md in the style image's folder or one of its two parents."""
    for folder in list(style_image.resolve().parents)[:3]:
        candidate = folder / "SOURCES.md"
        if candidate.is_file():
            return candidate
    return None


def source_and_licence(style_image: Path, sources: Path | None = None) -> tuple[str | None, str | None]:
    """The source and licence note of ``style_image`` from its row of a SOURCES.md table
    (file | artwork | repo | path | commit | licence | change); ``(None, None)`` where there is none."""
    sources = sources or find_sources_file(style_image)
    if sources is None or not sources.is_file():
        return None, None
    needle = f"/styles/{style_image.name}`"
    for line in sources.read_text(encoding="utf-8", errors="replace").splitlines():
        if needle not in line or not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 6:
            continue
        artwork, repo, path, commit, licence = cells[1:6]
        source = f"{artwork}; from {repo} {path.strip('`')} at commit {commit}"
        return source, licence
    return None, None


@dataclass(frozen=True)
class StyleRecord:
    """The style image as a model file records it: hash, resolved path, source and licence.

    Taken when a run starts and kept in its checkpoints, so that a checkpoint exports from any folder,
    or after the painting has moved.
    """

    sha256: str
    path: str
    source: str | None = None
    license: str | None = None

    @classmethod
    def of(cls, style_image: Path, sources: Path | None = None) -> StyleRecord:
        source, licence = source_and_licence(style_image, sources)
        return cls(sha256_file(style_image), str(style_image.resolve()), source, licence)


def describe_hardware(device: torch.device, world_size: int = 1) -> str:
    """One line: accelerator, or CPU (name, family and model, bf16/VNNI/AMX instructions) and core count; processes."""
    if device.type == "cuda":
        name = f"{torch.cuda.get_device_name(device)} (CUDA)"
    else:
        name = f"{cpu_label()}, {os.cpu_count()} cores"
    return name + (f", {world_size} processes" if world_size > 1 else "")

