"""Custom (im2col, matmul, col2im) vs native convolution: time and peak memory, side by side.

For every convolution of SimpleNet (at its real input shape) and for a whole
SimpleNet training step (forward, loss, backward, SGD step) the two
implementations run interleaved, A B A B ..., and the table reports medians and
the custom/native ratio. Timing the pair in one run is what makes the ratio
trustworthy on a shared, noisy machine.

Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` around the measured
work; on CPU, the peak resident set size that the work adds to a fresh
process (peak RSS, ``VmHWM``, minus the RSS just before), one subprocess per sample.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from scenelab.bench.interleave import interleaved_samples
from scenelab.document import markdown_table
from scenelab.errors import ScenelabError
from scenelab.files import write_json
from scenelab.memory import current_rss_mib, peak_rss_mib
from scenelab.models.simplenet import SimpleNet
from scenelab.nn import convert_convs
from scenelab.ops.conv import conv2d
from scenelab.options import command_argv, option
from scenelab.safetext import terminal

IMPLEMENTATIONS = ("native", "custom")


@dataclass(frozen=True)
class BenchOptions:
    """`scenelab bench conv` (and benchmarks/conv.py)."""

    quick: bool = option(False)  # the training step only, 3 repeats, one memory sample
    batch_size: int = option(64)
    image_size: int = option(128)
    repeats: int = option(10)
    dtype: str = option("float32")  # or "bfloat16", under torch.autocast
    channels_last: bool = option(False)
    device: str = option("cpu")
    json: str | None = option(None)  # also write the results there

    def to_argv(self) -> list[str]:
        return command_argv(["bench", "conv"], self)


@dataclass
class Settings:
    device: str = "cpu"
    dtype: str = "float32"
    channels_last: bool = False
    batch_size: int = 64
    image_size: int = 128
    repeats: int = 10
    memory_repeats: int = 3
    layers: bool = True


@dataclass
class Row:
    name: str
    forward_ms: dict[str, float]
    backward_ms: dict[str, float]
    peak_mb: dict[str, float]

    def ratio(self, field: str) -> float:
        values = getattr(self, field)
        return values["custom"] / values["native"] if values.get("native") else float("nan")


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _autocast(settings: Settings) -> torch.autocast:
    device_type = torch.device(settings.device).type
    return torch.autocast(device_type, torch.bfloat16, enabled=settings.dtype == "bfloat16")


def _memory_format(settings: Settings) -> torch.memory_format:
    return torch.channels_last if settings.channels_last else torch.contiguous_format


def simplenet_conv_shapes(settings: Settings) -> list[tuple[str, nn.Conv2d, tuple[int, ...]]]:
    """(name, conv module, input shape) for every convolution of SimpleNet."""
    model = SimpleNet(num_classes=100)
    shapes: list[tuple[str, nn.Conv2d, tuple[int, ...]]] = []
    hooks = [
        module.register_forward_hook(
            lambda mod, inputs, _out, name=name: shapes.append((name, mod, tuple(inputs[0].shape)))
        )
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d)
    ]
    with torch.no_grad():
        model(torch.zeros(settings.batch_size, 3, settings.image_size, settings.image_size))
    for hook in hooks:
        hook.remove()
    return shapes


def _describe(conv: nn.Conv2d, shape: tuple[int, ...]) -> str:
    kernel = "x".join(map(str, conv.kernel_size))
    size = f"{shape[2]}x{shape[3]}"
    return f"conv{kernel}/{conv.stride[0]} {conv.in_channels}->{conv.out_channels} @{size}"


def _layer_pass(
    conv: nn.Conv2d, shape: tuple[int, ...], impl: str, settings: Settings
) -> Callable[[], tuple[float, float]]:
    """A closure running one forward and one backward of a layer; returns both times in ms."""
    device = torch.device(settings.device)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=generator).to(device, memory_format=_memory_format(settings))
    x.requires_grad_(shape[1] != 3)  # the stem's input (pixels) needs no gradient
    weight = conv.weight.detach().to(device, memory_format=_memory_format(settings))
    weight.requires_grad_(True)
    bias = conv.bias.detach().to(device).requires_grad_(True)
    function = F.conv2d if impl == "native" else conv2d

    def run() -> tuple[float, float]:
        _synchronize(settings.device)
        start = time.perf_counter()
        with _autocast(settings):
            out = function(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        _synchronize(settings.device)
        middle = time.perf_counter()
        out.backward(torch.ones_like(out))
        _synchronize(settings.device)
        end = time.perf_counter()
        x.grad = weight.grad = bias.grad = None
        return (middle - start) * 1e3, (end - middle) * 1e3

    return run


def _training_step(impl: str, settings: Settings) -> Callable[[], tuple[float, float]]:
    """A closure running one SimpleNet training step; returns (forward ms, backward+SGD ms)."""
    device = torch.device(settings.device)
    torch.manual_seed(0)
    model = SimpleNet(num_classes=100)
    if impl == "custom":
        convert_convs(model, to="custom")
    model.to(device, memory_format=_memory_format(settings))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(0)
    size = (settings.batch_size, 3, settings.image_size, settings.image_size)
    images = torch.rand(size, generator=generator).to(
        device, memory_format=_memory_format(settings)
    )
    labels = torch.randint(0, 100, (settings.batch_size,), generator=generator).to(device)

    def run() -> tuple[float, float]:
        _synchronize(settings.device)
        start = time.perf_counter()
        with _autocast(settings):
            loss = F.cross_entropy(model(images), labels)
        _synchronize(settings.device)
        middle = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _synchronize(settings.device)
        return (middle - start) * 1e3, (time.perf_counter() - middle) * 1e3

    return run


def _interleaved_medians(
    make: Callable[[str], Callable[[], tuple[float, float]]], repeats: int
) -> tuple[dict[str, float], dict[str, float]]:
    samples = interleaved_samples({impl: make(impl) for impl in IMPLEMENTATIONS}, repeats)
    forward = {i: statistics.median(s[0] for s in samples[i]) for i in IMPLEMENTATIONS}
    backward = {i: statistics.median(s[1] for s in samples[i]) for i in IMPLEMENTATIONS}
    return forward, backward


def _peak_memory_mb(target: str, impl: str, settings: Settings) -> float:
    """Peak memory (MB) that one run of ``target`` ('step' or a layer index) needs."""
    if settings.device.startswith("cuda"):
        run = _make_target(target, impl, settings)
        run()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    command = [
        sys.executable,
        "-c",
        "import sys, json; from scenelab.bench.conv import _child_peak_rss;"
        "print(json.dumps(_child_peak_rss(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))",
        target,
        impl,
        json.dumps(asdict(settings)),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def _make_target(target: str, impl: str, settings: Settings) -> Callable[[], tuple[float, float]]:
    if target == "step":
        return _training_step(impl, settings)
    _, conv, shape = simplenet_conv_shapes(settings)[int(target)]
    return _layer_pass(conv, shape, impl, settings)


def _child_peak_rss(target: str, impl: str, settings_dict: dict) -> float:
    """Run in a fresh process: the peak RSS (MB) that running ``target`` twice adds."""
    settings = Settings(**settings_dict)
    run = _make_target(target, impl, settings)
    before = current_rss_mib()
    run()
    run()
    return max(0.0, peak_rss_mib() - before)


def _interleaved_memory(target: str, settings: Settings) -> dict[str, float]:
    samples: dict[str, list[float]] = {impl: [] for impl in IMPLEMENTATIONS}
    for _ in range(settings.memory_repeats):
        for impl in IMPLEMENTATIONS:
            samples[impl].append(_peak_memory_mb(target, impl, settings))
    return {impl: statistics.median(values) for impl, values in samples.items()}


def run_benchmark(settings: Settings, progress: Callable[[str], None] = print) -> list[Row]:
    """Measure SimpleNet's conv layers (if ``settings.layers``) and a whole training step."""
    rows = []
    if settings.layers:
        for index, (_, conv, shape) in enumerate(simplenet_conv_shapes(settings)):
            label = _describe(conv, shape)
            progress(f"measuring {label} ...")
            forward, backward = _interleaved_medians(
                lambda impl, conv=conv, shape=shape: _layer_pass(conv, shape, impl, settings),
                settings.repeats,
            )
            rows.append(Row(label, forward, backward, _interleaved_memory(str(index), settings)))
    progress("measuring the full training step ...")
    forward, backward = _interleaved_medians(
        lambda impl: _training_step(impl, settings), settings.repeats
    )
    rows.append(
        Row("SimpleNet training step", forward, backward, _interleaved_memory("step", settings))
    )
    return rows


def format_table(rows: list[Row], settings: Settings) -> str:
    header = (
        f"SimpleNet convolutions, batch {settings.batch_size}, {settings.image_size}x"
        f"{settings.image_size}, {settings.device}, {settings.dtype}"
        f"{', channels_last' if settings.channels_last else ''}, {torch.get_num_threads()} threads,"
        f" torch {torch.__version__}; medians of {settings.repeats} interleaved repeats"
        f" (memory: {settings.memory_repeats})\n\n"
    )
    columns = ["layer", "fwd native ms", "fwd custom ms", "fwd ratio", "bwd native ms"]
    columns += ["bwd custom ms", "bwd ratio", "total ratio", "peak MB native"]
    columns += ["peak MB custom", "memory ratio"]
    table = []
    for row in rows:
        total = {i: row.forward_ms[i] + row.backward_ms[i] for i in IMPLEMENTATIONS}
        table.append(
            [
                row.name,
                *(f"{row.forward_ms[i]:.1f}" for i in IMPLEMENTATIONS),
                f"{row.ratio('forward_ms'):.2f}",
                *(f"{row.backward_ms[i]:.1f}" for i in IMPLEMENTATIONS),
                f"{row.ratio('backward_ms'):.2f}",
                f"{total['custom'] / total['native']:.2f}",
                *(f"{row.peak_mb[i]:.0f}" for i in IMPLEMENTATIONS),
                f"{row.ratio('peak_mb'):.2f}",
            ]
        )
    return header + markdown_table(columns, table, terminal)


@dataclass(frozen=True)
class BenchResult:
    """bench.json: the settings measured under and one row per layer, then the step."""

    settings: Settings
    rows: list[Row]

    @classmethod
    def from_dict(cls, values: dict) -> BenchResult:
        return cls(Settings(**values["settings"]), [Row(**row) for row in values["rows"]])

    def to_dict(self) -> dict:
        return asdict(self)


def bench_conv(options: BenchOptions) -> BenchResult:
    """The whole `scenelab bench conv` (and ``benchmarks/conv.py``): measure, print the
    table, write the JSON if asked."""
    if options.device.startswith("cuda") and not torch.cuda.is_available():
        raise ScenelabError("--device cuda: no CUDA GPU is available on this machine")
    settings = Settings(
        device=options.device,
        dtype=options.dtype,
        channels_last=options.channels_last,
        batch_size=options.batch_size,
        image_size=options.image_size,
        repeats=3 if options.quick else options.repeats,
        memory_repeats=1 if options.quick else 3,
        layers=not options.quick,
    )
    rows = run_benchmark(settings, progress=lambda message: print(message, file=sys.stderr))
    print(format_table(rows, settings))
    result = BenchResult(settings, rows)
    if options.json:
        write_json(options.json, result.to_dict())
    return result
