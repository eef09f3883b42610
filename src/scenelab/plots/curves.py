"""Training curves per epoch (the study's Figures 1-3) and several runs overlaid (its
Figures 4-5 and 7-11), from metrics.csv rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.ticker import MaxNLocator

from scenelab.plots.figure import label_axes, save, subplots, titled
from scenelab.safetext import plot_text


def _train_and_val(
    rows: Sequence[dict[str, Any]], metric: str, ylabel: str, title: str, path: Path
) -> Path:
    """`train_METRIC` and `val_METRIC` per epoch, from metrics.csv rows."""
    figure, axes = subplots()
    axes.plot(*_series(rows, f"train_{metric}"), marker="o", label="train")
    axes.plot(*_series(rows, f"val_{metric}"), marker="s", label="val")
    label_axes(axes, "epoch", ylabel, title)
    return save(figure, path)


def _series(rows: Sequence[dict[str, Any]], column: str) -> tuple[list[float], list[float]]:
    """Epochs and values of ``column`` where it was measured (--val-every leaves NaN)."""
    kept = [row for row in rows if not math.isnan(row[column])]
    return [row["epoch"] for row in kept], [row[column] for row in kept]


def plot_accuracy_curves(
    rows: Sequence[dict[str, Any]], k: int, path: Path, title: str = ""
) -> Path:
    """Train and val top-``k`` accuracy per epoch, from metrics.csv rows."""
    subject = f"top-{k} accuracy"
    return _train_and_val(rows, f"top{k}", f"{subject} (%)", titled(title, subject), path)


def plot_loss_curves(rows: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Train and val cross-entropy per epoch, from metrics.csv rows."""
    return _train_and_val(rows, "loss", "cross-entropy loss (nats)", titled(title, "loss"), path)


def plot_robust_accuracy(rows: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Adversarial training: train (on adversarial batches), clean val and robust val top-1
    per epoch, with the epochs where training collapsed marked."""
    epochs = [row["epoch"] for row in rows]
    figure, axes = subplots()
    axes.plot(epochs, [row["train_top1"] for row in rows], marker="o", label="train (adversarial)")
    axes.plot(epochs, [row["val_top1"] for row in rows], marker="s", label="val, clean")
    robust = [row["val_robust_top1"] for row in rows]
    axes.plot(epochs, robust, marker="^", label="val under PGD-10 (held-out images)")
    for row in rows:
        if int(row.get("adv_collapsed", 0)):
            axes.axvline(row["epoch"], color="tab:red", linestyle="--", label="collapse")
    untitled = "Clean vs robust accuracy"
    label_axes(axes, "epoch", "top-1 accuracy (%)", titled(title, "clean vs robust", untitled))
    return save(figure, path)


def plot_lr_schedule(
    epochs: Sequence[float], lrs: Sequence[float], warmup_epochs: float, path: Path, title: str = ""
) -> Path:
    """The learning rate of every optimizer step, x axis in (fractional) epochs."""
    figure, axes = subplots()
    axes.plot(epochs, lrs, label="learning rate (per step)")
    if warmup_epochs:
        axes.axvline(warmup_epochs, color="grey", linestyle="--", label="end of warm-up")
    label_axes(axes, "epoch", "learning rate", titled(title, "learning rate"))
    return save(figure, path)


_CURVE_AXIS = {
    "top1": ("top-1 accuracy (%)", "top-1 accuracy"),
    "top5": ("top-5 accuracy (%)", "top-5 accuracy"),
    "loss": ("cross-entropy loss (nats)", "loss"),
}


def plot_run_comparison(
    runs: dict[str, Sequence[dict[str, Any]]], curve: str, path: Path, title: str = ""
) -> Path:
    """Train (dashed) and val (solid) `curve` ("top1", "top5" or "loss") per epoch for
    several runs' metrics.csv rows, one colour per run."""
    label, what = _CURVE_AXIS[curve]
    figure, axes = subplots()
    for index, (name, rows) in enumerate(runs.items()):
        style = {"color": f"C{index % 10}", "markersize": 3}
        train, val = _series(rows, f"train_{curve}"), _series(rows, f"val_{curve}")
        axes.plot(*train, linestyle="--", marker="o", label=f"{plot_text(name)} train", **style)
        axes.plot(*val, marker="s", label=f"{plot_text(name)} val", **style)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    untitled = f"{what.capitalize()}: train and val"
    label_axes(axes, "epoch", label, titled(title, what, untitled), fontsize="small")
    return save(figure, path)
