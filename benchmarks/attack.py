"""Attack throughput: scenelab's PGD against torchattacks.PGD on the same model and batch.

All three attack the same SimpleNet (Normalize inside, so torchattacks gets [0, 1] pixels
as it expects) with the same epsilon, step size, number of steps and target:

- ``scenelab.attacks.pgd_images``: the adversarial images only, like torchattacks (what
  adversarial training calls);
- ``scenelab.attacks.pgd``: the same plus the per-sample records (success, logits,
  L-inf and L2 sizes), which cost one more forward pass;
- ``torchattacks.PGD``.

Runs are interleaved (the order rotates every repeat). The table gives median images per
second and each speed ratio against torchattacks (higher is better), as the ratio of the
medians and as the median of the per-repeat ratios (robust to a load that drifts).

    python benchmarks/attack.py --threads 1           # CPU
    python benchmarks/attack.py --device cuda --batch 256
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torchattacks

from scenelab.attacks import pgd, pgd_images
from scenelab.models.simplenet import SimpleNet

REFERENCE = "torchattacks.PGD"


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
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=15)
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
    step = 2.5 * epsilon / args.steps
    theirs = torchattacks.PGD(model, eps=epsilon, alpha=step, steps=args.steps)
    if args.target == "least_likely":
        theirs.set_mode_targeted_least_likely(quiet=True)
    settings = {"epsilon": epsilon, "step_size": step, "steps": args.steps, "target": args.target}
    runs = {
        "scenelab.attacks.pgd_images": lambda: pgd_images(model, images, labels, **settings),
        "scenelab.attacks.pgd (with records)": lambda: pgd(model, images, labels, **settings),
        REFERENCE: lambda: theirs(images, labels),
    }
    for run in runs.values():  # warm-up
        run()
    names = list(runs)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(args.repeats):
        for name in names[repeat % 3 :] + names[: repeat % 3]:
            seconds[name].append(_timed(runs[name], device))

    print(
        f"PGD {args.target}, {args.steps} steps, eps 6/255, SimpleNet({args.classes}), "
        f"batch {args.batch}x3x{args.image_size}x{args.image_size} on {device}, "
        f"{torch.get_num_threads()} CPU threads, median of {args.repeats} interleaved repeats"
    )
    print("| attack | images/s | ratio of medians | median of per-repeat ratios |")
    print("| --- | ---: | ---: | ---: |")
    reference = statistics.median(seconds[REFERENCE])
    for name in names:
        median = statistics.median(seconds[name])
        paired = statistics.median(
            t / s for s, t in zip(seconds[name], seconds[REFERENCE], strict=True)
        )
        print(f"| {name} | {args.batch / median:.2f} | {reference / median:.2f}x | {paired:.2f}x |")


if __name__ == "__main__":
    main()
