"""Where a SimpleNet training step spends its CPU time, native vs custom convolution.

    python benchmarks/conv_profile.py [--dtype bfloat16] [--channels-last] [--image-size 16]
                                      [--steps 3] [--threads N]

Runs torch.profiler over STEPS training steps of each implementation (batch 64, 128x128
unless --image-size says otherwise, after one warm-up step) and prints the operators with the
most self CPU time, side by side.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from scenelab.bench.conv import IMPLEMENTATIONS, Settings, _training_step


def self_cpu_ms(impl: str, settings: Settings, steps: int) -> dict[str, float]:
    """Self CPU milliseconds per operator over ``steps`` steps."""
    step = _training_step(impl, settings)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    totals: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        totals[event.key] += event.self_cpu_time_total / 1e3
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--image-size", type=int, default=Settings.image_size)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = Settings(
        dtype=args.dtype,
        channels_last=args.channels_last,
        image_size=args.image_size,
        layers=False,
    )
    totals = {impl: self_cpu_ms(impl, settings, args.steps) for impl in IMPLEMENTATIONS}
    ops = sorted(
        set(totals["native"]) | set(totals["custom"]),
        key=lambda op: -max(totals["native"].get(op, 0.0), totals["custom"].get(op, 0.0)),
    )
    print(
        f"self CPU ms over {args.steps} steps, {args.image_size}x{args.image_size}, {args.dtype}"
        f"{', channels_last' if args.channels_last else ''}, {torch.get_num_threads()} threads\n"
    )
    print("| operator | native ms | custom ms |\n|---|---:|---:|")
    for op in ops[: args.top]:
        native, custom = (totals[impl].get(op, 0.0) for impl in IMPLEMENTATIONS)
        print(f"| {op} | {native:.0f} | {custom:.0f} |")
    print(
        f"| **all** | {sum(totals['native'].values()):.0f} | {sum(totals['custom'].values()):.0f} |"
    )


if __name__ == "__main__":
    main()
