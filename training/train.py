"""The training loop: Adam on the perceptual loss, AMP, atomic checkpoints + exact resume, DDP, logs, samples."""

from __future__ import annotations

import json
import math
import signal
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from realtime_style.runtime.engine import cpu_has_fast_bf16, select_device
from realtime_style.errors import InputError, OutputError, RtStyleError, first_line
from realtime_style.image_files import load_rgb
from realtime_style.models.store import check_model_name, load_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from .checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from .compact import warmup_factor
from .config import TrainOptions
from .data import PhotoFolder, ResumableSampler, collate, dataset_images, resize_long_side, to_tensor
from .distributed import DistContext, any_rank, any_rank_each, barrier, device_for, init_distributed, ranks_in_sync, shutdown
from .export import export_model
from .lineage import ancestry, init_record
from .provenance import StyleRecord
from .loss import DistillationLoss, PerceptualLoss
from .run_log import RunLog, warn
from .samples import load_sample_photos, save_samples
from .shrink import can_shrink, describe_config, shrink_state_dict
from .stability import stability_loss
from .step_options import StepOptions, apply_step_options, keep_adam_fused, make_adam


class TrainingInterrupted(RtStyleError):
    """A stop request (the ``stop`` event; SIGINT/SIGTERM at the command line): the checkpoint was written
    and ``--resume`` continues the run."""

    exit_code = 130


class TrainingDiverged(RtStyleError):
    """The loss stayed NaN or infinite: the run stops without writing that state over its last checkpoint."""

    exit_code = 1  # the run failed; 2 is for input the user can correct before starting


#: Steps in a row with a non-finite loss that end a run. One can pass (fp16's loss scaler skips such a step and
#: the weights stay sound); fp32 weights hit by a NaN gradient stay NaN, so they never recover in three.
DIVERGED_AFTER = 3


@dataclass
class TrainResult:
    """What a finished run produced."""

    out: Path | None
    steps: int
    wall_time_s: float
    losses: dict[str, float]
    skipped_images: int


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (auto: bf16/fp16 on CUDA, bf16 on CPUs with native bf16), None for fp32."""
    if precision == "fp32":
        return None
    if precision in ("bf16", "fp16"):
        return torch.bfloat16 if precision == "bf16" else torch.float16
    if precision != "auto":
        raise InputError(f"precision must be auto, fp32, bf16 or fp16; got {precision!r}")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if device.type == "cpu" and cpu_has_fast_bf16() else None


def check_writable(path: Path, what: str) -> None:
    """Fail early (before hours of training) when ``path`` cannot be created."""
    if path.is_dir():
        raise OutputError(f"{what} {path} is a folder")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {folder} for the {what}: {exc.strerror or exc}") from None
    try:  # a real file, not os.access: root passes access checks on folders it still cannot write to
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".rtstyle-write-test-"):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write the {what} to {folder}: {exc.strerror or exc}") from None


def optimizer_step(
    model: torch.nn.Module,
    loss: PerceptualLoss | DistillationLoss,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    photos: torch.Tensor,
    amp_dtype: torch.dtype | None,
    channels_last: bool = False,
    stability_weight: float = 0.0,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """One step on a batch of photos (on the model's device): content targets, forward, loss, backward, update.

    ``stability_weight`` > 0 adds the stability term of training/stability.py (one more forward pass),
    its perturbations drawn from ``generator``.
    """
    if channels_last:
        photos = photos.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast(photos.device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
    with autocast:
        target = loss.content_targets(photos)
        stylized = model(photos)
        terms = loss(stylized, target)
        if stability_weight:
            terms["stability"] = stability_weight * stability_loss(model, photos, stylized, generator=generator)
            terms["total"] = terms["total"] + terms["stability"]
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(terms["total"]).backward()
    scaler.step(optimizer)
    scaler.update()
    return terms


def leave_stop_signals_to_the_trainer(_worker_id: int) -> None:
    """DataLoader worker init: ignore SIGINT and SIGTERM, which the main process turns into a checkpoint.

    A stop sent to the whole process group (``kill -- -PGID``, ``pkill -f``, a service manager, Ctrl-C)
    reaches the workers too. A worker killed by SIGTERM made the main process fail with a traceback before
    it could checkpoint; ignoring the signal here lets the main process stop cleanly and end its workers.
    A worker whose main process dies outright still exits (the DataLoader watches its parent).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def end_workers(batches: object) -> None:
    """Stop a DataLoader iterator's worker processes now, whatever ended the loop.

    Left to garbage collection, the workers of a loop ended by an exception outlive it (the traceback
    keeps the iterator alive), and the process hung at exit waiting for them.
    """
    shutdown = getattr(batches, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()


def _recorded_init(state: dict | None) -> bool:
    """Whether a checkpoint already records its run's ``--init`` (so the init file is not needed again)."""
    return bool(state and json.loads(state.get("init_facts", "{}")))


class Trainer:
    """One training run (one process of a DDP job); setting ``stop`` ends it with a checkpoint."""

    def __init__(
        self, config: TrainOptions, ctx: DistContext, resume: str | None = None, stop: threading.Event | None = None
    ):
        self.config, self.ctx = config, ctx
        self.stop = stop or threading.Event()
        if config.arch not in ARCHITECTURES:
            raise InputError(f"unknown architecture {config.arch!r}; known: {', '.join(ARCHITECTURES)}")
        self.run_dir = Path(config.run_dir)
        if ctx.is_main:
            check_model_name(config.out)
            check_writable(Path(config.out), "model file")
            check_writable(self.run_dir / CHECKPOINT_NAME, "checkpoint")
        self.device = device_for(ctx, select_device(config.device))
        self.amp_dtype = autocast_dtype(self.device, config.precision)
        self.channels_last = config.channels_last if config.channels_last is not None else self.device.type == "cuda"

        resume_state = load_checkpoint(Path(resume)) if resume else None  # a bad checkpoint fails before any setup
        style_path = Path(config.style_image)
        self.style_tensor = to_tensor(resize_long_side(load_rgb(style_path), config.style_size))
        #: The painting's hash, path and provenance as loaded now; kept in checkpoints and the model file.
        self.style_record = StyleRecord.of(style_path, Path(config.sources) if config.sources else None)
        self.files = dataset_images(config.dataset, config.exclude)
        self.dataset = PhotoFolder(self.files)
        self.skipped: set[int] = set()

        #: The run's random numbers (stability perturbations); saved in checkpoints. Crops are seeded per photo.
        self.generator = torch.Generator().manual_seed(config.seed)
        with torch.random.fork_rng(devices=[]):  # the initial weights come from the seed; the process's RNG is left as it was
            torch.manual_seed(config.seed)
            self.net = TransformerNet(ARCHITECTURES[config.arch])
        #: The --init model's hash, size and lineage, as found at start (recorded in the model file).
        self.init_facts: dict = {}
        if config.init and not _recorded_init(resume_state):
            self._load_init(config.init)  # a resumed run takes its weights and init facts from the checkpoint
        self.net = self.net.to(self.device)
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.step_options = StepOptions.fast(self.device, self.amp_dtype) if config.fast_step else StepOptions.plain()
        self.optimizer = make_adam(self.net, config.lr, self.step_options)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.loss: PerceptualLoss | DistillationLoss = (
            DistillationLoss(load_model(config.teacher).net.to(self.device))
            if config.teacher
            else PerceptualLoss(self.style_tensor, config.weights, self.device)
        )
        apply_step_options(self.step_options, self.net, self.loss, self.amp_dtype)
        self.step, self.elapsed_before = 0, 0.0
        #: Set when the run resumed from a compact checkpoint without Adam's state: the learning-rate ramp.
        self.warmup: dict[str, int] = {}
        #: Earlier recipes of a run resumed with other settings: [{"until_step": s, "recipe": {...}}, ...].
        self.recipe_history: list[dict] = []
        if resume_state is not None:
            self._restore(resume_state)
        self.model = (
            DistributedDataParallel(self.net, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            if ctx.enabled
            else self.net
        )
        self.sample_photos = (
            load_sample_photos(config.sample_images, config.sample_size, warn) if ctx.is_main and config.sample_images else []
        )

    def _load_init(self, path: str) -> None:
        """Start from a trained model's weights, e.g. another style's net, or a wider net shrunk to this size."""
        start = load_model(path)
        source, target = start.net.config, self.net.config
        lineage = ancestry(path)  # its last entry is the init file itself, hashed once
        self.init_facts = {"init_sha256": lineage[-1]["sha256"], "init_size": describe_config(source), "lineage": lineage}
        if source == target:
            self.net.load_state_dict(start.net.state_dict())
        elif can_shrink(source, target):
            self.net.load_state_dict(shrink_state_dict(start.net, target))
            if self.ctx.is_main:
                print(f"init: {path} shrunk from {describe_config(source)} to {describe_config(target)}", flush=True)
        else:
            raise InputError(
                f"--init model {path} is a {start.info.arch!r} net ({describe_config(source)}); this run trains a "
                f"{describe_config(target)} {self.config.arch!r} net (an init must be the same size or wider)"
            )

    # --- state -------------------------------------------------------------------------------
    def _state(self, losses: dict[str, float]) -> dict:
        rng = {"torch": self.generator.get_state()}
        return {
            "step": self.step,
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
            "config": self.config.to_json(),
            "elapsed_s": self.elapsed(),
            "losses": json.dumps(losses),
            "skipped": sorted(self.skipped),
            "recipe_history": json.dumps(self.recipe_history),
            "init_facts": json.dumps(self.init_facts),
            "style_record": json.dumps(asdict(self.style_record)),
            "warmup": self.warmup,
        }

    def _restore(self, state: dict) -> None:
        try:
            self.net.load_state_dict(state["model"])
            if state["optimizer"]:  # a compact checkpoint may leave Adam's state out (training/compact.py)
                self.optimizer.load_state_dict(state["optimizer"])
                keep_adam_fused(self.optimizer, self.step_options)
            if state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise InputError(f"checkpoint does not match this run (--arch {self.config.arch}): {first_line(exc)}") from None
        if "torch" in state["rng"]:
            self.generator.set_state(state["rng"]["torch"])
        self.step = int(state["step"])
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        self.skipped = set(int(i) for i in state.get("skipped", []))
        self.warmup = {key: int(value) for key, value in (state.get("warmup") or {}).items()}
        self.recipe_history = json.loads(state.get("recipe_history", "[]"))
        # The init as it was when the run began: the --init file may have changed (or gone) since.
        self.init_facts = json.loads(state.get("init_facts", "{}")) or self.init_facts
        previous = TrainOptions.from_json(state["config"]).recipe()
        if previous != self.config.recipe():
            self.recipe_history.append({"until_step": self.step, "recipe": previous})

    def elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self.started)

    # --- loop --------------------------------------------------------------------------------
    def _loader(self) -> DataLoader:
        sampler = ResumableSampler(
            self.dataset,
            self.config.batch_size,
            self.config.seed,
            self.config.size_at_step,
            scale=self.config.photo_scale,
            start_step=self.step,
            num_replicas=self.ctx.world_size,
            rank=self.ctx.rank,
        )
        workers = self.config.workers
        return DataLoader(
            self.dataset,
            batch_size=self.config.batch_size,
            sampler=sampler,
            num_workers=workers,
            collate_fn=collate,
            worker_init_fn=leave_stop_signals_to_the_trainer if workers else None,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=2 if workers else None,
            # the loader's worker seeds from its own generator, not the process's RNG (crops are seeded per photo)
            generator=torch.Generator().manual_seed(self.config.seed),
        )

    def _train_step(self, photos: torch.Tensor) -> dict[str, torch.Tensor]:
        photos = photos.to(self.device, non_blocking=True)
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr_at_step(self.step) * warmup_factor(self.warmup, self.step)
        return optimizer_step(
            self.model, self.loss, self.optimizer, self.scaler, photos, self.amp_dtype, self.channels_last,
            self.config.weights.stability_weight, self.generator,
        )

    def _out_of_time(self) -> bool:
        """Whether ``time_limit_s`` has passed since this process began training (agreed by every rank)."""
        limit = self.config.time_limit_s
        if limit is None:
            return False
        return any_rank(self.ctx, time.monotonic() - self.started >= limit, self.device)

    def run(self) -> TrainResult:
        cfg, main = self.config, self.ctx.is_main
        self.started = time.monotonic()
        loader = self._loader()  # a dataset too small for one batch fails here, before any output
        if main:
            print(f"training: {self._plan()}", file=sys.stderr, flush=True)
        logger = RunLog(self.run_dir, enabled=main, resumed_at=self.step)
        window: dict[str, float] = {}
        count, last, non_finite = 0, {}, 0
        bar = tqdm(
            total=cfg.iterations, initial=self.step, unit="it", disable=not (main and cfg.progress),
            dynamic_ncols=True, mininterval=2.0, smoothing=0.05,
        )
        tick = time.monotonic()
        batches = None
        try:
            batches = iter(loader)
            while self.step < cfg.iterations:
                photos, bad = next(batches)
                self.skipped.update(bad)
                terms = self._train_step(photos)
                self.step += 1
                values = {key: float(value.detach()) for key, value in terms.items()}
                non_finite = 0 if math.isfinite(values["total"]) else non_finite + 1
                for key, value in values.items():
                    window[key] = window.get(key, 0.0) + value
                count += 1
                bar.update(1)
                out_of_time = self._out_of_time()
                finished = self.step == cfg.iterations or out_of_time
                if self.step % cfg.log_every == 0 or finished:
                    now = time.monotonic()
                    last = {k: v / count for k, v in window.items()}
                    logger.write(
                        {"step": self.step, "size": photos.shape[-1], **last, "lr": self.optimizer.param_groups[0]["lr"],
                         "it_s": count / (now - tick),
                         "elapsed_s": round(self.elapsed(), 1), "skipped_images": len(self.skipped)}
                    )
                    bar.set_postfix(loss=f"{last['total']:.3f}", size=photos.shape[-1], refresh=False)
                    window, count, tick = {}, 0, now
                unsound = bool(non_finite) and not self._sound()  # NaN weights: never checkpointed nor exported
                stop, diverged = any_rank_each(
                    self.ctx, (self.stop.is_set(), non_finite >= DIVERGED_AFTER or (finished and unsound)), self.device
                )
                if diverged:
                    raise TrainingDiverged(self._divergence(values["total"]))
                if (self.step % cfg.checkpoint_every == 0 or finished or stop) and not unsound:
                    self._checkpoint(last)
                if stop:
                    raise TrainingInterrupted(
                        f"stopped at step {self.step}/{cfg.iterations}; checkpoint in {self.run_dir / CHECKPOINT_NAME}"
                        " (continue with --resume)"
                    )
                if out_of_time:
                    break
        finally:
            end_workers(batches)
            bar.close()
            logger.close()
        in_sync = ranks_in_sync(self.ctx, self.net, self.device)
        out = None
        if main:
            facts = {**self._training_info(last), "ranks_identical": in_sync}
            trained = cfg
            if self.step < cfg.iterations:  # stopped by --time-limit: the file tells what was trained
                facts["planned_iterations"] = cfg.iterations
                trained = cfg.as_trained(self.step)
            out = export_model(self.net, trained, facts, self.style_record)
        barrier(self.ctx)
        return TrainResult(out, self.step, self.elapsed(), last, len(self.skipped))

    def _sound(self) -> bool:
        """Whether every weight is a finite number (a NaN step that fp16's loss scaler skipped leaves them so)."""
        return all(bool(torch.isfinite(p).all()) for p in self.net.parameters())

    def _divergence(self, loss: float) -> str:
        """What happened and how to go on, for a run whose loss is no longer a number."""
        saved = self.run_dir / CHECKPOINT_NAME
        kept = (
            f"the last checkpoint, {saved}, holds the weights before it: --resume with a lower --lr"
            if saved.is_file() else "no checkpoint was written yet: start again with a lower --lr"
        )
        return (
            f"training diverged: the loss is {loss} at step {self.step} (a learning rate of {self.config.lr:g} is "
            f"too high for this recipe, or a loss weight is extreme); {kept} (e.g. {self.config.lr / 10:g})"
        )

    @property
    def precision(self) -> str:
        return str(self.amp_dtype).replace("torch.", "") if self.amp_dtype else "fp32"

    def _plan(self) -> str:
        """What this run does, where it keeps its state and how to stop it, in one line."""
        cfg = self.config
        steps = " then ".join(
            f"{phase.iterations} step{'' if phase.iterations == 1 else 's'} at {phase.size}px" for phase in cfg.schedule
        )
        ranks = f" x {self.ctx.world_size} processes" if self.ctx.world_size > 1 else ""
        return (
            f"{cfg.style_name or Path(cfg.style_image).stem} ({cfg.arch}) on {len(self.files)} photos: {steps}, batch "
            f"{cfg.batch_size}, on {self.device}{ranks} in {self.precision}"
            f"{f'; resuming at step {self.step}' if self.step else ''}; a checkpoint every {cfg.checkpoint_every} "
            f"steps in {self.run_dir} (Ctrl-C stops with one; --resume goes on)"
        )

    def _checkpoint(self, losses: dict[str, float]) -> None:
        if not self.ctx.is_main:
            return
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, self._state(losses))
        if self.sample_photos:
            path = self.run_dir / "samples" / f"step_{self.step:06d}.png"
            try:
                save_samples(self.net, self.sample_photos, path, self.device)
            except OSError as exc:  # samples are a courtesy: a full disk must not end a run whose checkpoint is safe
                warn(f"could not write sample {path} ({exc.strerror or exc}); training goes on")

    def _training_info(self, losses: dict[str, float]) -> dict:
        from .provenance import describe_hardware, sha256_file

        return {
            "hardware": describe_hardware(self.device, self.ctx.world_size),
            "device": str(self.device),
            "precision": self.precision,
            "world_size": self.ctx.world_size,
            "wall_time_s": round(self.elapsed(), 1),
            "final_losses": {k: round(v, 6) for k, v in losses.items()},
            "dataset": str(self.config.dataset),
            "dataset_images": len(self.files),
            "skipped_images": len(self.skipped),
            **({"recipe_history": self.recipe_history} if self.recipe_history else {}),
            **({"teacher_sha256": sha256_file(self.config.teacher)} if self.config.teacher else {}),
            **init_record(self.init_facts, self.step, self.elapsed()),
            "torch": torch.__version__,
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


def train(config: TrainOptions, resume: str | None = None, stop: threading.Event | None = None) -> TrainResult:
    """Run (or continue) a training run in this process; joins the DDP job when under torchrun.

    Setting ``stop`` (e.g. from a signal handler at the entry point) ends the run after the current
    step with a checkpoint, and raises :class:`TrainingInterrupted`.
    """
    ctx = init_distributed(config.device)
    try:
        return Trainer(config, ctx, resume, stop).run()
    finally:
        shutdown(ctx)
