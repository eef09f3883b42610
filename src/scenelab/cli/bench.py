"""`scenelab bench ...`: flags into `BenchOptions`; the work is scenelab.bench.conv.bench_conv."""

from __future__ import annotations

import argparse

from scenelab.bench.conv import BenchOptions, bench_conv
from scenelab.cli.types import count, device, path, setting
from scenelab.options import from_arguments


def add_conv_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `scenelab bench conv`, shared with benchmarks/conv.py."""
    parser.add_argument(
        "--device", type=device(auto=False), default="cpu", help="cpu or cuda (default: cpu)"
    )
    parser.add_argument(
        "--dtype",
        choices=["float32", "bfloat16"],
        default="float32",
        help="bfloat16 runs under torch.autocast (default: float32)",
    )
    parser.add_argument("--channels-last", action="store_true", help="NHWC inputs and weights")
    parser.add_argument("--batch-size", type=setting("batch_size"), default=64, help="default: 64")
    parser.add_argument(
        "--image-size",
        type=setting("image_size"),
        default=128,
        help="input height and width (default: 128; the demo's digits are 16)",
    )
    parser.add_argument(
        "--repeats", type=count, default=10, help="interleaved timing repeats (default: 10)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="the training step only, 3 repeats, one memory sample"
    )
    parser.add_argument("--json", type=path, metavar="PATH", help="also write the results as JSON")


def conv_options(args: argparse.Namespace) -> BenchOptions:
    return from_arguments(BenchOptions, args)


def _conv(args: argparse.Namespace) -> int:
    bench_conv(conv_options(args))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser("bench", help="benchmarks: custom vs native convolution")
    kinds = bench.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    conv = kinds.add_parser(
        "conv",
        help="custom vs native conv: time and peak memory per SimpleNet layer and training step",
        description="Custom (im2col, matmul, col2im) vs native convolution on SimpleNet's layers "
        "and a full "
        "training step: forward/backward time, peak memory and custom/native ratios, medians of "
        "interleaved repeats.",
    )
    add_conv_arguments(conv)
    conv.set_defaults(func=_conv)
