"""What the non-finite-gradient guard of `train_step` costs: a training step with it
(scenelab's `train_step`: the total gradient norm, which `scenelab.train.guard` reads once
per log interval; the check itself is timed in the last row) against the
same step without it (forward, loss, backward, SGD step), with --grad-clip, and the guard
alone (its absolute cost, which the noise of a busy machine hides in the ratios).

    python benchmarks/step_guard.py [--model simplenet] [--size 128] [--batch 64] [--repeats 15]
                                    [--threads 1]

Steps run interleaved (plain, guarded, clipped, plain, ...) on one batch already in memory,
float32 on the CPU; the table gives the median time per step and its ratio to plain.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from torch import nn

from scenelab.models import build_model
from scenelab.train.engine import train_step


def plain_step(model, images, labels, loss_fn, optimizer, scaler, autocast, grad_clip=None):
    logits = model(images)
    loss = loss_fn(logits, labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="simplenet")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = build_model(args.model, 100)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    images = torch.rand(args.batch, 3, args.size, args.size)
    labels = torch.randint(0, 100, (args.batch,))
    loss_fn = nn.CrossEntropyLoss()
    variants = {
        "plain (no guard)": lambda: plain_step(
            model, images, labels, loss_fn, optimizer, scaler, contextlib.nullcontext
        ),
        "train_step (guard)": lambda: train_step(
            model, images, labels, loss_fn, optimizer, scaler, contextlib.nullcontext
        ),
        "train_step --grad-clip 1": lambda: train_step(
            model, images, labels, loss_fn, optimizer, scaler, contextlib.nullcontext, None, 1.0
        ),
    }
    for step in variants.values():  # warm-up
        step()
    grads = [parameter.grad for parameter in model.parameters()]
    variants["the guard alone (norm + check)"] = lambda: bool(
        torch.nn.utils.get_total_norm(grads).isfinite()
    )
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, step in variants.items():
            started = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - started)
    plain = statistics.median(times["plain (no guard)"])
    print(
        f"{args.model}, {args.size}x{args.size}, batch {args.batch}, float32, CPU, "
        f"{torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(f"{'step':<32} {'ms/step':>9} {'ratio':>7}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<32} {1000 * median:>9.2f} {median / plain:>7.4f}")


if __name__ == "__main__":
    main()
