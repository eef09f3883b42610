"""Saliency maps and adversarial examples beside their images, and accuracy against
epsilon (the study's Figures 12 and 13)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from scenelab.plots.figure import class_label, label_axes, save, save_figure, subplots
from scenelab.safetext import plot_text

_CORRECT_COLOUR, _WRONG_COLOUR = "tab:green", "tab:red"


def _pixels(image: torch.Tensor) -> Any:
    """(3, H, W) [0, 1] tensor -> (H, W, 3) array for imshow."""
    return image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def _prediction_legend(figure: Figure) -> None:
    patches = [
        Patch(color=_CORRECT_COLOUR, label="prediction correct"),
        Patch(color=_WRONG_COLOUR, label="prediction wrong"),
    ]
    figure.legend(handles=patches, loc="lower center", ncol=2, frameon=False)


def plot_saliency_grid(
    images: torch.Tensor,
    maps: torch.Tensor,
    predicted: Sequence[int],
    true: Sequence[int],
    classes: Sequence[str],
    path: Path,
    title: str,
    pairs_per_row: int = 4,
) -> Path:
    """Each image beside its saliency heat map over a grey copy; true and predicted class.

    ``images`` (N, 3, H, W) and ``maps`` (N, 1, H, W); each map is scaled to its own 99th
    percentile, so the colour scale shows where a model looks, not how strongly.
    """
    count = len(images)
    rows = -(-count // pairs_per_row)
    figure, axes = subplots(
        rows,
        2 * pairs_per_row,
        figsize=(2.0 * 2 * pairs_per_row, 2.25 * rows + 0.9),
        squeeze=False,
    )
    heat = None
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        sample, is_map = divmod(index, 2)
        if sample >= count:
            continue
        image = _pixels(images[sample])
        if not is_map:
            axis.imshow(image)
            axis.set_title(f"true: {class_label(classes, true[sample])}", fontsize=8)
            continue
        saliency = maps[sample, 0].detach().float().cpu()
        scale = torch.quantile(saliency.flatten(), 0.99).clamp_min(1e-12)
        axis.imshow(image.mean(axis=2), cmap="gray", vmin=0, vmax=1)
        heat = axis.imshow(
            (saliency / scale).clamp(max=1).numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1
        )
        correct = predicted[sample] == true[sample]
        axis.set_title(
            f"pred: {class_label(classes, predicted[sample])}",
            fontsize=8,
            color=_CORRECT_COLOUR if correct else _WRONG_COLOUR,
        )
    figure.suptitle(plot_text(title))
    _prediction_legend(figure)
    figure.tight_layout(rect=(0, 0.04, 0.93, 1))
    if heat is not None:
        colour_bar = figure.colorbar(heat, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01)
        colour_bar.set_label("saliency (fraction of the image's 99th percentile)")
    return save_figure(figure, path)


def plot_epsilon_sweep(
    epsilons: Sequence[float],
    top1: Sequence[float],
    top5: Sequence[float],
    path: Path,
    title: str,
    marked_epsilon: float | None = None,
) -> Path:
    """Top-1 and top-5 accuracy under attack against the L-infinity budget in grey levels."""
    levels = [255 * epsilon for epsilon in epsilons]
    figure, axes = subplots()
    axes.plot(levels, top1, marker="o", label="top-1")
    axes.plot(levels, top5, marker="s", label="top-5")
    if marked_epsilon is not None:
        axes.axvline(
            255 * marked_epsilon,
            color="grey",
            linestyle="--",
            label=f"epsilon of the attack ({255 * marked_epsilon:.3g}/255)",
        )
    axes.set_ylim(0, 100)
    xlabel = "epsilon (grey levels out of 255, L-infinity)"
    label_axes(axes, xlabel, "accuracy under attack (%)", plot_text(title))
    return save(figure, path)


def plot_adversarial_grid(
    originals: torch.Tensor,
    adversarials: torch.Tensor,
    true: Sequence[int],
    clean_predicted: Sequence[int],
    adversarial_predicted: Sequence[int],
    targets: Sequence[int] | None,
    classes: Sequence[str],
    epsilon: float,
    path: Path,
    title: str,
) -> Path:
    """Per row: the original, the adversarial image, and the perturbation amplified so that
    -epsilon..+epsilon spans black..white; predictions coloured by correctness."""
    rows = len(originals)
    figure, axes = subplots(rows, 3, figsize=(7.2, 2.3 * rows + 0.8), squeeze=False)
    amplification = 1 / (2 * epsilon) if epsilon > 0 else 1.0
    for row in range(rows):
        perturbation = (adversarials[row] - originals[row]) * amplification + 0.5
        panels = [
            (
                originals[row],
                f"true: {class_label(classes, true[row])}\n"
                f"pred: {class_label(classes, clean_predicted[row])}",
                clean_predicted[row],
            ),
            (
                adversarials[row],
                f"adversarial pred:\n{class_label(classes, adversarial_predicted[row])}",
                adversarial_predicted[row],
            ),
            (
                perturbation,
                f"perturbation x{amplification:.0f}"
                + (
                    f"\ntarget: {class_label(classes, targets[row])}" if targets is not None else ""
                ),
                None,
            ),
        ]
        for axis, (image, caption, prediction) in zip(axes[row], panels, strict=True):
            axis.imshow(_pixels(image))
            axis.axis("off")
            colour = "black"
            if prediction is not None:
                colour = _CORRECT_COLOUR if prediction == true[row] else _WRONG_COLOUR
            axis.set_title(caption, fontsize=8, color=colour)
    figure.suptitle(plot_text(title))
    _prediction_legend(figure)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    return save_figure(figure, path)
