"""CPU inference backends: OpenVINO matches torch, compiles once per shape, and `auto` probes once.

The accuracy guard runs the shipped mosaic nets on real photos (``../shared/data/content``); the
tolerance: OpenVINO in f32 within 2 8-bit levels of torch fp32 anywhere and 0.05 levels on average
(measured: max 1, mean < 0.001 on the 2-core EPYC).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from media_helpers import single_thread  # noqa: F401  (fixture)
from PIL import Image

from realtime_style.errors import DeviceError
from realtime_style.models.store import load_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from realtime_style.runtime.backends import auto as auto_module
from realtime_style.runtime.backends import openvino_net
from realtime_style.runtime.backends.auto import AutoNet, TorchNet
from realtime_style.runtime.backends.choices import Choice, ChoiceFile
from realtime_style.runtime.color import Look
from realtime_style.runtime.engine import Engine, EngineOptions, select_backend

#: One torch thread, as the engines here had before threads became the process's: OpenVINO takes torch's count.
pytestmark = pytest.mark.usefixtures("single_thread")

needs_openvino = pytest.mark.skipif(
    openvino_net.openvino_status() is not None, reason=str(openvino_net.openvino_status())
)
#: 8-bit levels: the largest and the mean difference OpenVINO (f32) may show against torch fp32.
MAX_LEVELS, MEAN_LEVELS = 2, 0.05


def engine(net, backend: str, **options) -> Engine:
    return Engine(net, EngineOptions(device="cpu", precision="fp32", backend=backend, **options))


def levels(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return float(diff.mean()), int(diff.max())


@pytest.fixture(scope="module")
def light_net() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet(ARCHITECTURES["light"]).eval()


@needs_openvino
@pytest.mark.parametrize("arch", ["standard", "light"])
def test_openvino_matches_torch_on_real_photos(shared_data: Path, arch: str) -> None:
    from realtime_style.metrics.style import select_photos

    model = load_model("mosaic", None if arch == "standard" else "light")
    reference, openvino = engine(model, "torch"), engine(model, "openvino")
    for path in select_photos(shared_data / "content", 2):
        image = Image.open(path).convert("RGB")
        image.thumbnail((240, 240))
        photo = np.asarray(image)
        mean, worst = levels(openvino.stylize(photo), reference.stylize(photo))
        assert worst <= MAX_LEVELS and mean <= MEAN_LEVELS, f"{path.name} {photo.shape}: mean {mean:.3f}, max {worst}"


@needs_openvino
def test_openvino_keeps_strength_colour_batches_and_odd_sizes(light_net, frames) -> None:
    reference, openvino = engine(light_net, "torch", batch_size=2), engine(light_net, "openvino", batch_size=2)
    for look in (Look(1.0, False), Look(0.4, True)):
        odd = frames[:3, :37, :51]  # 3 frames in batches of 2, a size that is no multiple of 4
        out = openvino.stylize(odd, look)
        assert out.shape == odd.shape and out.dtype == np.uint8
        mean, worst = levels(out, reference.stylize(odd, look))
        assert worst <= MAX_LEVELS and mean <= MEAN_LEVELS
    assert "openvino f32" in openvino.describe()


@needs_openvino
def test_openvino_compiles_each_shape_once(light_net, monkeypatch) -> None:
    net = openvino_net.OpenVINONet(light_net, threads=1)
    converted = []
    convert = net.convert
    monkeypatch.setattr(net, "convert", lambda example: converted.append(tuple(example.shape)) or convert(example))
    a, b = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 40, 40)
    first = net(a)
    net(b)
    again = net(a)
    assert converted == [(1, 3, 32, 48), (1, 3, 40, 40)]
    assert net.shapes == [(1, 3, 40, 40), (1, 3, 32, 48)]  # least recently used first
    assert torch.equal(first, again)
    monkeypatch.setattr(openvino_net, "MAX_SHAPES", 2)
    net(torch.rand(1, 3, 24, 24))
    assert net.shapes == [(1, 3, 32, 48), (1, 3, 24, 24)]  # the least recently used shape went
    assert net.is_compiled((1, 3, 24, 24)) and not net.is_compiled((1, 3, 40, 40))


#: Run in a child: two OpenVINO nets made, run and dropped in that order, the main thread's signal stack
#: noted at each step (``sigaltstack``), then Python signal handlers run (a child ending with a SIGCHLD
#: handler installed, as DataLoader workers do, and Ctrl-C).
SIGNAL_STACK_AROUND_TWO_NETS = textwrap.dedent(
    """
    import ctypes, faulthandler, gc, json, os, signal, subprocess, torch
    from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
    from realtime_style.runtime.backends.openvino_net import OpenVINONet

    class Stack(ctypes.Structure):
        _fields_ = [("sp", ctypes.c_void_p), ("flags", ctypes.c_int), ("size", ctypes.c_size_t)]

    def signal_stack():
        stack = Stack()
        assert ctypes.CDLL(None, use_errno=True).sigaltstack(None, ctypes.byref(stack)) == 0
        return stack.sp or 0

    def mapped(address):
        spans = (line.split()[0].split("-") for line in open("/proc/self/maps"))
        return any(int(low, 16) <= address < int(high, 16) for low, high in spans)

    faulthandler.enable()  # as pytest and python -X faulthandler do: the main thread gets a signal stack
    seen = [signal_stack()]
    net = TransformerNet(ARCHITECTURES["light"]).eval()
    first, second = OpenVINONet(net, threads=1), OpenVINONet(net, threads=1)
    for runner in (first, second):
        runner(torch.rand(1, 3, 32, 32))
        seen.append(signal_stack())
    del first
    gc.collect()
    seen.append(signal_stack())
    del second
    gc.collect()
    seen.append(signal_stack())
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell's background job starts with SIGINT ignored
    subprocess.run(["true"], check=True)
    interrupted = False
    try:
        os.kill(os.getpid(), signal.SIGINT)
        signal.sigtimedwait([], 0.1)
    except KeyboardInterrupt:
        interrupted = True
    print(json.dumps({"seen": seen, "last_mapped": mapped(seen[-1]), "interrupted": interrupted}))
    """
)


@needs_openvino
@pytest.mark.skipif(sys.platform != "linux", reason="OpenVINO swaps signal stacks on Linux only")
def test_openvino_nets_leave_the_thread_on_one_live_signal_stack() -> None:
    """Each openvino.Core's CPU plugin gives its loading thread a signal stack and, at the Core's death, unmaps
    it and restores the one it found: two Cores dying in creation order left the thread on an unmapped stack
    (the suite's SIGSEGV, or silent writes into memory mapped there since). One shared Core: one stack, kept."""
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_STACK_AROUND_TWO_NETS], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    report = json.loads(done.stdout.splitlines()[-1])
    assert len(set(report["seen"][1:])) == 1, f"signal stacks changed as nets came and went: {report['seen']}"
    assert report["last_mapped"] and report["interrupted"]


def test_auto_probes_once_and_remembers_on_disk(light_net, tmp_path) -> None:
    choices = ChoiceFile(tmp_path / "backends.json")
    calls = {"openvino": 0}

    def fake_openvino():
        calls["openvino"] += 1
        return lambda images: torch.zeros_like(images, dtype=torch.float32)

    torch_net = TorchNet(light_net, torch.float32)
    images = torch.rand(1, 3, 128, 160)
    first = AutoNet(torch_net, fake_openvino, "key", choices)
    choice = first.choice(images)
    assert choice.backend == "openvino" and choice.torch_ms > 0 and choice.openvino_ms is not None
    assert torch.equal(first(images), torch.zeros_like(images))
    saved = json.loads((tmp_path / "backends.json").read_text())
    assert list(saved) == ["key|1x3x128x160"] and saved["key|1x3x128x160"]["backend"] == "openvino"

    later = AutoNet(torch_net, fake_openvino, "key", ChoiceFile(tmp_path / "backends.json"))
    later.probe = None  # type: ignore[assignment]  # a second probe would fail: the file answers
    assert later.choice(images) == choice


def test_auto_says_beforehand_which_shapes_it_will_probe(light_net, tmp_path) -> None:
    """What the CLI announces before a silent first frame: only a new shape large enough, and only when probing."""
    path = tmp_path / "backends.json"
    ChoiceFile(path).put("key|1x3x128x160", Choice("torch", 30.0, 40.0))
    auto = AutoNet(TorchNet(light_net, torch.float32), lambda: None, "key", ChoiceFile(path))
    assert not auto.needs_probe((1, 3, 128, 160))  # on disk
    assert not auto.needs_probe((1, 3, 38, 54))  # small frames stay on torch
    assert auto.needs_probe((1, 3, 160, 128)) and auto.needs_probe((2, 3, 128, 160))
    auto.choice(torch.rand(1, 3, 160, 128))
    assert not auto.needs_probe((1, 3, 160, 128))  # probed now
    still = AutoNet(TorchNet(light_net, torch.float32), lambda: None, "key", ChoiceFile(path), probe_new_shapes=False)
    assert not still.needs_probe((1, 3, 480, 640))


def test_auto_without_probing_takes_the_nearest_probed_size_else_torch(light_net, tmp_path) -> None:
    """One photo does not repay a probe (``rtstyle still`` on a file): what was probed near its size decides."""
    path = tmp_path / "backends.json"
    ChoiceFile(path).put("key|1x3x128x160", Choice("openvino", 30.0, 10.0))
    ChoiceFile(path).put("key|1x3x512x512", Choice("torch", 30.0, 40.0))
    ChoiceFile(path).put("other|1x3x120x160", Choice("torch", 1.0, 2.0))  # another machine or net: not used
    ChoiceFile(path).put("key|4x3x120x160", Choice("torch", 1.0, 2.0))  # another batch size: not used
    before = path.read_text()
    auto = AutoNet(TorchNet(light_net, torch.float32), lambda: None, "key", ChoiceFile(path), probe_new_shapes=False)
    auto.probe = None  # type: ignore[assignment]  # probing would fail
    assert auto.choice(torch.rand(1, 3, 120, 160)).backend == "openvino"
    assert auto.choice(torch.rand(1, 3, 400, 400)).backend == "torch"
    assert auto.choice(torch.rand(1, 3, 1200, 1600)) == Choice("torch", None, None)  # nothing within 2x
    assert path.read_text() == before  # a guess is not written down


#: Run in a child: a live worker (a daemon thread) meets a new frame size, so OpenVINO starts compiling it
#: aside, and the program ends at once.
EXIT_WHILE_COMPILING = textwrap.dedent(
    """
    import threading, torch
    from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
    from realtime_style.runtime.backends.auto import AutoNet, TorchNet
    from realtime_style.runtime.backends.choices import ChoiceFile
    from realtime_style.runtime.backends.openvino_net import OpenVINONet

    converted, convert = threading.Event(), OpenVINONet.convert
    def convert_and_tell(self, example):  # OpenVINO's compile of the model starts when this returns
        model = convert(self, example)
        converted.set()
        return model
    OpenVINONet.convert = convert_and_tell

    net = TransformerNet(ARCHITECTURES["light"]).eval()
    auto = AutoNet(TorchNet(net, torch.float32), lambda: OpenVINONet(net, threads=1), "key", ChoiceFile(),
                   compile_in_background=True)
    def worker():
        with torch.inference_mode():
            auto(torch.rand(1, 3, 272, 640))
    threading.Thread(target=worker, daemon=True).start()
    converted.wait(60)
    print("compiling" if auto._compiling.is_alive() else "compiled")
    """
)


@needs_openvino
def test_a_program_that_ends_while_openvino_compiles_aside_exits_cleanly(tmp_path) -> None:
    """The side thread once took the daemon flag of the live worker that started it: ending the program during
    a compile aborted it ("terminate called without an active exception", exit 134)."""
    done = subprocess.run(
        [sys.executable, "-c", EXIT_WHILE_COMPILING], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "RTSTYLE_CACHE_DIR": str(tmp_path)},
    )
    assert done.returncode == 0 and done.stdout.strip() == "compiling", f"exit {done.returncode}: {done.stderr[-2000:]}"


class SlowToCompile:
    """An OpenVINONet stand-in whose compile waits for the test's word, and whose output is all zeros."""

    def __init__(self, fail: bool = False):
        self.compiled: set[tuple[int, ...]] = set()
        self.release, self.fail = threading.Event(), fail

    def is_compiled(self, shape: tuple[int, ...]) -> bool:
        return shape in self.compiled

    def compile(self, shape: tuple[int, ...]) -> None:
        self.release.wait(10)
        if self.fail:
            raise RuntimeError("this shape does not compile")
        self.compiled.add(shape)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        assert tuple(images.shape) in self.compiled, "a frame waited for a compile"
        return torch.zeros_like(images)


@pytest.mark.parametrize("fail", [False, True])
def test_live_auto_runs_torch_while_openvino_compiles_aside(light_net, tmp_path, fail) -> None:
    """A live session must not stop for seconds at each new size: torch until OpenVINO is ready, and no probe."""
    openvino = SlowToCompile(fail)
    auto = AutoNet(
        TorchNet(light_net, torch.float32), lambda: openvino, "key", ChoiceFile(tmp_path / "backends.json"),
        compile_in_background=True,
    )
    auto.probe = None  # type: ignore[assignment]  # no timing beside live workers
    frame = torch.rand(1, 3, 128, 160)
    assert not auto.needs_probe(tuple(frame.shape)) and auto.choice(frame).backend == "openvino"  # nothing probed
    assert not auto.compiling
    with torch.inference_mode():
        assert torch.equal(auto(frame), light_net(frame))  # compiling: torch answers at once
        assert torch.equal(auto(frame), light_net(frame))  # one compile at a time, still torch
        assert auto.compiling  # a live session's governor does not time these frames
        openvino.release.set()
        auto.wait_for_compiles(10)
        assert not auto.compiling
        assert torch.equal(auto(frame), light_net(frame) if fail else torch.zeros_like(frame))
    assert auto.choice(frame).backend == ("torch" if fail else "openvino")
    assert not (tmp_path / "backends.json").exists()  # a guess is not written down


def test_auto_leaves_small_frames_on_torch_and_falls_back_when_openvino_fails(light_net, tmp_path) -> None:
    def broken():
        raise RuntimeError("no OpenVINO here")

    torch_net = TorchNet(light_net, torch.float32)
    auto = AutoNet(torch_net, broken, "key", ChoiceFile(tmp_path / "backends.json"))
    small = torch.rand(1, 3, 38, 54)
    with torch.inference_mode():
        assert torch.equal(auto(small), light_net(small))
        assert auto.choice(small) == Choice("torch", None, None) and not (tmp_path / "backends.json").exists()
        large = torch.rand(1, 3, 128, 128)
        assert auto.choice(large).backend == "torch" and auto.choice(large).openvino_ms is None
        assert torch.equal(auto(large), light_net(large))


def test_a_broken_choice_file_only_costs_a_probe(tmp_path) -> None:
    path = tmp_path / "backends.json"
    path.write_text("{not json")
    assert ChoiceFile(path).get("anything") is None
    ChoiceFile(path).put("k", Choice("torch", 1.0, 2.0))
    assert ChoiceFile(path).get("k") == Choice("torch", 1.0, 2.0)


def test_backend_selection(monkeypatch) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert select_backend(cuda, "auto") == "torch" and select_backend(cpu, "torch") == "torch"
    assert select_backend(cpu, "auto", compile=True) == "torch"
    with pytest.raises(DeviceError, match="runs on the CPU"):
        select_backend(cuda, "openvino")
    with pytest.raises(ValueError, match="backend must be one of"):
        select_backend(cpu, "tensorrt")
    monkeypatch.setattr(auto_module, "openvino_version", lambda: None)
    import realtime_style.runtime.engine as engine_module

    monkeypatch.setattr(engine_module, "openvino_status", lambda: "OpenVINO unavailable (ImportError: gone)")
    assert select_backend(cpu, "auto") == "torch"
    with pytest.raises(DeviceError, match="ImportError: gone"):
        select_backend(cpu, "openvino")


@needs_openvino
def test_still_and_info_on_the_command_line(tmp_path: Path, random_model_file: Path, capsys) -> None:
    from realtime_style.cli import main

    photo = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (45, 61, 3), dtype=np.uint8)).save(photo)
    outputs = {}
    for backend in ("torch", "openvino"):
        out = tmp_path / f"{backend}.png"
        args = ["still", "--style", str(random_model_file), str(photo), str(out), "--precision", "fp32"]
        assert main([*args, "--backend", backend, "-q"]) == 0
        outputs[backend] = np.asarray(Image.open(out))
    assert outputs["openvino"].shape == (45, 61, 3)
    assert levels(outputs["openvino"], outputs["torch"])[1] <= MAX_LEVELS
    capsys.readouterr()
    assert main(["info"]) == 0
    assert re.search(r"^backends\s+cpu: torch \w+ or openvino \w+, the faster", capsys.readouterr().out, re.M)


@pytest.mark.parametrize(
    ("fields", "label"),
    [
        ({"model name": "AMD EPYC", "cpu family": "25", "model": "17", "flags": "fpu avx2 avx512_bf16 avx512f avx512_vnni"},
         "AMD EPYC, family 25 model 17 (avx512_bf16, avx512_vnni)"),
        ({"model name": "Intel Xeon", "cpu family": "6", "model": "143", "flags": "avx512_bf16 amx_bf16 amx_int8 avx512_vnni"},
         "Intel Xeon, family 6 model 143 (avx512_bf16, amx_bf16, avx512_vnni)"),
        ({"model name": "AMD EPYC", "cpu family": "23", "model": "49", "flags": "fpu avx2 fma"},
         "AMD EPYC, family 23 model 49 (no bf16 or VNNI instructions)"),
        ({"model name": "Some CPU"}, "Some CPU"),  # flags unknown: nothing claimed
    ],
)
def test_cpu_label_names_generation_and_the_speed_instructions(monkeypatch, fields: dict[str, str], label: str) -> None:
    """Figures and model files name the CPU by what decides its speed: an EPYC without AMX is never called one with it."""
    from realtime_style.runtime.backends import choices
    from realtime_style.training.provenance import describe_hardware

    monkeypatch.setattr(choices, "_cpuinfo", lambda: fields)
    assert choices.cpu_label() == label
    assert describe_hardware(torch.device("cpu")) == f"{label}, {os.cpu_count()} cores"
