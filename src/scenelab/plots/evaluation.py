"""Evaluation figures: the confusion matrix and the reliability diagram."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from scenelab.plots.figure import class_label, save, subplots
from scenelab.safetext import plot_text

CELL_INCHES = 0.16  # per class on each axis of the confusion matrix
ANNOTATE_MAX_CLASSES = 20  # write the share in each cell up to this many classes


def plot_confusion_matrix(
    confusion: torch.Tensor, classes: Sequence[str], path: Path, title: str
) -> Path:
    """Row-normalised confusion matrix: the share (%) of each true class's images given to
    each predicted class. The figure grows with the class count so that every class name
    stays readable (100 classes: about 19 inches square)."""
    counts = confusion.double()
    shares = 100 * counts / counts.sum(dim=1, keepdim=True).clamp(min=1)
    count = len(classes)
    side = min(max(6.0, CELL_INCHES * count + 3.5), 24.0)
    font = 9 if count <= 20 else max(5, round(9 - count / 30))  # 100 classes: 6 pt
    names = [class_label(classes, index) for index in range(count)]
    figure, axes = subplots(figsize=(side + 1, side))
    image = axes.imshow(shares.numpy(), cmap="Blues", vmin=0, vmax=100)
    axes.set_xticks(range(count), names, rotation=90, fontsize=font)
    axes.set_yticks(range(count), names, fontsize=font)
    large = 10 + side / 4  # titles grow with the figure
    axes.set_xlabel("predicted class", fontsize=large)
    axes.set_ylabel("true class", fontsize=large)
    axes.set_title(
        f"Confusion matrix: {plot_text(title)}\n(each row: share of that class's images, %)",
        fontsize=large + 2,
    )
    if count <= ANNOTATE_MAX_CLASSES:
        for true, row in enumerate(shares.tolist()):
            for predicted, share in enumerate(row):
                if share >= 0.5:
                    colour = "white" if share > 50 else "black"
                    style = {"ha": "center", "va": "center", "fontsize": font - 2}
                    axes.text(predicted, true, f"{share:.0f}", color=colour, **style)
    colourbar = figure.colorbar(image, ax=axes, fraction=0.04, pad=0.02)
    colourbar.set_label("images of the true class predicted as this class (%)", fontsize=large)
    return save(figure, path)


def plot_reliability_diagram(calibration: Any, path: Path, title: str) -> Path:
    """Top-1 accuracy against confidence per bin (a `scenelab.metrics.Calibration`), the
    diagonal of perfect calibration, and below it how many images fall in each bin."""
    width = 100 / len(calibration.count)
    filled = [index for index, count in enumerate(calibration.count) if count]
    centres = [width * (index + 0.5) for index in filled]
    accuracy = [100 * calibration.accuracy[index] for index in filled]
    figure, (top, bottom) = subplots(
        2, 1, figsize=(6.4, 6.0), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.bar(centres, accuracy, width=width, edgecolor="black", label="top-1 accuracy in the bin")
    top.plot([0, 100], [0, 100], color="tab:red", linestyle="--", label="perfect calibration")
    top.set_xlim(0, 100)
    top.set_ylim(0, 100)
    top.set_ylabel("top-1 accuracy (%)")
    ece = 100 * calibration.expected_error
    top.set_title(f"Reliability: {plot_text(title)}\nexpected calibration error {ece:.2f}%")
    top.grid(alpha=0.3)
    top.legend(loc="upper left")
    counts = [calibration.count[index] for index in filled]
    bottom.bar(centres, counts, width=width, color="grey", label="images per bin")
    bottom.set_xlabel("confidence of the top-1 prediction (%)")
    bottom.set_ylabel("images")
    bottom.legend(loc="best")
    return save(figure, path)
