"""Attack throughput: scenelab's PGD against torchattacks.PGD on the same model and batch.

Both attack the same SimpleNet (Normalize inside, so torchattacks gets [0, 1] pixels as it
expects) with the same epsilon, step size, number of steps and target. Runs are
interleaved (the order alternates every repeat). The table gives median images per second
and the speed ratio scenelab / torchattacks (higher is better), both as the ratio of the
medians and as the median of the per-repeat ratios (robust to a load that drifts).
scenelab's time includes what torchattacks does not do: the final forward pass that gives
the per-sample records (success, logits).

    python benchmarks/attack.py --threads 1           # CPU, 64 images of 128x128
    python benchmarks/attack.py --device cuda --batch 256
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torchattacks

from scenelab.attacks.pgd import pgd
from scenelab.models.simplenet import SimpleNet


def _timed(run: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--target", choices=["untargeted", "least_likely"], default="least_likely")
    parser.add_argument("--threads", type=int, help="CPU threads (default: PyTorch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = torch.device(args.device)
    torch.manual_seed(0)
    model = SimpleNet(args.classes).to(device).eval()
    images = torch.rand(args.batch, 3, args.image_size, args.image_size, device=device)
    labels = torch.randint(0, args.classes, (args.batch,), device=device)
    epsilon = 6 / 255
    step_size = 2.5 * epsilon / args.steps

    theirs = torchattacks.PGD(model, eps=epsilon, alpha=step_size, steps=args.steps)
    if args.target == "least_likely":
        theirs.set_mode_targeted_least_likely(quiet=True)
    runs = {
        "scenelab.attacks.pgd": lambda: pgd(
            model, images, labels, epsilon, step_size, args.steps, target=args.target
        ),
        "torchattacks.PGD": lambda: theirs(images, labels),
    }
    for run in runs.values():  # warm-up
        run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(args.repeats):
        order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
        for name in order:
            seconds[name].append(_timed(runs[name], device))

    rates = {name: args.batch / statistics.median(times) for name, times in seconds.items()}
    ours, reference = rates["scenelab.attacks.pgd"], rates["torchattacks.PGD"]
    print(
        f"PGD {args.target}, {args.steps} steps, eps 6/255, SimpleNet({args.classes}), "
        f"batch {args.batch}x3x{args.image_size}x{args.image_size} on {device}, "
        f"{torch.get_num_threads()} CPU threads, median of {args.repeats} interleaved repeats"
    )
    print("| attack | images/s |")
    print("| --- | ---: |")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.1f} |")
    print(f"| ratio of the medians, scenelab / torchattacks | {ours / reference:.2f}x |")
    paired = [
        t / o
        for o, t in zip(seconds["scenelab.attacks.pgd"], seconds["torchattacks.PGD"], strict=True)
    ]
    print(f"| median of the per-repeat ratios | {statistics.median(paired):.2f}x |")


if __name__ == "__main__":
    main()
