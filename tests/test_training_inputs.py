"""Training's data pipeline, bad inputs (one-line errors, no traceback), and ONNX export."""

from __future__ import annotations

import multiprocessing
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from realtime_style.cli import main as rtstyle
import realtime_style.training.train
from realtime_style.training.checkpoint import load_checkpoint
from realtime_style.training.data import PhotoFolder, ResumableSampler, collate, dataset_images, random_crop


def write_photos(folder: Path, count: int, size: tuple[int, int] = (80, 60)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / ("nested" if i % 2 else "") / f"photo_{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_find_images_is_recursive_sorted_and_honours_excludes(tmp_path):
    write_photos(tmp_path, 6)
    (tmp_path / "notes.txt").write_text("not an image")
    found = dataset_images(tmp_path)
    assert len(found) == 6 and found == sorted(found)
    assert len(dataset_images(tmp_path, exclude=["nested/*"])) == 3


def test_corrupt_images_are_skipped_and_counted(tmp_path):
    paths = write_photos(tmp_path, 4)
    paths[1].write_bytes(b"\xff\xd8 truncated jpeg")
    dataset = PhotoFolder(sorted(paths))
    index = sorted(paths).index(paths[1])
    image, met = dataset[(index, 0, 32, 48)]
    assert image.shape == (3, 32, 32) and met == [index]
    assert dataset[(index, 0, 32, 48)][1] == []  # remembered, not retried


def test_random_crop_scales_the_short_side_then_crops():
    image = Image.new("RGB", (400, 200))
    crop = random_crop(image, 64, random.Random(0), scale=128)
    assert crop.size == (64, 64)


def test_sampler_resumes_at_any_step_and_ranks_get_disjoint_shards(tmp_path):
    dataset = PhotoFolder(write_photos(tmp_path, 10))
    size_at = lambda step: 32 if step < 5 else 64  # noqa: E731

    def draws(start: int, count: int, **kw) -> list:
        stream = iter(ResumableSampler(dataset, 2, seed=1, size_at_step=size_at, start_step=start, **kw))
        return [next(stream) for _ in range(count)]

    full = draws(0, 2 * 12)
    assert draws(7, 2 * 5) == full[14:]  # same indices, crops and sizes from step 7 on
    assert {d[2] for d in full[:10]} == {32} and {d[2] for d in full[10:]} == {64}
    assert sorted(d[0] for d in full[:10]) == list(range(10))  # one epoch = a permutation
    rank0 = {d[0] for d in draws(0, 4, num_replicas=2, rank=0)}
    rank1 = {d[0] for d in draws(0, 4, num_replicas=2, rank=1)}
    assert not rank0 & rank1
    batch, met = collate([dataset[d] for d in full[:2]])
    assert batch.shape == (2, 3, 32, 32) and met == []


@pytest.fixture
def train_args(training_data, tmp_path):
    def build(**changes: str) -> list[str]:
        options = {
            "--style-image": str(training_data / "styles" / "mosaic.jpg"),
            "--dataset": str(training_data / "content" / "nst_classics"),
            "--out": str(tmp_path / "m.safetensors"),
            "--run-dir": str(tmp_path / "run"),
            "--iterations": "1",
            "--image-size": "32",
            "--arch": "light",
            **changes,
        }
        return ["train", *[x for pair in options.items() for x in pair], "--no-progress", "--workers", "0"]

    return build


def _fails_with(capsys, argv: list[str], needle: str) -> None:
    assert rtstyle(argv) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("rtstyle: error:") and needle in err and "\n" not in err and "Traceback" not in err


def test_empty_dataset_folder(train_args, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    _fails_with(capsys, train_args(**{"--dataset": str(tmp_path / "empty")}), "no images")


def test_a_dataset_smaller_than_a_batch_is_one_line_before_the_progress_bar(train_args, training_data, tmp_path, capsys):
    one = tmp_path / "one"
    one.mkdir()
    (one / "chicago.jpg").write_bytes((training_data / "content" / "nst_classics" / "chicago.jpg").read_bytes())
    argv = [a for a in train_args(**{"--dataset": str(one)}) if a != "--no-progress"]
    _fails_with(capsys, argv, "the dataset has 1 image: too few for a batch of 4; add photos or lower --batch-size")
    assert not (tmp_path / "run" / "log.jsonl").exists()


def test_a_run_says_what_it_trains_where_its_checkpoints_go_and_how_to_stop(train_args, tmp_path, capsys):
    assert rtstyle(train_args(**{"--iterations": "2", "--checkpoint-every": "1"})) == 0
    plan = capsys.readouterr().err.splitlines()[0]
    assert plan.startswith("training: mosaic (light) on 15 photos: 2 steps at 32px, batch 4, on cpu in ")
    assert f"a checkpoint every 1 steps in {tmp_path / 'run'} (Ctrl-C stops with one; --resume goes on)" in plan
    assert rtstyle([*train_args(**{"--iterations": "3"}), "--resume"]) == 0
    assert "; resuming at step 2;" in capsys.readouterr().err.splitlines()[0]


def test_missing_style_image(train_args, tmp_path, capsys):
    _fails_with(capsys, train_args(**{"--style-image": str(tmp_path / "nope.jpg")}), "style image not found")


def test_a_folder_given_as_the_style_image(train_args, tmp_path, capsys):
    _fails_with(capsys, train_args(**{"--style-image": str(tmp_path)}), f"style image {tmp_path} is a folder, not an image file")


def test_unreadable_style_image(train_args, tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_text("this is not a JPEG")
    _fails_with(capsys, train_args(**{"--style-image": str(bad)}), "not a readable image")


def test_without_out_the_model_is_named_after_the_style_and_never_overwritten(train_args, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = train_args()
    del argv[argv.index("--out") : argv.index("--out") + 2]
    assert rtstyle(argv) == 0
    assert (tmp_path / "mosaic.light.safetensors").is_file()  # --arch light, as the shipped variants are named
    assert "try it: rtstyle still PHOTO OUT.jpg --style mosaic.light.safetensors" in capsys.readouterr().out
    assert rtstyle([*argv, "--resume"]) == 0  # the same run goes on into the same file
    capsys.readouterr()
    another_run = [*argv[:-3], "--run-dir", str(tmp_path / "run2"), *argv[-3:]]
    _fails_with(capsys, another_run, "mosaic.light.safetensors already exists: give --out")


def test_unwritable_output(train_args, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    _fails_with(capsys, train_args(**{"--out": str(blocker / "m.safetensors")}), "cannot create folder")


@pytest.mark.parametrize(
    ("name", "suggested"),
    [("mosaic", "mosaic.safetensors"), ("mosaic.pt", "mosaic.safetensors"), ("mosaic.light", "mosaic.light.safetensors")],
)
def test_a_model_name_without_safetensors_is_refused_before_training(train_args, tmp_path, capsys, name, suggested):
    _fails_with(capsys, train_args(**{"--out": str(tmp_path / name)}), f"a model file's name ends in .safetensors, e.g. {tmp_path / suggested}")
    assert not (tmp_path / "run").exists() and not (tmp_path / name).exists()


def test_export_refuses_a_model_name_without_safetensors(random_model_file, tmp_path, capsys):
    _fails_with(capsys, ["export", str(random_model_file), "--out", str(tmp_path / "copy")], "a model file's name ends in .safetensors")
    assert not (tmp_path / "copy").exists()


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--time-limit", "0", "must be positive, got 0"),
        ("--time-limit", "nan", "not a finite number: 'nan'"),
        ("--lr", "0", "must be positive, got 0"),
        ("--lr", "inf", "not a finite number: 'inf'"),
        ("--lr-min", "-1", "must be 0 or more, got -1"),
        ("--style-weight", "nan", "not a finite number: 'nan'"),
        ("--content-weight", "-2", "must be 0 or more, got -2"),
        ("--final-fraction", "5", "must be between 0 and 1, got 5"),
        ("--batch-size", "0", "must be at least 1, got 0"),
        ("--workers", "-1", "must be at least 0, got -1"),
    ],
)
def test_option_values_out_of_range_are_usage_errors_before_any_step(train_args, capsys, tmp_path, flag, value, message):
    with pytest.raises(SystemExit) as stopped:
        rtstyle(train_args(**{flag: value}))
    err = capsys.readouterr().err.strip()
    assert stopped.value.code == 2 and err.startswith(f"rtstyle train: error: argument {flag}: {message}"), err
    assert "\n" not in err and not (tmp_path / "run").exists()


def test_a_final_learning_rate_above_the_first_is_refused(train_args, capsys):
    _fails_with(capsys, [*train_args(), "--lr-schedule", "cosine", "--lr-min", "0.01"], "--lr-min must not exceed --lr (0.001), got 0.01")


def test_corrupt_checkpoint(train_args, tmp_path, capsys):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04 not really a checkpoint" * 10)
    _fails_with(capsys, [*train_args(), "--resume", str(broken)], "corrupt or unreadable checkpoint")


def test_onnx_export_matches_pytorch(random_model_file, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from realtime_style.training.export import onnx_max_difference
    from realtime_style.models.store import load_model

    out = tmp_path / "model.onnx"
    assert rtstyle(["export", str(random_model_file), "--onnx", str(out)]) == 0
    assert "max |onnxruntime - torch|" in capsys.readouterr().out
    net = load_model(random_model_file).net
    for height, width in ((33, 47), (64, 64), (90, 161)):
        assert onnx_max_difference(net, out, height, width) < 1e-4


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--onnx", "{tmp}/missing/m.onnx"], "{tmp}/missing/m.onnx: folder {tmp}/missing does not exist"),
        (["--out", "{tmp}/missing/m.safetensors"], "{tmp}/missing/m.safetensors: folder {tmp}/missing does not exist"),
        (["--onnx", "{tmp}/m.txt"], "{tmp}/m.txt: an ONNX file's name ends in .onnx, e.g. {tmp}/m.onnx"),
    ],
)
def test_export_refuses_an_output_it_would_misplace(random_model_file, tmp_path, capsys, flags, message):
    """A typo in a folder must not create a stray tree; an ONNX file must be findable as one."""
    argv = ["export", str(random_model_file), *(flag.format(tmp=tmp_path) for flag in flags)]
    _fails_with(capsys, argv, message.format(tmp=tmp_path))
    assert not (tmp_path / "missing").exists() and not (tmp_path / "m.txt").exists()


def test_export_names_an_onnx_opset_out_of_reach(random_model_file, tmp_path, capsys):
    pytest.importorskip("onnx")
    _fails_with(capsys, ["export", str(random_model_file), "--onnx", str(tmp_path / "m.onnx"), "--opset", "99"],
                "ONNX opset 99 is newer than this PyTorch exports")
    with pytest.raises(SystemExit):
        rtstyle(["export", str(random_model_file), "--onnx", str(tmp_path / "m.onnx"), "--opset", "9"])
    assert "argument --opset: must be at least 11, got 9" in capsys.readouterr().err


def test_export_needs_something_to_do(random_model_file, capsys):
    _fails_with(capsys, ["export", str(random_model_file)], "nothing to do")


def test_a_failing_step_ends_in_one_line_and_ends_the_workers(train_args, monkeypatch, capsys):
    """Any failure inside the loop, not only bad input: one line, exit 1, no DataLoader worker left behind."""
    def failing_step(*_args, **_kwargs):
        raise RuntimeError("simulated failure in a step\nwith a second line")

    monkeypatch.setattr(realtime_style.training.train, "optimizer_step", failing_step)
    monkeypatch.delenv("RTSTYLE_DEBUG", raising=False)
    assert rtstyle([*train_args(), "--workers", "1"]) == 1
    plan, err = capsys.readouterr().err.strip().split("\n", 1)  # the run's plan line, then the failure
    assert plan.startswith("training: mosaic (light)")
    assert err.startswith("rtstyle: error: unexpected RuntimeError: simulated failure in a step") and "\n" not in err
    assert "RTSTYLE_DEBUG=1" in err
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("transient", [False, True])
def test_a_diverged_run_stops_and_keeps_its_last_sound_checkpoint(train_args, tmp_path, monkeypatch, capsys, transient):
    """A NaN loss must not be trained on for hours, nor saved over the checkpoint, nor exported as a model;
    one NaN step (fp16's loss scaler skips it) is not a divergence."""
    real_step, calls = realtime_style.training.train.optimizer_step, []

    def step_going_nan(model, *args, **kwargs):
        terms = real_step(model, *args, **kwargs)
        calls.append(1)
        if len(calls) < 3 or (transient and len(calls) > 3):
            return terms
        if not transient:  # as in fp32: the NaN gradient went into the weights
            with torch.no_grad():
                for weight in model.parameters():
                    weight.fill_(float("nan"))
        return {**terms, "total": terms["total"] * float("nan")}

    monkeypatch.setattr(realtime_style.training.train, "optimizer_step", step_going_nan)
    argv = train_args(**{"--iterations": "8", "--checkpoint-every": "1"})
    if transient:
        assert rtstyle(argv) == 0 and (tmp_path / "m.safetensors").is_file()
        return
    assert rtstyle(argv) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    assert error == (
        "rtstyle: error: training diverged: the loss is nan at step 5 (a learning rate of 0.001 is too high for this "
        f"recipe, or a loss weight is extreme); the last checkpoint, {checkpoint}, holds the weights before it: "
        "--resume with a lower --lr (e.g. 0.0001)"
    )
    assert load_checkpoint(checkpoint)["step"] == 2 and not (tmp_path / "m.safetensors").exists()


@pytest.mark.slow
def test_a_failing_step_with_its_traceback_does_not_hang_on_the_workers(train_args, tmp_path):
    """RTSTYLE_DEBUG=1 lets the traceback out of main(): the process must still exit, its worker ended."""
    script = tmp_path / "fail.py"
    script.write_text(
        "import sys, realtime_style.training.train\n"
        "def boom(*a, **k): raise RuntimeError('simulated failure in a step')\n"
        "realtime_style.training.train.optimizer_step = boom\n"
        "from realtime_style.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "RTSTYLE_DEBUG": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, str(script), *train_args(), "--workers", "1"], env=env, capture_output=True, text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" in done.stderr and "simulated failure" in done.stderr


@pytest.mark.parametrize("flags", [["--image-size", "7"], ["--image-size", "8"], ["--fast", "--fast-size", "12"]])
def test_crops_too_small_for_the_loss_layers_are_refused_up_front(train_args, capsys, flags):
    _fails_with(capsys, [*train_args(), *flags], "need at least 16 pixels")


def test_unknown_loss_layer_is_one_line(train_args, capsys):
    _fails_with(capsys, [*train_args(), "--style-layers", "relu1_1,relu9_9"], "unknown VGG19 layer(s) relu9_9")


def test_a_fresh_run_refuses_a_used_run_folder(train_args, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.jsonl").write_text('{"step": 20}\n')
    _fails_with(capsys, train_args(), "already holds a run (log.jsonl): continue it with --resume")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc (a folder no one can write a file to)")
def test_an_unwritable_out_folder_is_refused_before_any_step(train_args, capsys):
    _fails_with(capsys, train_args(**{"--out": "/proc/m.safetensors"}), "cannot write the model file to /proc")


def test_an_unreadable_sample_photo_is_left_out_not_fatal(train_args, tmp_path, capsys):
    photos = write_photos(tmp_path / "photos", 4)
    broken = tmp_path / "photos" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated jpeg")
    argv = [*train_args(**{"--dataset": str(tmp_path / "photos")}), "--sample-images", str(photos[0]), str(broken)]
    assert rtstyle(argv) == 0
    err = capsys.readouterr().err
    assert "sample photo left out" in err and "broken.jpg" in err and "Traceback" not in err
    assert (tmp_path / "m.safetensors").is_file() and list((tmp_path / "run" / "samples").glob("*.png"))


def test_resume_from_a_model_or_an_image_says_what_it_is_and_never_advises_unsafe_loading(train_args, tmp_path, capsys):
    model = tmp_path / "m0.safetensors"
    model.write_bytes(b"not read")
    _fails_with(capsys, [*train_args(), "--resume", str(model)], f"is a model file, not a training checkpoint: start from it with --init {model}")
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    assert rtstyle([*train_args(), "--resume", str(photo)]) != 0
    error = capsys.readouterr().err
    assert f"corrupt or unreadable checkpoint {photo}: PyTorch cannot read it safely" in error and "weights_only" not in error
