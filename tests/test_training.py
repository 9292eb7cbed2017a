"""Training on the CPU at 64 px with the light network: loss goes down, resume is exact, DDP keeps ranks equal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from realtime_style.models.store import ModelInfo, load_model, read_info, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from realtime_style.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from realtime_style.training.compact import main as compact_main
from realtime_style.training.config import Phase, TrainOptions
from realtime_style.training.export import export_checkpoint
from realtime_style.training.loss import LossWeights
from realtime_style.training.shrink import shrink_state_dict
from realtime_style.training.run_log import RunLog
from realtime_style.training.train import TrainingInterrupted, train

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny runs gain nothing from a second thread, and spinning OpenMP threads collapse on a busy CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_config(training_data: Path, tmp_path: Path, iterations: int, **overrides) -> TrainOptions:
    """A tiny, fast run: light net, 64 px crops of the 15 made-up photos, batch 2."""
    base = TrainOptions(
        style_image=str(training_data / "styles" / "mosaic.jpg"),
        dataset=str(training_data / "content" / "nst_classics"),
        out=str(tmp_path / "out" / "mosaic.light.safetensors"),
        run_dir=str(tmp_path / "run"),
        arch="light",
        schedule=(Phase(64, iterations),),
        style_size=128,
        batch_size=2,
        lr=5e-3,
        seed=3,
        weights=LossWeights(),
        checkpoint_every=2,
        log_every=1,
        workers=0,
        progress=False,
    )
    return replace(base, **overrides)


def read_log(run_dir: str | Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_short_run_lowers_the_loss_and_writes_a_complete_model(training_data, tmp_path):
    config = make_config(training_data, tmp_path, iterations=12, sample_images=(str(training_data / "content" / "nst_classics" / "chicago.jpg"),))
    result = train(config)
    log = read_log(config.run_dir)
    first, last = sum(r["total"] for r in log[:3]) / 3, sum(r["total"] for r in log[-3:]) / 3
    assert last < 0.7 * first, (first, last)
    assert result.steps == 12 and result.out == Path(config.out)
    info = read_info(config.out)
    assert info.style == "mosaic" and info.arch == "light" and info.iterations == 12
    assert info.style_image == "mosaic.jpg" and "pytorch/examples" in (info.style_source or "")
    assert "BSD" in (info.license or "")
    assert len(info.training["style_image_sha256"]) == 64
    assert info.training["wall_time_s"] > 0 and "total" in info.training["final_losses"]
    assert info.recipe["schedule"] == [[64, 12]] and info.recipe["style_weight"] == LossWeights().style_weight
    load_model(config.out)  # loads as a shipped-style file would
    assert sorted(p.name for p in (Path(config.run_dir) / "samples").iterdir())[-1] == "step_000012.png"
    from realtime_style.cli import main as rtstyle

    exported = tmp_path / "from_checkpoint.light.safetensors"
    assert rtstyle(["export", str(Path(config.run_dir) / CHECKPOINT_NAME), "--out", str(exported)]) == 0
    again = read_info(exported)
    assert again.iterations == 12 and again.recipe == info.recipe and again.training["from_checkpoint_step"] == 12
    torch.testing.assert_close(load_model(exported).net.state_dict(), load_model(config.out).net.state_dict())


def _stop_after(run_dir: Path, step: int, stop: threading.Event) -> threading.Thread:
    """Set ``stop`` (what the command line's SIGINT/SIGTERM handler does) once the run has logged ``step``."""

    def watch() -> None:
        log = run_dir / "log.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if log.is_file() and any(json.loads(l)["step"] >= step for l in log.read_text().splitlines()):
                stop.set()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(training_data, tmp_path):
    # a cosine learning rate too: the rate is a function of the step, so a resumed run picks it up where it was
    cosine = {"lr_schedule": "cosine", "lr_min": 5e-4}
    whole = make_config(training_data, tmp_path / "whole", iterations=6, **cosine)
    train(whole)

    parts = make_config(training_data, tmp_path / "parts", iterations=6, **cosine)
    stop = threading.Event()
    watcher = _stop_after(Path(parts.run_dir), step=2, stop=stop)
    with pytest.raises(TrainingInterrupted, match="--resume"):
        train(parts, stop=stop)
    watcher.join()
    stopped_at = load_checkpoint(Path(parts.run_dir) / CHECKPOINT_NAME)["step"]
    assert 2 <= stopped_at < 6
    train(parts, resume=str(Path(parts.run_dir) / CHECKPOINT_NAME))

    expected, got = load_model(whole.out).net.state_dict(), load_model(parts.out).net.state_dict()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-6, msg=key)
    # the same batches in the same order: the logged losses agree step by step after the resume
    whole_log = {r["step"]: r["total"] for r in read_log(whole.run_dir)}
    parts_log = {r["step"]: r["total"] for r in read_log(parts.run_dir)}
    assert all(abs(parts_log[s] - whole_log[s]) <= 1e-5 * abs(whole_log[s]) for s in whole_log)
    rates = [r["lr"] for r in read_log(parts.run_dir)]
    assert rates[0] == pytest.approx(5e-3) and all(a > b for a, b in zip(rates, rates[1:])) and rates[-1] > 5e-4
    assert read_info(parts.out).recipe["lr_schedule"] == "cosine"


def test_resuming_a_killed_run_drops_the_log_records_past_its_checkpoint(training_data, tmp_path, capsys):
    """A run killed between checkpoints logged steps it trains again: the log keeps each step once."""
    config = make_config(training_data, tmp_path, iterations=2)
    train(config)
    early = tmp_path / "step2.pt"
    early.write_bytes((Path(config.run_dir) / CHECKPOINT_NAME).read_bytes())
    longer = replace(config, schedule=(Phase(64, 4),))
    train(longer, resume=str(early))  # logs steps 3 and 4; then "killed", as if its last checkpoint were step 2's
    first = read_log(config.run_dir)
    log = Path(config.run_dir) / "log.jsonl"
    log.write_text(log.read_text() + 'not a record\n{"step": 5, "size"')  # and a record cut short by the kill
    capsys.readouterr()
    train(longer, resume=str(early))
    assert "dropped the log's 2 records past step 2" in capsys.readouterr().err
    lines = log.read_text().splitlines()
    assert "not a record" in lines and '{"step": 5, "size"' in lines  # what is not a record is kept, on its own line
    again = [json.loads(line) for line in lines if line.startswith('{"step": ') and line.endswith("}")]
    assert [r["step"] for r in again] == [1, 2, 3, 4]
    assert [r["total"] for r in again] == pytest.approx([r["total"] for r in first], rel=1e-5)
    log.write_text(log.read_text() + '{"step": 4, "size"')  # only a cut-short line: ended, and no warning
    train(longer, resume=str(Path(config.run_dir) / CHECKPOINT_NAME))
    assert "dropped" not in capsys.readouterr().err and log.read_text().endswith("\n")


def test_time_limit_stops_with_a_model_file_and_resume_goes_on(training_data, tmp_path):
    """--time-limit: a checkpoint and a model file at the step reached, which says so; --resume finishes the plan."""
    config = make_config(training_data, tmp_path, iterations=4, lr_schedule="cosine", lr_min=5e-4, time_limit_s=1e-9)
    result = train(config)
    assert result.steps == 1 and load_checkpoint(Path(config.run_dir) / CHECKPOINT_NAME)["step"] == 1
    info = read_info(config.out)
    assert info.iterations == 1 and info.recipe["schedule"] == [[64, 1]]
    assert info.training["planned_iterations"] == 4
    longer = replace(config, time_limit_s=None)
    assert train(longer, resume=str(Path(config.run_dir) / CHECKPOINT_NAME)).steps == 4
    finished = read_info(config.out)
    assert finished.iterations == 4 and "planned_iterations" not in finished.training
    rates = [r["lr"] for r in read_log(config.run_dir)]
    assert len(rates) == 4 and all(a > b for a, b in zip(rates, rates[1:]))  # one cosine curve over the 4 planned steps


@pytest.mark.slow
def test_sigterm_to_the_whole_process_group_checkpoints_without_a_traceback(training_data, tmp_path):
    """``kill -- -PGID`` (pkill -f, service managers) also reaches the DataLoader worker; the run must still stop cleanly."""
    run_dir = tmp_path / "run"
    command = [
        sys.executable, "-m", "realtime_style.training", "--style-image", str(training_data / "styles" / "mosaic.jpg"),
        "--dataset", str(training_data / "content" / "nst_classics"), "--out", str(tmp_path / "m.light.safetensors"),
        "--run-dir", str(run_dir), "--arch", "light", "--image-size", "64", "--batch-size", "2", "--style-size", "128",
        "--iterations", "100000", "--checkpoint-every", "100000", "--log-every", "1", "--workers", "1", "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not ((run_dir / "log.jsonl").is_file() and (run_dir / "log.jsonl").read_text().strip()):
            assert process.poll() is None and time.monotonic() < deadline, "the run did not start"
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "training stopped at step" in stderr, stderr
    assert load_checkpoint(run_dir / CHECKPOINT_NAME)["step"] >= 1


def test_compact_checkpoint_resumes_close_to_the_full_one(training_data, tmp_path):
    """A compact copy (float16 weights, bfloat16 moments, or no optimizer and a learning-rate ramp) goes on from its step."""
    config = make_config(training_data, tmp_path / "first", iterations=3, time_limit_s=None)
    train(replace(config, schedule=(Phase(64, 3),)))
    full = Path(config.run_dir) / CHECKPOINT_NAME
    state = load_checkpoint(full)
    with_moments, without = tmp_path / "with.pt", tmp_path / "without.pt"
    assert compact_main([str(full), str(with_moments)]) == 0
    assert compact_main([str(full), str(without), "--no-optimizer", "--warmup-steps", "4"]) == 0
    assert without.stat().st_size < with_moments.stat().st_size < full.stat().st_size
    exact = load_checkpoint(with_moments)
    assert all(v.dtype == torch.float16 for v in exact["model"].values() if v.is_floating_point())
    assert {m.dtype for moments in exact["optimizer"]["state"].values() for k, m in moments.items() if k != "step"} == {torch.bfloat16}
    for key, value in state["model"].items():
        torch.testing.assert_close(exact["model"][key].float(), value, rtol=2e-3, atol=1e-4, msg=key)

    longer = replace(config, schedule=(Phase(64, 6),))
    for name, source in (("exact", full), ("with", with_moments), ("without", without)):
        run = replace(longer, run_dir=str(tmp_path / name), out=str(tmp_path / name / "m.safetensors"))
        assert train(run, resume=str(source)).steps == 6
    rates = {name: [r["lr"] for r in read_log(tmp_path / name)] for name in ("exact", "with", "without")}
    assert rates["with"] == rates["exact"]
    assert rates["without"] == [pytest.approx(r * f) for r, f in zip(rates["exact"], (0.25, 0.5, 0.75))]
    # the ramp is part of the run's state: it survives the next full checkpoint
    assert load_checkpoint(tmp_path / "without" / CHECKPOINT_NAME)["warmup"] == {"from_step": 3, "steps": 4}


def test_compact_refuses_a_negative_warmup(tmp_path, capsys):
    assert compact_main([str(tmp_path / "none.pt"), str(tmp_path / "out.pt"), "--warmup-steps", "-1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cosine_learning_rate_falls_from_lr_to_lr_min(tmp_path):
    config = TrainOptions(style_image="s.jpg", dataset="d", out="o", run_dir="r", schedule=(Phase(64, 100),), lr=1e-3,
                         lr_schedule="cosine", lr_min=1e-5)
    assert config.lr_at_step(0) == pytest.approx(1e-3)
    assert config.lr_at_step(50) == pytest.approx((1e-3 + 1e-5) / 2)
    assert config.lr_at_step(100) == pytest.approx(1e-5)
    assert config.recipe()["lr_min"] == 1e-5
    constant = replace(config, lr_schedule="constant")
    assert {constant.lr_at_step(s) for s in (0, 50, 99)} == {1e-3}
    assert "lr_schedule" not in constant.recipe()  # recipes of constant-rate runs read as before
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        replace(config, lr_schedule="linear").lr_at_step(0)


@pytest.mark.slow
def test_two_process_gloo_run_keeps_ranks_identical(training_data, tmp_path):
    out = tmp_path / "ddp.light.safetensors"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "realtime_style.training",
        "--style-image", str(training_data / "styles" / "mosaic.jpg"),
        "--dataset", str(training_data / "content" / "nst_classics"),
        "--out", str(out), "--run-dir", str(tmp_path / "run"), "--arch", "light", "--image-size", "64",
        "--style-size", "128", "--batch-size", "2", "--iterations", "3", "--workers", "0", "--no-progress",
        "--device", "cpu", "--log-every", "1",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    info = read_info(out)
    assert info.training["world_size"] == 2
    assert info.training["ranks_identical"] is True
    # only rank 0 writes: one log, one checkpoint
    assert len(read_log(tmp_path / "run")) == 3
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.is_file()) == [CHECKPOINT_NAME, "log.jsonl"]


def test_distillation_from_a_teacher_model(training_data, tmp_path, random_model_file):
    config = make_config(training_data, tmp_path, iterations=12, teacher=str(random_model_file), lr=2e-3)
    train(config)
    log = read_log(config.run_dir)
    assert sum(r["distill"] for r in log[-3:]) < 0.7 * sum(r["distill"] for r in log[:3])
    info = read_info(config.out)
    assert info.recipe["teacher"] == random_model_file.name and "style_weight" not in info.recipe
    assert len(info.training["teacher_sha256"]) == 64


def test_init_starts_from_a_trained_models_weights(training_data, tmp_path, random_model_file):
    """--init fine-tunes: step 0 is the given net, and the recipe names where it started."""
    config = make_config(training_data, tmp_path, iterations=1, init=str(random_model_file), lr=1e-12)
    train(config)
    start, tuned = load_model(random_model_file).net.state_dict(), load_model(config.out).net.state_dict()
    assert all(torch.allclose(start[k], tuned[k], atol=1e-6) for k in start)
    assert read_info(config.out).recipe["init"] == random_model_file.name


def test_init_refuses_another_architecture(training_data, tmp_path, random_model_file):
    from realtime_style.errors import InputError

    config = make_config(training_data, tmp_path, iterations=1, init=str(random_model_file), arch="standard")
    with pytest.raises(InputError, match="light"):
        train(config)


def test_full_disk_for_logs_and_samples_warns_and_training_goes_on(training_data, tmp_path, monkeypatch, capsys):
    """Only the checkpoint decides whether a run can go on; the log and the sample sheets are courtesies."""
    import errno

    import realtime_style.training.train as train_module

    class FullDisk:
        def write(self, _text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self) -> None: ...

        def close(self) -> None: ...

    def no_space(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    real_init = RunLog.__init__

    def logger_on_a_full_disk(self, run_dir, enabled, resumed_at=0):
        real_init(self, run_dir, enabled, resumed_at)
        self.handle = FullDisk()

    monkeypatch.setattr(RunLog, "__init__", logger_on_a_full_disk)
    monkeypatch.setattr(train_module, "save_samples", no_space)
    photo = str(training_data / "content" / "nst_classics" / "chicago.jpg")
    config = make_config(training_data, tmp_path, iterations=2, sample_images=(photo,), sample_size=32)
    result = train(config)
    assert result.steps == 2 and Path(config.out).is_file()
    assert load_checkpoint(Path(config.run_dir) / CHECKPOINT_NAME)["step"] == 2
    err = capsys.readouterr().err
    assert "training: warning: could not write sample" in err and "could not write the training log" in err
    assert "Traceback" not in err


def test_init_from_a_wider_net_shrinks_it(training_data, tmp_path):
    """--init with a standard net on a light run starts from the standard net's most-used channels."""
    torch.manual_seed(0)
    wide = TransformerNet(ARCHITECTURES["standard"])
    info = ModelInfo(style="random", arch="standard", config=ARCHITECTURES["standard"], license="test")
    wide_file = save_model(tmp_path / "random.safetensors", wide, info)
    config = make_config(training_data, tmp_path, iterations=1, init=str(wide_file), lr=1e-12)
    train(config)
    tuned = load_model(config.out)
    assert tuned.net.config == ARCHITECTURES["light"]
    expected = shrink_state_dict(load_model(wide_file).net, ARCHITECTURES["light"])  # as stored: float16
    assert all(torch.allclose(expected[k].half().float(), v, atol=1e-6) for k, v in tuned.net.state_dict().items())
    facts = read_info(config.out).training
    assert facts["init_size"] == "32/64/128 x5 k9" and len(facts["init_sha256"]) == 64
    assert [entry["sha256"] for entry in facts["lineage"]] == [facts["init_sha256"]]
    assert facts["total_iterations"] == 1
    # A checkpoint exported later carries the same ancestry, even once the init file is gone.
    wide_file.unlink()
    exported = export_checkpoint(Path(config.run_dir) / CHECKPOINT_NAME, tmp_path / "exported.safetensors")
    again = read_info(exported).training
    assert again["lineage"] == facts["lineage"] and again["init_sha256"] == facts["init_sha256"]
    assert again["total_iterations"] == 1
    # So does a resumed run: its checkpoint replaces the init, which is not read again.
    longer = replace(config, schedule=(Phase(64, 2),))
    train(longer, resume=str(Path(config.run_dir) / CHECKPOINT_NAME))
    resumed = read_info(config.out).training
    assert resumed["lineage"] == facts["lineage"] and resumed["total_iterations"] == 2


def test_a_checkpoint_exports_from_any_folder_once_the_painting_has_moved(training_data, tmp_path, monkeypatch):
    """The checkpoint keeps the style image's hash, path and licence as the run found them."""
    import shutil

    from realtime_style.errors import ModelError
    from realtime_style.training.checkpoint import save_checkpoint

    shutil.copytree(training_data / "styles", tmp_path / "paintings")
    monkeypatch.chdir(tmp_path)
    config = make_config(training_data, tmp_path, iterations=1, style_image="paintings/mosaic.jpg")
    trained = read_info(train(config).out).training
    checkpoint = Path(config.run_dir) / CHECKPOINT_NAME
    shutil.rmtree(tmp_path / "paintings")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    exported = read_info(export_checkpoint(checkpoint, tmp_path / "exported.safetensors"))
    assert exported.training["style_image_sha256"] == trained["style_image_sha256"]
    assert exported.training["style_image_path"] == str(tmp_path / "paintings" / "mosaic.jpg")
    assert exported.license == read_info(config.out).license and exported.license
    state = load_checkpoint(checkpoint)
    del state["format"]
    save_checkpoint(checkpoint, {**state, "style_record": '{"sha": 1}'})
    with pytest.raises(ModelError, match="unreadable style record"):
        export_checkpoint(checkpoint, tmp_path / "bad.safetensors")
    # A checkpoint from before records were kept needs the painting at its recorded (relative) path.
    del state["style_record"]
    save_checkpoint(checkpoint, state)
    with pytest.raises(ModelError, match="run export from the folder the training ran in"):
        export_checkpoint(checkpoint, tmp_path / "again.safetensors")


@pytest.mark.slow
def test_a_checkpoint_of_the_plain_step_resumes_with_the_fast_step(training_data, tmp_path):
    """The fast step (training/step_options.py) continues a run checkpointed by the plain one, on the same loss curve.

    In float32: under bf16 autocast the fast step's channels-last convolutions (CPUs without AMX) round differently,
    and 4 Adam steps at lr 5e-3 carry that to 10 levels of output (Zen 4); tests/test_training_step.py bounds the
    bf16 step's losses instead."""
    whole = make_config(training_data, tmp_path / "whole", iterations=4, fast_step=False, precision="fp32")
    train(whole)
    parts = make_config(training_data, tmp_path / "parts", iterations=2, fast_step=False, precision="fp32")
    train(parts)
    train(replace(parts, schedule=(Phase(64, 4),), fast_step=True), resume=str(Path(parts.run_dir) / CHECKPOINT_NAME))

    whole_log = {r["step"]: r["total"] for r in read_log(whole.run_dir)}
    parts_log = {r["step"]: r["total"] for r in read_log(parts.run_dir)}
    assert sorted(parts_log) == [1, 2, 3, 4]
    assert all(abs(parts_log[s] - whole_log[s]) <= 1e-4 * abs(whole_log[s]) for s in whole_log), (whole_log, parts_log)
    # Compared by what the nets compute, within one 8-bit level: Adam's first steps move every weight by about lr
    # whatever its gradient's size, so float rounding in near-zero gradients (e.g. of a conv bias that InstanceNorm
    # cancels) moves single weights by up to lr; measured: 2e-3 at most after 4 steps at lr 5e-3.
    photo = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(load_model(parts.out).net(photo), load_model(whole.out).net(photo), rtol=0, atol=1 / 255)


def test_a_run_leaves_the_process_random_state_alone(training_data, tmp_path):
    # the net's initial weights, the loader and the stability term draw from the run's own seeded generators
    config = make_config(training_data, tmp_path / "rng", iterations=2, weights=LossWeights(stability_weight=1.0))
    before = torch.get_rng_state()
    train(config)
    assert torch.equal(torch.get_rng_state(), before)
