"""im2col/col2im candidates on SimpleNet's spatial layers: F.unfold/F.fold vs strided copies.

    python benchmarks/conv_im2col.py [--dtype bfloat16] [--chunk 2] [--repeats 9]

For each spatial (non-1x1) convolution of SimpleNet at its real input shape, one batch chunk
of CHUNK samples (the op's own chunk size by default), NCHW and NHWC: the time of
``F.unfold`` against ``scenelab.ops.im2col.im2col`` (padding included) in the layout the
op's product reads, and of ``F.fold`` against ``col2im``, interleaved, medians, in ms per
whole batch (chunk time x batch / chunk).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from scenelab.bench.conv import Settings, simplenet_conv_shapes
from scenelab.ops import im2col
from scenelab.ops.geometry import Geometry, chunk_size, resolve_padding


def _median_ms(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for function in functions.values():
        function()
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(values) for name, values in samples.items()}


LAYOUTS = (("unfold", torch.contiguous_format), ("rows", torch.channels_last))


def measure_layer(conv, shape, layout, memory_format, dtype, args) -> str:
    """One table row: im2col and col2im candidates on one chunk of one layer."""
    kernel, stride, dilation = conv.kernel_size, conv.stride, conv.dilation
    pads = resolve_padding(conv.padding, kernel, stride, dilation)
    weight = conv.weight.detach().to(dtype)
    x_full = torch.randn(shape, dtype=dtype).contiguous(memory_format=memory_format)
    geo = Geometry(x_full, weight, stride, pads, dilation, 1)
    chunk = args.chunk or chunk_size(geo)
    x = x_full[:chunk]

    def strided_im2col() -> torch.Tensor:
        return im2col.im2col(im2col.pad(x, pads), kernel, stride, dilation, geo.out_hw, layout)

    def unfold() -> torch.Tensor:
        return F.unfold(x, kernel, dilation, conv.padding, stride)

    cols, unfold_cols = strided_im2col(), unfold()
    if layout == "rows":  # the same numbers, checked in F.unfold's order
        as_unfold = cols.view(chunk, geo.positions, *kernel, -1).permute(0, 4, 2, 3, 1)
        assert torch.equal(unfold_cols, as_unfold.reshape(unfold_cols.shape))
    else:
        assert torch.equal(unfold_cols, cols)
    times = _median_ms(
        {
            "unfold": unfold,
            "im2col": strided_im2col,
            "fold": lambda: F.fold(unfold_cols, shape[2:], kernel, dilation, conv.padding, stride),
            "col2im": lambda: im2col.col2im(
                cols,
                (chunk, *shape[1:]),
                pads,
                kernel,
                stride,
                dilation,
                geo.out_hw,
                layout,
                memory_format,
            ),
        },
        args.repeats,
    )
    t = {name: value * args.batch_size / chunk for name, value in times.items()}
    name = (
        f"conv{kernel[0]}x{kernel[1]}/{stride[0]} {shape[1]}->{conv.out_channels} "
        f"@{shape[2]}x{shape[3]}"
    )
    return (
        f"| {name} | {'NCHW' if layout == 'unfold' else 'NHWC'} | {chunk} | "
        f"{t['unfold']:.1f} | {t['im2col']:.1f} | {t['im2col'] / t['unfold']:.2f} | "
        f"{t['fold']:.1f} | {t['col2im']:.1f} | {t['col2im'] / t['fold']:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=0, help="samples per call (0: the op's)")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    settings = Settings(batch_size=args.batch_size, image_size=args.image_size)
    print(
        f"batch {args.batch_size}, {args.image_size}x{args.image_size}, {args.dtype}, "
        f"{args.threads} threads, medians of {args.repeats} interleaved repeats; "
        "ms per batch\n"
    )
    print("| layer | layout | chunk | F.unfold | im2col | ratio | F.fold | col2im | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for _, conv, shape in simplenet_conv_shapes(settings):
        if conv.kernel_size == (1, 1):
            continue
        for layout, memory_format in LAYOUTS:
            print(measure_layer(conv, shape, layout, memory_format, dtype, args), flush=True)


if __name__ == "__main__":
    main()
