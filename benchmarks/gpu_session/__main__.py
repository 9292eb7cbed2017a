"""``python -m benchmarks.gpu_session pack | run | report``: see the package docstring and docs/gpu_session.md."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from realtime_style.errors import RtStyleError


def _pack(args: argparse.Namespace) -> int:
    from benchmarks.gpu_session.pack import PackOptions, pack

    options = PackOptions(carry=args.carry, photos=args.photos, styles_dir=args.styles_dir, styles=tuple(args.styles),
                          max_photos=args.max_photos, quality=args.quality, short_side=args.short_side,
                          wheels=() if args.no_wheels else tuple(args.wheel), set_aside_nets=not args.keep_nets)
    report = pack(options)
    print(report.summary())
    print(f'device call: run(command="PYTHONUNBUFFERED=1 python3 -m benchmarks.gpu_session run --deadline 540 --out $OUT", '
          f'carry=["{args.carry}"], timeout_s=600)')
    return 0 if report.total <= report.limit else 1


def _run(args: argparse.Namespace) -> int:
    from benchmarks.gpu_session.plan import MAX_STYLES, RunOptions, run_session

    if args.deadline <= 0:
        raise RtStyleError(f"--deadline must be a positive number of seconds, got {args.deadline}")
    if not 1 <= len(args.styles) <= MAX_STYLES:
        raise RtStyleError(f"--styles: 1 to {MAX_STYLES} styles (their model files come back in one 16 MiB archive)")
    options = RunOptions(deadline_s=args.deadline, out=args.out, device=args.device, carry=args.carry,
                         styles=tuple(args.styles), max_steps=args.max_steps)
    overrides = {key: value for key, value in (("batch_size", args.batch_size), ("image_size", args.image_size)) if value}
    if overrides:
        options = replace(options, recipe=replace(options.training_recipe(), **overrides))
    report = run_session(options)
    steps = report.get("steps", {})
    failed = [name for name, step in steps.items() if "error" in step]
    print(f"gpu_session: done in {report['elapsed_s']} s; results in {args.out}" + (f"; failed steps: {', '.join(failed)}" if failed else ""))
    return 0


def _restore(args: argparse.Namespace) -> int:
    from benchmarks.gpu_session.aside import restore

    moved = restore(Path("."))
    print(f"restored {len(moved)} net file(s) from .aside/" if moved else "nothing set aside")
    return 0


def _report(args: argparse.Namespace) -> int:
    from benchmarks.gpu_session.report import ReportOptions, make_report

    _restore(args)  # the shipped nets, set aside by pack for the upload, are what the trained ones are compared with
    options = ReportOptions(run=args.dir, docs=args.docs, models_dir=args.models_dir, styles_dir=args.styles_dir,
                            eval_photos=args.eval_photos, eval_count=args.eval_count, install=not args.no_install)
    page, verdicts = make_report(options)
    print(f"wrote {page} and {page.parent / 'gpu_report.json'}")
    for verdict in verdicts:
        print(f"{verdict.style}: {'better on both figures' if verdict.better else 'not better'}: trained {verdict.new}, shipped {verdict.shipped}")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_session", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    pack = commands.add_parser("pack", help="build the carry folder and report the upload size")
    pack.add_argument("--carry", type=Path, default=Path(".carry"), help="git-ignored folder to build (default .carry)")
    pack.add_argument("--photos", type=Path, default=Path("../shared/data/content"), help="photo folder tree")
    pack.add_argument("--styles-dir", type=Path, default=Path("../shared/data/styles"))
    pack.add_argument("--styles", nargs="+", default=["mosaic", "candy", "starry_night", "udnie"])
    pack.add_argument("--max-photos", type=int, default=None, help="at most this many photos (default: as many as fit)")
    pack.add_argument("--short-side", type=int, default=341)
    pack.add_argument("--quality", type=int, default=75, help="JPEG quality of the photos (default 75)")
    pack.add_argument("--wheel", action="append", default=["av"], help="package to carry as a wheel where it fits (default av)")
    pack.add_argument("--no-wheels", action="store_true", help="carry no wheels (no pip download)")
    pack.add_argument("--keep-nets", action="store_true",
                      help="leave the shipped nets in the working tree (they then travel: fewer photos fit)")
    pack.set_defaults(handler=_pack)

    restore = commands.add_parser("restore", help="put the shipped nets that pack set aside back into the tree")
    restore.set_defaults(handler=_restore)

    run = commands.add_parser("run", help="the time-boxed plan (on the GPU machine)")
    run.add_argument("--deadline", type=float, required=True, metavar="SECONDS", help="wall clock for the whole plan")
    run.add_argument("--out", type=Path, required=True, help="results folder (at most 8 files)")
    run.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    run.add_argument("--carry", type=Path, default=Path(".carry"))
    run.add_argument("--styles", nargs="+", default=["mosaic", "candy"], help="styles to train, in order (default mosaic candy)")
    run.add_argument("--max-steps", type=int, default=None, help="cap on each style's steps (default: as many as fit)")
    run.add_argument("--batch-size", type=int, default=None, help="training batch (default 16 on CUDA)")
    run.add_argument("--image-size", type=int, default=None, help="training crop (default 256 on CUDA)")
    run.set_defaults(handler=_run)

    report = commands.add_parser("report", help="docs/gpu_figures.md from a run's output; install better nets")
    report.add_argument("dir", type=Path, help="the run's output folder")
    report.add_argument("--docs", type=Path, default=Path("docs"))
    report.add_argument("--models-dir", type=Path, default=Path("trained_models"))
    report.add_argument("--styles-dir", type=Path, default=Path("../shared/data/styles"), help="style images")
    report.add_argument("--eval-photos", type=Path, default=None, help="eval photos (default: the held-out bsds500/val_*)")
    report.add_argument("--eval-count", type=int, default=32)
    report.add_argument("--no-install", action="store_true", help="compare only; leave trained_models/ as it is")
    report.set_defaults(handler=_report)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return args.handler(args)
    except RtStyleError as exc:
        print(f"gpu_session: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
