"""Training photos: a recursive image-folder dataset, random crops, and a resumable sharded sampler.

Every random choice is a function of ``(seed, epoch, position)``, never of a worker's RNG, so a
run resumed at step ``s`` sees exactly the batches an uninterrupted run sees from step ``s`` on.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset, DistributedSampler, Sampler

from realtime_style.errors import InputError
from realtime_style.image_files import IMAGE_SUFFIXES, find_images, load_rgb
from realtime_style.image_tensors import image_to_tensor

#: A sample request: (dataset index, crop seed, crop size, short side the photo is scaled to first).
Draw = tuple[int, int, int, int]


def dataset_images(root: str | Path, exclude: Sequence[str] = ()) -> list[Path]:
    """The dataset's photos: :func:`~realtime_style.image_files.find_images` under ``root`` (minus ``exclude``
    globs) as full paths; a missing folder or one without images is an :class:`InputError`."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"dataset folder not found: {root}")
    files = [root / path for path in find_images(root, exclude)]
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {root}")
    return files


def resize_short_side(image: Image.Image, size: int) -> Image.Image:
    """Scale so that the short side is ``size`` (up or down), keeping the aspect ratio."""
    w, h = image.size
    scale = size / min(w, h)
    return image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)


def resize_long_side(image: Image.Image, size: int) -> Image.Image:
    """Scale so that the long side is ``size``, keeping the aspect ratio."""
    w, h = image.size
    scale = size / max(w, h)
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> float (3, H, W) in [0, 1]: one item of a batch."""
    return image_to_tensor(image)[0]


def random_crop(image: Image.Image, size: int, rng: random.Random, scale: int | None = None) -> Image.Image:
    """Resize the short side to ``scale`` (default ``size``) and take a ``size`` x ``size`` crop at a random place."""
    image = resize_short_side(image, max(size, scale or size))
    w, h = image.size
    left, top = rng.randint(0, w - size), rng.randint(0, h - size)
    return image.crop((left, top, left + size, top + size))


class PhotoFolder(Dataset):
    """Photos under a folder tree.

    ``dataset[(index, crop_seed, size, scale)]`` -> ((3, size, size) tensor, indices of unreadable
    files met on the way). An unreadable file is replaced by the next readable one and remembered
    (per process: DataLoader workers are separate processes, so the loop gathers the indices).
    """

    def __init__(self, files: Sequence[Path]):
        if not files:
            raise InputError("the dataset has no images")
        self.files = list(files)
        self.unreadable: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, draw: Draw) -> tuple[torch.Tensor, list[int]]:
        index, crop_seed, size, scale = draw
        met: list[int] = []
        for attempt in range(len(self.files)):
            position = (index + attempt) % len(self.files)
            if position in self.unreadable:
                continue
            try:
                image = load_rgb(self.files[position])
            except InputError:
                self.unreadable.add(position)
                met.append(position)
                continue
            return to_tensor(random_crop(image, size, random.Random(crop_seed), scale)), met
        raise InputError("no readable image in the dataset")


def collate(batch: list[tuple[torch.Tensor, list[int]]]) -> tuple[torch.Tensor, list[int]]:
    """Stack the crops; gather the indices of unreadable files met while fetching them."""
    return torch.stack([item[0] for item in batch]), [i for item in batch for i in item[1]]


class ResumableSampler(Sampler[Draw]):
    """An endless stream of draws for optimizer steps ``start_step, start_step + 1, ...``.

    Each epoch is a :class:`~torch.utils.data.DistributedSampler` permutation (seeded by ``seed``
    and the epoch; ranks get disjoint shards). Step ``s`` of a rank takes the ``batch_size`` items
    at ``(s mod steps_per_epoch) * batch_size`` of that rank's shard, so the data position is a
    function of the step alone and resuming needs nothing but the step. With ``scale``, photos are
    scaled to that short side before cropping (so small crops keep the pixel scale of large ones).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int,
        size_at_step: Callable[[int], int],
        scale: int | None = None,
        start_step: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ):
        self.sharder = DistributedSampler(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.batch_size = batch_size
        self.seed = seed
        self.size_at_step = size_at_step
        self.scale = scale
        self.start_step = start_step
        self.rank = rank
        self.steps_per_epoch = len(self.sharder) // batch_size
        if self.steps_per_epoch < 1:
            count = len(dataset)  # type: ignore[arg-type]
            where = f" on each of {num_replicas} processes" if num_replicas > 1 else ""
            raise InputError(
                f"the dataset has {count} image{'' if count == 1 else 's'}: too few for a batch of {batch_size}{where}; "
                "add photos or lower --batch-size"
            )

    def __len__(self) -> int:  # an endless stream; DataLoader only needs this for len(loader)
        return 2**62

    def __iter__(self) -> Iterator[Draw]:
        epoch, shard = -1, []
        step = self.start_step
        while True:
            step_epoch, offset = divmod(step, self.steps_per_epoch)
            if step_epoch != epoch:
                epoch = step_epoch
                self.sharder.set_epoch(epoch)
                shard = list(iter(self.sharder))
            size = self.size_at_step(step)
            for j in range(self.batch_size):
                position = offset * self.batch_size + j
                crop_seed = hash((self.seed, epoch, self.rank, position)) & 0x7FFFFFFF
                yield shard[position], crop_seed, size, self.scale or size
            step += 1
