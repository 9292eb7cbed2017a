"""training/ installs as realtime_style.training: no top-level `training`, one copy of each module."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_installs_training_inside_the_package() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "training" not in setuptools["packages"] and "realtime_style.training" in setuptools["packages"]
    assert setuptools["package-dir"]["realtime_style.training"] == "training"


def test_every_package_folder_is_installed() -> None:
    """A subpackage missing from pyproject's list would import from a checkout and be absent after `pip install .`."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"realtime_style": ROOT / "realtime_style", **{name: ROOT / path for name, path in setuptools["package-dir"].items()}}
    found = set()
    for name, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            if "__pycache__" not in parts:
                found.add(".".join((name, *parts)))
    assert sorted(found - set(setuptools["packages"])) == []


def test_no_code_imports_the_bare_training_name() -> None:
    """Inside training/ imports are relative; everywhere else they name realtime_style.training."""
    offenders = []
    for path in [p for folder in ("realtime_style", "training", "benchmarks", "tests") for p in (ROOT / folder).rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for name in names if name.split(".")[0] == "training"]
    assert offenders == []


def test_an_uninstalled_checkout_finds_realtime_style_training(tmp_path: Path) -> None:
    """PYTHONPATH=checkout (the GPU machine runs so) from another folder: one copy, no top-level `training`."""
    code = (
        "import sys\n"
        "import realtime_style.training.train, realtime_style.cli.train\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'training'], 'a second copy as top-level training'\n"
        "print(realtime_style.training.__file__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == ROOT / "training" / "__init__.py"
