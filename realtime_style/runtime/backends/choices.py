"""The backend ``auto`` chose for each (machine, net, frame size), remembered on disk.

One JSON file, ``$RTSTYLE_CACHE_DIR`` or ``$XDG_CACHE_HOME/rtstyle`` (``~/.cache/rtstyle``), file
``backends.json``: key -> ``{"backend": ..., "torch_ms": ..., "openvino_ms": ...}``. The key names
the CPU, the library versions, the net's size, the input shape, threads and precision, so a new
machine, an upgrade or another net probes again. An unreadable or unwritable file only costs a
probe: it never stops a run.
"""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from realtime_style.atomic_file import write_atomically

FILE_NAME = "backends.json"


def cache_dir() -> Path:
    """Where rtstyle keeps what it measured about this machine."""
    if os.environ.get("RTSTYLE_CACHE_DIR"):
        return Path(os.environ["RTSTYLE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rtstyle"


@lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of ``/proc/cpuinfo`` (all processors of a machine are alike); empty where unknown."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_flags() -> frozenset[str]:
    """The CPU's instruction-set flags (``avx512_bf16``, ``amx_bf16``, ...); empty where unknown."""
    return frozenset(_cpuinfo().get("flags", "").split())


def cpu_name() -> str:
    """The CPU's model name, else what :mod:`platform` knows."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_generation() -> str | None:
    """``family F model M`` (virtual machines often name only the vendor's line, "AMD EPYC"), None where unknown."""
    info = _cpuinfo()
    return f"family {info['cpu family']} model {info['model']}" if "cpu family" in info and "model" in info else None


#: The instruction sets that decide this project's CPU speed figures, in the order :func:`cpu_label` names them.
SPEED_FLAGS = ("avx512_bf16", "amx_bf16", "avx512_vnni", "avx_vnni")


def cpu_label() -> str:
    """The CPU for a figure or a model file: its name, family and model, and which of :data:`SPEED_FLAGS` it has
    (nothing said of them where the flags are unknown: no ``/proc/cpuinfo``)."""
    generation = cpu_generation()
    name = (cpu_name() or "CPU") + (f", {generation}" if generation else "")
    flags = cpu_flags()
    if not flags:
        return name
    extras = [flag for flag in SPEED_FLAGS if flag in flags]
    return f"{name} ({', '.join(extras) or 'no bf16 or VNNI instructions'})"


@dataclass(frozen=True)
class Choice:
    """The backend picked and the probe's milliseconds per batch (None: that backend failed)."""

    backend: str
    torch_ms: float | None
    openvino_ms: float | None

    def summary(self) -> str:
        timings = ", ".join(f"{name} {ms:.0f} ms" for name, ms in (("torch", self.torch_ms), ("openvino", self.openvino_ms)) if ms)
        return f"{self.backend} ({timings})" if timings else self.backend


class ChoiceFile:
    """The JSON file of :class:`Choice` by key; read once, rewritten whole on each new entry."""

    def __init__(self, path: Path | None = None):
        self.path = path or cache_dir() / FILE_NAME
        self._entries: dict[str, dict] | None = None

    def entries(self) -> dict[str, dict]:
        if self._entries is None:
            try:
                loaded = json.loads(self.path.read_text())
                self._entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def get(self, key: str) -> Choice | None:
        entry = self.entries().get(key)
        try:
            return Choice(str(entry["backend"]), entry.get("torch_ms"), entry.get("openvino_ms")) if entry else None
        except (KeyError, TypeError, AttributeError):
            return None

    def nearest(self, prefix: str, shape: tuple[int, ...], within: float = 2.0) -> Choice | None:
        """The choice probed under ``prefix`` (``prefix|NxCxHxW``) for the same batch and channels and the
        pixel count closest to ``shape``'s, if it is within a factor ``within``; else None."""
        pixels = shape[-1] * shape[-2]
        best: tuple[float, str] | None = None
        for key in self.entries():
            head, _, dims = key.rpartition("|")
            try:
                probed = tuple(int(v) for v in dims.split("x"))
            except ValueError:
                continue
            if head != prefix or len(probed) != len(shape) or probed[:-2] != shape[:-2]:
                continue
            distance = abs(math.log(probed[-1] * probed[-2] / pixels))
            if distance <= math.log(within) and (best is None or distance < best[0]):
                best = (distance, key)
        return self.get(best[1]) if best else None

    def put(self, key: str, choice: Choice) -> None:
        self.entries()[key] = {"backend": choice.backend, "torch_ms": choice.torch_ms, "openvino_ms": choice.openvino_ms}
        try:
            # Re-read first: another process (a second live worker, a parallel run) may have added entries.
            on_disk = ChoiceFile(self.path).entries()
            write_atomically(self.path, json.dumps({**on_disk, **self.entries()}, indent=1, sort_keys=True).encode())
        except OSError:
            pass  # a read-only home: the choice holds for this process only
