"""`scenelab saliency RUN`: N images of a split beside their saliency maps (Figure 12)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from scenelab import plots
from scenelab.device import pick_device
from scenelab.errors import ScenelabError
from scenelab.explain.saliency import (
    channel_max_abs,
    gradient,
    integrated_gradients,
    predicted_classes,
    smoothgrad,
)
from scenelab.files import output_file
from scenelab.options import command_argv, option
from scenelab.runs import evaluation_dataset, load_run, spread_indices, stack_images
from scenelab.safetext import terminal

TITLES = {
    "gradient": "vanilla gradient",
    "smoothgrad": "SmoothGrad",
    "integrated_gradients": "Integrated Gradients",
}


@dataclass(frozen=True)
class SaliencyOptions:
    """`scenelab saliency`: ``n`` images of a split of a run's data and their maps."""

    run: str = option(positional=True)
    data: str | None = option(None)  # default: the run's data
    split: str = option("val")
    n: int = option(20)
    method: str = option("gradient")  # a key of TITLES
    score: str = option("logit")  # or "loss"
    samples: int = option(50)  # SmoothGrad
    noise: float = option(0.15)  # SmoothGrad
    steps: int = option(50)  # Integrated Gradients
    batch_size: int = option(64)
    seed: int = option(0)
    out: str | None = option(None)  # default: RUN/plots/saliency_METHOD.png
    device: str = option("auto")

    def to_argv(self) -> list[str]:
        return command_argv(["saliency"], self)


def saliency_figure(options: SaliencyOptions) -> Path:
    """The whole `scenelab saliency`: the maps of the predicted classes, drawn in a grid;
    returns the figure's path."""
    if options.n < 1:
        raise ScenelabError(f"--n must be at least 1, got {options.n}")
    device = pick_device(options.device)
    run = load_run(options.run, device)
    dataset, _ = evaluation_dataset(run, options.data, options.split)
    images, labels = stack_images(dataset, spread_indices(len(dataset), options.n))
    images = images.float().div(255).to(device)
    predicted = predicted_classes(run.model, images, options.batch_size)
    common = {"score": options.score, "batch_size": options.batch_size}
    if options.method == "gradient":
        attributions = gradient(run.model, images, predicted, **common)
    elif options.method == "smoothgrad":
        generator = torch.Generator(device).manual_seed(options.seed)
        attributions = smoothgrad(
            run.model,
            images,
            predicted,
            noise=options.noise,
            samples=options.samples,
            generator=generator,
            **common,
        )
    else:
        attributions, gap = integrated_gradients(
            run.model, images, predicted, steps=options.steps, **common
        )
        print(
            f"Integrated Gradients completeness gap |sum(attribution) - score rise|: "
            f"mean {gap.abs().mean():.3g}, max {gap.abs().max():.3g} ({options.steps} steps)"
        )
    path = (
        output_file(options.out)
        if options.out
        else run.folder / "plots" / f"saliency_{options.method}.png"
    )
    correct = int((predicted.cpu() == labels).sum())
    pixels, maps = images.cpu(), channel_max_abs(attributions).cpu()
    plots.plot_saliency_grid(
        pixels,
        maps,
        predicted.tolist(),
        labels.tolist(),
        run.classes,
        path,
        title=f"{run.folder.name}: {TITLES[options.method]} saliency of the predicted class "
        f"({options.score}), {options.split} images, {correct}/{len(labels)} correct",
    )
    print(terminal(f"wrote {path}"))
    return path
