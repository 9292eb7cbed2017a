"""Shared fixtures. Area-specific helpers live in the test modules that use them."""

from __future__ import annotations

from pathlib import Path

# OpenCV before PyAV, as the rtstyle command does: an OpenCV window opened after PyAV loaded hangs on
# Linux, and the preview window refuses to open in that order (see realtime_style/live/window.py).
import cv2  # noqa: F401, I001
import numpy as np
import pytest
import torch

from realtime_style.models.store import ModelInfo, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; tests that need it skip where it is absent."""
    if not (SHARED_DATA / "styles").is_dir():
        pytest.skip(f"needs the project's shared data at {SHARED_DATA} (absent in a fresh clone)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def long_run() -> bool:
    """``RTSTYLE_LONG_TESTS=1``: the soak and fuzz tests at full length (minutes); by default a short run,
    sized to be worth its minutes on every change."""
    import os

    return os.environ.get("RTSTYLE_LONG_TESTS") == "1"


@pytest.fixture(scope="session")
def training_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small training set the tests make themselves, laid out as the shared data is: ``styles/mosaic.jpg``
    (the shipped copy of the painting, with the SOURCES.md that names its licence) and
    ``content/nst_classics/`` (15 made-up photos: smooth colour fields with a few hard-edged shapes)."""
    import shutil

    from PIL import Image

    from realtime_style.models.style_images import shipped_style_images_dir

    root = tmp_path_factory.mktemp("training-data")
    (root / "styles").mkdir()
    for name in ("mosaic.jpg", "SOURCES.md"):
        shutil.copy(shipped_style_images_dir() / name, root / "styles" / name)
    photos = root / "content" / "nst_classics"
    photos.mkdir(parents=True)
    rng = np.random.default_rng(15)
    for index in range(15):
        photo = np.asarray(Image.fromarray(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)).resize((160, 120), Image.BICUBIC))
        photo = photo.copy()
        for _ in range(4):
            x, y, w, h = rng.integers(0, 120), rng.integers(0, 90), rng.integers(8, 40), rng.integers(8, 30)
            photo[y : y + h, x : x + w] = rng.integers(0, 256, 3)
        Image.fromarray(photo).save(photos / ("chicago.jpg" if index == 0 else f"photo_{index:02d}.jpg"), quality=90)
    return root


@pytest.fixture
def random_model_file(tmp_path: Path) -> Path:
    """A `light` model with random (seeded) weights saved as a real model file."""
    torch.manual_seed(0)
    net = TransformerNet(ARCHITECTURES["light"])
    info = ModelInfo(style="random", arch="light", config=ARCHITECTURES["light"], license="test")
    return save_model(tmp_path / "random.light.safetensors", net, info)


@pytest.fixture
def frames() -> np.ndarray:
    """Four smooth, odd-sized RGB frames (a moving gradient with a square)."""
    h, w = 38, 54
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.zeros((4, h, w, 3), np.uint8)
    for t in range(4):
        out[t, ..., 0] = (xx * 4 + t * 10) % 256
        out[t, ..., 1] = (yy * 6) % 256
        out[t, ..., 2] = 128
        out[t, 10 + t : 20 + t, 10:20] = 255
    return out


@pytest.fixture(autouse=True, scope="session")
def backend_choice_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`--backend auto` remembers its probes under the user's cache dir: tests keep theirs in a temp folder."""
    import os

    os.environ["RTSTYLE_CACHE_DIR"] = str(tmp_path_factory.mktemp("rtstyle-cache"))
