"""A model file's ancestry: the models it was fine-tuned from (``--init``), oldest first, with what each cost.

A fine-tuned net is the sum of every stage that led to it, so its file records them all in
``training.lineage``: one entry per ancestor, each with its file's sha256 as training found it, its
recipe, steps, wall time, hardware and final losses. ``training.total_iterations`` and
``training.total_wall_time_s`` add up the whole chain.

``python -m realtime_style.training.lineage MODEL PARENT [GRANDPARENT ...]`` adds the lineage to a file trained before it
was recorded: each file must be the very file its child started from (its sha256 must equal the child's
``init_sha256``), so the chain is given as the original files, nearest first. Only the metadata changes;
the weights are written back unchanged.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from realtime_style.errors import ModelError, OutputError, RtStyleError
from realtime_style.models.store import ModelInfo, load_model, read_info, save_model
from .provenance import sha256_file
from .shrink import describe_config

#: Facts of an ancestor's own training that its entry keeps (its lineage is flattened into the list instead).
KEPT_FACTS = (
    "hardware",
    "precision",
    "wall_time_s",
    "final_losses",
    "finished_utc",
    "recipe_history",
    "init_sha256",
    "teacher_sha256",
)


def ancestor_entry(path: str | Path) -> dict:
    """One lineage entry: what the model file at ``path`` says about its own training stage."""
    info = read_info(path)
    return {
        "sha256": sha256_file(path),
        "style": info.style,
        "arch": info.arch,
        "size": describe_config(info.config),
        "iterations": info.iterations,
        "recipe": info.recipe,
        **{key: info.training[key] for key in KEPT_FACTS if key in info.training},
    }


def ancestry(init_path: str | Path) -> list[dict]:
    """The lineage of a net started from ``init_path``: that file's own lineage, then the file itself."""
    return [*read_info(init_path).training.get("lineage", []), ancestor_entry(init_path)]


def chain_ancestry(expected_init_sha256: str | None, ancestors: list[str | Path]) -> list[dict]:
    """Lineage from the original files of a chain, nearest ancestor first, each checked against its child.

    ``expected_init_sha256`` is the child's ``init_sha256``; every ancestor but the last must record the
    next one's sha256 as its own ``init_sha256``. Raises :class:`ModelError` on a broken link.
    """
    entries = []
    for ancestor in ancestors:
        if not expected_init_sha256:
            raise ModelError("no init_sha256 recorded: that model was not fine-tuned from another model file")
        try:
            entry = ancestor_entry(ancestor)
        except OSError as exc:
            raise ModelError(f"cannot read {ancestor}: {exc.strerror or exc}") from None
        if entry["sha256"] != expected_init_sha256:
            raise ModelError(f"{ancestor} is not the file its child was fine-tuned from (sha256 differs from init_sha256)")
        entries.append(entry)
        expected_init_sha256 = entry.get("init_sha256")
    return [*read_info(ancestors[-1]).training.get("lineage", []), *reversed(entries)]


def lineage_totals(iterations: int, wall_time_s: float, lineage: list[dict]) -> dict:
    """Steps and wall time of the whole chain: this stage plus every ancestor."""
    return {
        "total_iterations": int(iterations) + sum(int(entry.get("iterations", 0)) for entry in lineage),
        "total_wall_time_s": round(float(wall_time_s) + sum(float(entry.get("wall_time_s", 0.0)) for entry in lineage), 1),
    }


def init_record(init_facts: dict, iterations: int, wall_time_s: float) -> dict:
    """What a model file records of its ``--init`` (hash, size, lineage), with the chain's totals; {} without one."""
    if not init_facts:
        return {}
    return {**init_facts, **lineage_totals(iterations, wall_time_s, init_facts["lineage"])}


def with_lineage(info: ModelInfo, ancestors: list[str | Path]) -> ModelInfo:
    """``info`` with the lineage of ``ancestors`` (nearest first; see :func:`chain_ancestry`)."""
    lineage = chain_ancestry(info.training.get("init_sha256"), ancestors)
    training = {
        **info.training,
        "lineage": lineage,
        **lineage_totals(info.iterations, info.training.get("wall_time_s", 0.0), lineage),
    }
    return replace(info, training=training)


def attach_lineage(model: str | Path, ancestors: list[str | Path]) -> ModelInfo:
    """Rewrite ``model``'s metadata with the lineage of ``ancestors`` (weights unchanged); returns the new metadata."""
    style = load_model(Path(model))
    info = with_lineage(style.info, ancestors)
    try:
        save_model(model, style.net, info)
    except OSError as exc:
        raise OutputError(f"cannot write model file {model}: {exc.strerror or exc}") from None
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m realtime_style.training.lineage", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model file to annotate (rewritten in place)")
    parser.add_argument("ancestors", nargs="+", metavar="PARENT", help="the file it was fine-tuned from (--init), then that file's own parent, and so on, as they were")
    args = parser.parse_args(argv)
    try:
        info = attach_lineage(args.model, args.ancestors)
    except RtStyleError as exc:
        print(f"training.lineage: error: {exc}", file=sys.stderr)
        return 2
    totals = {key: info.training[key] for key in ("total_iterations", "total_wall_time_s")}
    print(f"{args.model}: {len(info.training['lineage'])} ancestors, {totals}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
