"""What travels to the device machine: the working tree (tracked and untracked-not-ignored files that
exist) plus the carried folders, against the 64 MiB limit."""

from __future__ import annotations

import subprocess
from pathlib import Path

#: The device tool's limit on the working tree plus carried paths.
UPLOAD_LIMIT = 64 * 2**20


def tree_files(repo: Path) -> list[Path]:
    """Files git would send: tracked ones that exist, and untracked ones it does not ignore."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo, capture_output=True, check=True,
    ).stdout.decode("utf-8", errors="surrogateescape")
    files = (repo / name for name in dict.fromkeys(listing.split("\0")) if name)
    return [path for path in files if path.is_file() and not path.is_symlink()]


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder`` (0 when it does not exist)."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else 0


def tree_bytes(repo: Path) -> int:
    return sum(path.stat().st_size for path in tree_files(repo))


def mib(count: int) -> str:
    return f"{count / 2**20:.1f} MiB"
