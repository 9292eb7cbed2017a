"""The configuration of a training run and its resolution schedule."""

from __future__ import annotations

import json
import math
from pathlib import Path
from dataclasses import asdict, dataclass, field, fields, replace

from .loss import LossWeights


@dataclass(frozen=True)
class Phase:
    """``iterations`` optimizer steps on ``size`` x ``size`` crops."""

    size: int
    iterations: int


@dataclass
class TrainOptions:
    """Everything that defines a training run (the recipe) and where it writes."""

    style_image: str
    dataset: str
    out: str
    run_dir: str
    style_name: str | None = None
    exclude: tuple[str, ...] = ()
    arch: str = "standard"
    schedule: tuple[Phase, ...] = (Phase(256, 2000),)
    style_size: int = 512
    #: Short side photos are scaled to before cropping (default: the largest crop of the schedule).
    scale_size: int | None = None
    batch_size: int = 4
    lr: float = 1e-3
    #: ``constant``, or ``cosine``: from ``lr`` down to ``lr_min`` over the run's steps (a quieter finish).
    lr_schedule: str = "constant"
    lr_min: float = 0.0
    seed: int = 0
    weights: LossWeights = field(default_factory=LossWeights)
    checkpoint_every: int = 200
    log_every: int = 20
    sample_images: tuple[str, ...] = ()
    sample_size: int = 256
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool | None = None
    #: Compute the step the fastest measured way (training/step_options.py); same losses, not part of the recipe.
    fast_step: bool = True
    workers: int = 1
    progress: bool = True
    sources: str | None = None
    #: A trained model file to distill from (pixel L1 to its outputs) instead of the perceptual loss.
    teacher: str | None = None
    #: A trained model file whose weights start the run (fine-tuning) instead of a random init.
    init: str | None = None
    #: Stop after this many seconds of training in this process, with a checkpoint and a model file at the
    #: step reached (``--resume`` goes on to ``iterations``); not part of the recipe.
    time_limit_s: float | None = None

    @property
    def iterations(self) -> int:
        return sum(phase.iterations for phase in self.schedule)

    def size_at_step(self, step: int) -> int:
        """Crop size of optimizer step ``step`` (0-based)."""
        for phase in self.schedule:
            if step < phase.iterations:
                return phase.size
            step -= phase.iterations
        return self.schedule[-1].size

    def lr_at_step(self, step: int) -> float:
        """Adam's learning rate for optimizer step ``step`` (0-based); a function of the step, so resume is exact."""
        if self.lr_schedule == "constant":
            return self.lr
        if self.lr_schedule != "cosine":  # e.g. a checkpoint from a newer version: never guess a schedule
            raise ValueError(f"unknown learning-rate schedule {self.lr_schedule!r}")
        progress = min(step / self.iterations, 1.0)
        return self.lr_min + 0.5 * (self.lr - self.lr_min) * (1.0 + math.cos(math.pi * progress))

    def schedule_until(self, steps: int) -> tuple[Phase, ...]:
        """The schedule cut off after ``steps`` steps (what a run stopped there actually trained)."""
        phases, left = [], steps
        for phase in self.schedule:
            if left <= 0:
                break
            phases.append(Phase(phase.size, min(phase.iterations, left)))
            left -= phase.iterations
        return tuple(phases)

    def as_trained(self, steps: int) -> "TrainOptions":
        """This configuration as a run stopped after ``steps`` steps trained it (same photo scale), for its model file."""
        return replace(self, schedule=self.schedule_until(steps), scale_size=self.photo_scale)

    @property
    def photo_scale(self) -> int:
        return self.scale_size or max(phase.size for phase in self.schedule)

    def recipe(self) -> dict:
        """The parts that determine the trained weights (recorded in the model file)."""
        return {
            "arch": self.arch,
            "schedule": [[p.size, p.iterations] for p in self.schedule],
            "iterations": self.iterations,
            "style_size": self.style_size,
            "scale_size": self.photo_scale,
            "batch_size": self.batch_size,
            "lr": self.lr,
            **({"lr_schedule": self.lr_schedule, "lr_min": self.lr_min} if self.lr_schedule != "constant" else {}),
            "seed": self.seed,
            "exclude": list(self.exclude),
            **({"teacher": Path(self.teacher).name} if self.teacher else self.weights.to_dict()),
            **({"init": Path(self.init).name} if self.init else {}),
        }

    def to_json(self) -> str:
        data = asdict(self)
        data["schedule"] = [[p.size, p.iterations] for p in self.schedule]
        data["weights"] = self.weights.to_dict()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TrainOptions":
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data["schedule"] = tuple(Phase(int(s), int(n)) for s, n in data["schedule"])
        w = data["weights"]
        w = {**w, "style_layers": tuple(w["style_layers"])}
        if "extra_content_layers" in w:
            w["extra_content_layers"] = tuple((str(layer), float(weight)) for layer, weight in w["extra_content_layers"])
        if "style_layer_weights" in w:
            w["style_layer_weights"] = tuple(float(v) for v in w["style_layer_weights"])
        data["weights"] = LossWeights(**w)
        data["exclude"] = tuple(data.get("exclude", ()))
        data["sample_images"] = tuple(data.get("sample_images", ()))
        return cls(**data)


def build_schedule(iterations: int, image_size: int, fast: bool, fast_size: int, final_fraction: float) -> tuple[Phase, ...]:
    """One phase at ``image_size``, or with ``fast``: most steps at ``fast_size``, the last ``final_fraction`` at ``image_size``."""
    if not fast or fast_size >= image_size:
        return (Phase(image_size, iterations),)
    final = max(1, round(iterations * final_fraction))
    return (Phase(fast_size, iterations - final), Phase(image_size, final))


def parse_schedule(text: str) -> tuple[Phase, ...]:
    """``"128:3000,256:500"`` -> phases; raises ValueError on malformed text."""
    phases = []
    for part in text.split(","):
        size, _, count = part.strip().partition(":")
        phase = Phase(int(size), int(count))
        if phase.size < 16 or phase.iterations < 0:
            raise ValueError(f"bad schedule phase {part!r}: size >= 16 and iterations >= 0 expected")
        phases.append(phase)
    if not phases or sum(p.iterations for p in phases) < 1:
        raise ValueError(f"schedule {text!r} has no iterations")
    return tuple(phases)
