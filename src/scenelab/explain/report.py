"""`scenelab saliency RUN`: N images of a split beside their saliency maps (Figure 12)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from scenelab import plots
from scenelab.attacks.runs import evaluation_dataset, load_run, spread_indices, stack_images
from scenelab.device import pick_device
from scenelab.errors import ScenelabError
from scenelab.explain.saliency import (
    channel_max_abs,
    gradient,
    integrated_gradients,
    predicted_classes,
    smoothgrad,
)
from scenelab.safetext import terminal

TITLES = {
    "gradient": "vanilla gradient",
    "smoothgrad": "SmoothGrad",
    "integrated_gradients": "Integrated Gradients",
}


def saliency_report(args: argparse.Namespace) -> int:
    """The whole `scenelab saliency` command; ``args`` as `scenelab.cli.saliency` parses them."""
    if args.n < 1:
        raise ScenelabError(f"--n must be at least 1, got {args.n}")
    device = pick_device(args.device)
    run = load_run(args.run, device)
    dataset, _ = evaluation_dataset(run, args.data, args.split)
    images, labels = stack_images(dataset, spread_indices(len(dataset), args.n))
    images = images.float().div(255).to(device)
    predicted = predicted_classes(run.model, images, args.batch_size)
    common = {"score": args.score, "batch_size": args.batch_size}
    if args.method == "gradient":
        attributions = gradient(run.model, images, predicted, **common)
    elif args.method == "smoothgrad":
        generator = torch.Generator(device).manual_seed(args.seed)
        attributions = smoothgrad(
            run.model,
            images,
            predicted,
            noise=args.noise,
            samples=args.samples,
            generator=generator,
            **common,
        )
    else:
        attributions, gap = integrated_gradients(
            run.model, images, predicted, steps=args.steps, **common
        )
        print(
            f"Integrated Gradients completeness gap |sum(attribution) - score rise|: "
            f"mean {gap.abs().mean():.3g}, max {gap.abs().max():.3g} ({args.steps} steps)"
        )
    path = Path(args.out) if args.out else run.folder / "plots" / f"saliency_{args.method}.png"
    correct = int((predicted.cpu() == labels).sum())
    plots.plot_saliency_grid(
        images.cpu(),
        channel_max_abs(attributions).cpu(),
        predicted.tolist(),
        labels.tolist(),
        run.classes,
        path,
        title=f"{run.folder.name}: {TITLES[args.method]} saliency of the predicted class "
        f"({args.score}), {args.split} images, {correct}/{len(labels)} correct",
    )
    print(terminal(f"wrote {path}"))
    return 0
