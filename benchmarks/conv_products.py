"""What the matrix products of a GEMM convolution cost alone, against the native
convolution and scenelab's op, for SimpleNet's spatial layers (forward + backward).

    python benchmarks/conv_products.py [--dtype bfloat16] [--repeats 9]

A convolution computed as products, with or without materialised columns, does the work
of three products per training step: the forward (N*L x Ck) @ (Ck x O), grad_input's
(N*L x O) @ (O x Ck) (not for the stem, whose input is the image) and grad_weight's
(O x N*L) @ (N*L x Ck). "products" times exactly those ``torch.mm`` calls, whole-batch, on
columns built beforehand (building them not counted): how fast this machine's BLAS does
the arithmetic the custom op cannot avoid, in one of the forms it can take (the op's own
chunked products run in cache and can beat it). Interleaved repeats (native, products,
custom, ...), medians; float32 runs NCHW, bfloat16 channels_last (the trainer's settings).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from scenelab.ops import conv2d

# (name, in channels, out channels, kernel, stride, padding, input size) at 128x128 input.
# The stem's input is the image: no grad_input there, as in training.
LAYERS = [
    ("conv7x7/2 3->64 @128x128", 3, 64, 7, 2, 3, 128),
    ("conv3x3/1 64->64 @32x32", 64, 64, 3, 1, 1, 32),
    ("conv3x3/1 128->128 @16x16", 128, 128, 3, 1, 1, 16),
]
STEM = LAYERS[0][0]


def training_pass(conv: Callable, x: torch.Tensor, w: torch.Tensor, pad: int, stride: int):
    def run() -> None:
        x.grad = w.grad = None
        out = conv(x, w, None, stride, pad)
        out.backward(torch.ones_like(out))

    return run


def products(n_l: int, ck: int, o: int, dtype: torch.dtype, input_grad: bool):
    columns = torch.randn(n_l, ck, dtype=dtype)
    weight = torch.randn(ck, o, dtype=dtype)
    grad_out = torch.randn(n_l, o, dtype=dtype)

    def run() -> None:
        torch.mm(columns, weight)  # forward
        if input_grad:
            torch.mm(grad_out, weight.t())  # grad_input's columns
        torch.mm(grad_out.t(), columns)  # grad_weight

    return run


def interleaved(runs: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    layout = torch.channels_last if dtype == torch.bfloat16 else torch.contiguous_format
    print(
        f"forward + backward, batch {args.batch_size}, {args.dtype}, "
        f"{'channels_last' if dtype == torch.bfloat16 else 'NCHW'}, "
        f"{torch.get_num_threads()} threads, medians of {args.repeats} interleaved repeats\n"
    )
    print("| layer | native ms | products ms | custom ms | products / native | custom / native |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, c, o, k, stride, pad, size in LAYERS:
        x = torch.randn(args.batch_size, c, size, size, dtype=dtype).contiguous(
            memory_format=layout
        )
        x.requires_grad_(name != STEM)
        w = torch.randn(o, c, k, k, dtype=dtype, requires_grad=True)
        out_size = (size + 2 * pad - k) // stride + 1
        ms = interleaved(
            {
                "native": training_pass(F.conv2d, x, w, pad, stride),
                "products": products(
                    args.batch_size * out_size**2, c * k * k, o, dtype, name != STEM
                ),
                "custom": training_pass(conv2d, x, w, pad, stride),
            },
            args.repeats,
        )
        print(
            f"| {name} | {ms['native']:.1f} | {ms['products']:.1f} | {ms['custom']:.1f} | "
            f"{ms['products'] / ms['native']:.2f} | {ms['custom'] / ms['native']:.2f} |"
        )


if __name__ == "__main__":
    main()
