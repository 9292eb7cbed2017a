"""The shipped nets, set aside from the working tree while a GPU window's upload is measured and sent.

The upload is the working tree (tracked files that exist) plus the carry folder, under 64 MiB. The shipped nets are
most of the tree (~37 MiB) and nothing on the GPU machine uses them (tests and benchmarks make random nets, training
starts from scratch), while every MiB they free carries ~35 more training photos, and the step count of a GPU window
needs photos to spread over. ``pack`` moves them into the git-ignored ``.aside/`` (same relative paths); ``restore``
(and ``report``, which compares against them) moves them back. They are committed, so ``git checkout --
trained_models`` also brings them back.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from realtime_style.errors import InputError

ASIDE = Path(".aside")
#: What is set aside: the model files and the in-progress training states, by glob under the repository.
NET_PATTERNS = ("trained_models/**/*.safetensors", "trained_models/in_progress/*.pt")


def set_aside(repo: Path, aside: Path = ASIDE) -> list[Path]:
    """Move the tracked net files into ``aside`` (git-ignored); returns their paths relative to ``repo``."""
    restore(repo, aside)  # an earlier pack's: one place for them at a time
    tracked = set(subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout.split())
    nets = [path.relative_to(repo) for pattern in NET_PATTERNS for path in sorted(repo.glob(pattern))]
    nets = [relative for relative in nets if relative.as_posix() in tracked]
    if nets and not _ignored(repo, aside):
        raise InputError(f"{aside} must be git-ignored: the nets set aside there must not travel")
    for relative in nets:
        (repo / aside / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(repo / relative, repo / aside / relative)
    return nets


def restore(repo: Path, aside: Path = ASIDE) -> list[Path]:
    """Move everything in ``aside`` back where it came from; returns what moved. A file there already wins."""
    folder = repo / aside
    if not folder.is_dir():
        return []
    moved, kept = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        target = repo / relative
        if target.exists():
            kept.append(relative)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        moved.append(relative)
    if kept:
        raise InputError(f"{len(kept)} file(s) in {aside} are in the tree again too (e.g. {kept[0]}); compare and remove one")
    shutil.rmtree(folder)
    return moved


def _ignored(repo: Path, path: Path) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", f"{path.as_posix()}/"], cwd=repo).returncode == 0
