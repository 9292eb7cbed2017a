"""Person-aware stylization: the mask's shape and steadiness, the compositions, the CLI and live key.

Real photos of people (COCO sample) and the clip with people in it come from ../shared/data; those
tests skip without it. The segmenter tests need LiteRT (``rtstyle[person]``) and skip without it.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from realtime_style.cli import main
from realtime_style.runtime.engine import EngineOptions
from realtime_style.person import Matte, MatteOptions, PersonMode, PersonOptions, compose, live_modes

#: A portrait: a woman holding a phone fills most of the frame (COCO val2017 1296).
PORTRAIT = "content/coco/val2017_000000001296.jpg"
PERSON_CLIP = "video/one-by-one-person-detection.mp4"


@pytest.fixture(scope="module")
def litert():
    return pytest.importorskip("ai_edge_litert", reason="needs LiteRT: pip install 'rtstyle[person]'")


@pytest.fixture(scope="module")
def portrait(shared_data) -> np.ndarray:
    path = shared_data / PORTRAIT
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return np.array(Image.open(path).convert("RGB"))


# ------------------------------------------------------------------------------------ the matte


def test_steady_keeps_a_share_of_the_previous_map_and_forgets_it_on_reset():
    matte = Matte(MatteOptions(smoothing=0.6))
    assert matte.steady(np.array([[0.0, 1.0]], np.float32)).tolist() == [[0.0, 1.0]]
    now = matte.steady(np.array([[1.0, 0.0]], np.float32))
    assert now[0].tolist() == pytest.approx([0.4, 0.6])
    assert matte.steady(np.array([[1.0, 0.0]], np.float32))[0].tolist() == pytest.approx([0.64, 0.36])
    matte.reset()
    assert matte.steady(np.array([[0.5, 0.5]], np.float32)).tolist() == [[0.5, 0.5]]
    assert Matte(MatteOptions(smoothing=0)).steady(np.array([[0.3]], np.float32))[0, 0] == pytest.approx(0.3)


def test_mask_is_exact_inside_and_outside_and_soft_at_the_edge():
    probability = np.zeros((64, 64), np.float32)
    probability[:, 32:] = 0.97
    mask = Matte(MatteOptions(feather=1.5)).mask(probability, (256, 256))
    assert mask.shape == (256, 256) and mask.dtype == np.float32
    assert mask[:, :100].max() == 0.0 and mask[:, 160:].min() == 1.0
    row = mask[128]
    soft = int(((row > 0.02) & (row < 0.98)).sum())
    assert 8 <= soft <= 40, row[110:150]  # a few model pixels, 4x upscaled: soft, not a cut-out, not a smear
    assert np.all(np.diff(row) >= -1e-6)


def test_compose_modes_take_each_region_from_the_right_picture():
    mask = np.zeros((4, 6), np.float32)
    mask[:, 3:] = 1.0
    original, stylized, painted = (np.full((4, 6, 3), v, np.uint8) for v in (10, 200, 90))
    assert compose(PersonMode.OFF, mask, original, stylized) is stylized
    kept = compose(PersonMode.KEEP_PERSON, mask, original, stylized)
    assert (kept[:, 3:] == 10).all() and (kept[:, :3] == 200).all()
    room = compose(PersonMode.KEEP_BACKGROUND, mask, original, stylized)
    assert (room[:, 3:] == 200).all() and (room[:, :3] == 10).all()
    two = compose(PersonMode.PERSON_STYLE, mask, original, stylized, painted)
    assert (two[:, 3:] == 90).all() and (two[:, :3] == 200).all()


def test_options_refuse_keep_with_a_person_style_and_unknown_regions():
    assert PersonOptions(keep="background").mode is PersonMode.KEEP_BACKGROUND
    assert PersonOptions(person_style="candy").mode is PersonMode.PERSON_STYLE
    with pytest.raises(ValueError, match="not both"):
        PersonOptions(keep="person", person_style="candy")
    with pytest.raises(ValueError, match="keep must be"):
        PersonOptions(keep="face")
    assert live_modes(False)[-1] is PersonMode.KEEP_BACKGROUND and live_modes(True)[-1] is PersonMode.PERSON_STYLE


# ------------------------------------------------------------------ real photos and the real clip


def test_still_keep_person_shows_the_input_inside_the_mask_and_the_style_outside(litert, portrait, shared_data):
    from realtime_style.api import Stylizer

    stylizer = Stylizer("mosaic", arch="light", keep="person", engine=EngineOptions(device="cpu", precision="fp32"))
    out = stylizer.stylize_image(portrait)
    mask = stylizer.compositor.mask(portrait)
    inside, outside = mask >= 0.999, mask <= 0.001
    assert inside.mean() > 0.3 and outside.mean() > 0.1, (inside.mean(), outside.mean())
    diff = np.abs(out.astype(int) - portrait.astype(int)).mean(axis=2)
    assert diff[inside].mean() < 1.0 and np.percentile(diff[inside], 99) <= 2
    assert diff[outside].mean() > 20, diff[outside].mean()
    edge = (mask > 0.02) & (mask < 0.98)
    assert edge.sum() > 2 * (np.abs(np.diff(mask > 0.5, axis=1)).sum()), "edge is a hard cut-out"


def test_segmenter_finds_the_person_and_not_an_empty_room(litert, portrait, shared_data):
    from realtime_style.media.sources import VideoFileSource
    from realtime_style.person import PersonSegmenter

    assert (PersonSegmenter.for_frame(*portrait.shape[1::-1])(portrait) > 0.5).mean() > 0.4
    with VideoFileSource(shared_data / PERSON_CLIP, size=(640, 360), max_frames=100) as source:
        frames = [frame.image for frame in source]
    segment = PersonSegmenter.for_frame(640, 360)
    assert segment.model == "landscape"
    assert (segment(frames[0]) > 0.5).mean() < 0.01  # the room before anyone walks in
    assert (segment(frames[99]) > 0.5).mean() > 0.05  # a person stands in it at 10 s


def test_temporal_smoothing_steadies_the_mask_edge_on_the_clip(litert, shared_data):
    from realtime_style.media.sources import VideoFileSource
    from realtime_style.person import PersonSegmenter

    with VideoFileSource(shared_data / PERSON_CLIP, size=(384, 216), max_frames=160) as source:
        frames = [frame.image for _, frame in zip(range(160), source)][120:]  # a person stands, moving a little
    segment = PersonSegmenter("landscape")
    probabilities = [segment(frame) for frame in frames]

    def change(smoothing: float) -> float:
        matte = Matte(MatteOptions(smoothing=smoothing))
        masks = [matte.mask(p, (384, 216)) for p in probabilities]
        return float(np.mean([np.abs(b - a).mean() for a, b in zip(masks, masks[1:])]))

    assert change(MatteOptions().smoothing) < 0.8 * change(0.0), (change(MatteOptions().smoothing), change(0.0))


def test_video_keep_person_writes_a_clip(litert, shared_data, tmp_path):
    out = tmp_path / "kept.mp4"
    code = main(
        ["video", str(shared_data / PERSON_CLIP), str(out), "--style", "mosaic", "--arch", "light",
         "--keep", "person", "--max-frames", "3", "--max-size", "256", "--device", "cpu", "-q"]
    )  # fmt: skip
    assert code == 0 and out.stat().st_size > 0


# --------------------------------------------------------------------------- CLI errors and live


def test_missing_litert_is_one_line_naming_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    image = tmp_path / "in.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(image)
    code = main(["still", str(image), str(tmp_path / "out.png"), "--style", "mosaic", "--arch", "light", "--keep", "person"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install 'rtstyle[person]'" in err[0], err


def test_keep_and_person_style_together_are_refused(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["still", "a.png", "b.png", "--style", "mosaic", "--keep", "person", "--person-style", "candy"])
    assert exit_info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


class PhotoSource:
    """A camera that shows one photo at ``fps``."""

    def __init__(self, image: np.ndarray, fps: float = 30.0):
        self.image, self.fps = image, fps
        self.description = "photo camera"
        self.size = (image.shape[1], image.shape[0])

    def open(self) -> None:
        pass

    def read(self) -> np.ndarray:
        import time

        time.sleep(1 / self.fps)
        return self.image

    def close(self) -> None:
        pass


def test_live_key_cycles_person_modes_and_the_status_line_shows_them(litert, portrait, random_model_file):
    from realtime_style.live.session import LiveOptions, LiveSession
    from realtime_style.live.styles import StyleBank
    from realtime_style.person.live import LivePerson
    from test_live_support import RecordingSink

    small = np.array(Image.fromarray(portrait).resize((192, 256)))
    sink = RecordingSink()
    bank = StyleBank([random_model_file], EngineOptions(device="cpu", precision="fp32"))
    person = LivePerson(PersonOptions())
    options = LiveOptions(max_frames=14, size=(192, 256), crossfade_frames=0)
    session = LiveSession(PhotoSource(small), bank, [sink], options, log=lambda _m: None, person=person)
    sink.on_frame = lambda index: session.controls.key("k") if index in (3, 8) else None
    session.run()
    statuses = [meta.status for meta in sink.metas]
    assert "person: keep person" not in statuses[0] and any("person: keep person" in s for s in statuses[5:8])
    assert any("person: keep background" in s for s in statuses[10:])
    centre = (slice(100, 160), slice(70, 120))  # the woman's face and chest
    first, kept = sink.frames[1], next(f for f, s in zip(sink.frames, statuses) if "person: keep person" in s)
    assert np.abs(kept[centre].astype(int) - small[centre]).mean() < 2
    assert np.abs(first[centre].astype(int) - small[centre]).mean() > 10
