"""Every figure scenelab draws. Each has a title, labelled axes with units and a legend,
and is saved as PNG through matplotlib's Agg canvas, attached to each figure: pyplot is never
imported, so no backend is chosen and no global state changes (a notebook keeps its own).
Titles, class and run names are user text and go through `safetext.plot_text`, so they are
never parsed as mathtext."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from scenelab.data.listfile import category_name
from scenelab.files import atomic_path
from scenelab.safetext import plot_text

FIGURE_SIZE = (6.4, 4.2)
DPI = 110


def _subplots(*grid: int, figsize: tuple[float, float] = FIGURE_SIZE, **options: Any) -> tuple:
    """A new figure on its own Agg canvas and its axes, as `pyplot.subplots` gives them."""
    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure, figure.subplots(*grid, **options)


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    return _save_figure(figure, path)


def _save_figure(figure: Figure, path: Path) -> Path:
    """Write the figure atomically (its format from the name's suffix); no pyplot state
    holds it, so it is freed with its last reference."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=DPI, format=path.suffix.lstrip(".") or "png")
    return path


# --- training curves (the study's Figures 1-3) ---------------------------------------


def _title(title: str, subject: str, untitled: str = "") -> str:
    """'TITLE: subject' for a user's title (made safe), else `untitled` or 'Subject'."""
    if title:
        return f"{plot_text(title)}: {subject}"
    return untitled or subject[:1].upper() + subject[1:]


def _label(axes: Any, xlabel: str, ylabel: str, title: str, **legend: Any) -> None:
    """The axis labels, the title, a light grid and the legend."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(**legend)


def _train_and_val(
    rows: Sequence[dict[str, Any]], metric: str, ylabel: str, title: str, path: Path
) -> Path:
    """`train_METRIC` and `val_METRIC` per epoch, from metrics.csv rows."""
    figure, axes = _subplots()
    axes.plot(*_series(rows, f"train_{metric}"), marker="o", label="train")
    axes.plot(*_series(rows, f"val_{metric}"), marker="s", label="val")
    _label(axes, "epoch", ylabel, title)
    return _save(figure, path)


def _series(rows: Sequence[dict[str, Any]], column: str) -> tuple[list[float], list[float]]:
    """Epochs and values of ``column`` where it was measured (--val-every leaves NaN)."""
    kept = [row for row in rows if not math.isnan(row[column])]
    return [row["epoch"] for row in kept], [row[column] for row in kept]


def plot_accuracy_curves(
    rows: Sequence[dict[str, Any]], k: int, path: Path, title: str = ""
) -> Path:
    """Train and val top-``k`` accuracy per epoch, from metrics.csv rows."""
    subject = f"top-{k} accuracy"
    return _train_and_val(rows, f"top{k}", f"{subject} (%)", _title(title, subject), path)


def plot_loss_curves(rows: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Train and val cross-entropy per epoch, from metrics.csv rows."""
    return _train_and_val(rows, "loss", "cross-entropy loss (nats)", _title(title, "loss"), path)


def plot_robust_accuracy(rows: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Adversarial training: train (on adversarial batches), clean val and robust val top-1
    per epoch, with the epochs where training collapsed marked."""
    epochs = [row["epoch"] for row in rows]
    figure, axes = _subplots()
    axes.plot(epochs, [row["train_top1"] for row in rows], marker="o", label="train (adversarial)")
    axes.plot(epochs, [row["val_top1"] for row in rows], marker="s", label="val, clean")
    robust = [row["val_robust_top1"] for row in rows]
    axes.plot(epochs, robust, marker="^", label="val under PGD-10 (held-out images)")
    for row in rows:
        if int(row.get("adv_collapsed", 0)):
            axes.axvline(row["epoch"], color="tab:red", linestyle="--", label="collapse")
    untitled = "Clean vs robust accuracy"
    _label(axes, "epoch", "top-1 accuracy (%)", _title(title, "clean vs robust", untitled))
    return _save(figure, path)


def plot_lr_schedule(
    epochs: Sequence[float], lrs: Sequence[float], warmup_epochs: float, path: Path, title: str = ""
) -> Path:
    """The learning rate of every optimizer step, x axis in (fractional) epochs."""
    figure, axes = _subplots()
    axes.plot(epochs, lrs, label="learning rate (per step)")
    if warmup_epochs:
        axes.axvline(warmup_epochs, color="grey", linestyle="--", label="end of warm-up")
    _label(axes, "epoch", "learning rate", _title(title, "learning rate"))
    return _save(figure, path)


# --- saliency and adversarial examples (the study's Figures 12 and 13) ----------------

_CORRECT_COLOUR, _WRONG_COLOUR = "tab:green", "tab:red"


def _class_name(classes: Sequence[str], index: int) -> str:
    """'/f/field/cultivated' -> 'field/cultivated'; plain names pass through."""
    name = classes[index] if 0 <= index < len(classes) else str(index)
    return plot_text(category_name(name).replace("_", " "))  # without the letter folder


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
    figure, axes = _subplots(
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
            axis.set_title(f"true: {_class_name(classes, true[sample])}", fontsize=8)
            continue
        saliency = maps[sample, 0].detach().float().cpu()
        scale = torch.quantile(saliency.flatten(), 0.99).clamp_min(1e-12)
        axis.imshow(image.mean(axis=2), cmap="gray", vmin=0, vmax=1)
        heat = axis.imshow(
            (saliency / scale).clamp(max=1).numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1
        )
        correct = predicted[sample] == true[sample]
        axis.set_title(
            f"pred: {_class_name(classes, predicted[sample])}",
            fontsize=8,
            color=_CORRECT_COLOUR if correct else _WRONG_COLOUR,
        )
    figure.suptitle(plot_text(title))
    _prediction_legend(figure)
    figure.tight_layout(rect=(0, 0.04, 0.93, 1))
    if heat is not None:
        colour_bar = figure.colorbar(heat, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01)
        colour_bar.set_label("saliency (fraction of the image's 99th percentile)")
    return _save_figure(figure, path)


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
    figure, axes = _subplots()
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
    _label(axes, xlabel, "accuracy under attack (%)", plot_text(title))
    return _save(figure, path)


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
    figure, axes = _subplots(rows, 3, figsize=(7.2, 2.3 * rows + 0.8), squeeze=False)
    amplification = 1 / (2 * epsilon) if epsilon > 0 else 1.0
    for row in range(rows):
        perturbation = (adversarials[row] - originals[row]) * amplification + 0.5
        panels = [
            (
                originals[row],
                f"true: {_class_name(classes, true[row])}\n"
                f"pred: {_class_name(classes, clean_predicted[row])}",
                clean_predicted[row],
            ),
            (
                adversarials[row],
                f"adversarial pred:\n{_class_name(classes, adversarial_predicted[row])}",
                adversarial_predicted[row],
            ),
            (
                perturbation,
                f"perturbation x{amplification:.0f}"
                + (
                    f"\ntarget: {_class_name(classes, targets[row])}" if targets is not None else ""
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
    return _save_figure(figure, path)


# --- evaluation: confusion matrix and reliability diagram ------------------------------

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
    names = [_class_name(classes, index) for index in range(count)]
    figure, axes = _subplots(figsize=(side + 1, side))
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
    return _save(figure, path)


def plot_reliability_diagram(calibration: Any, path: Path, title: str) -> Path:
    """Top-1 accuracy against confidence per bin (a `scenelab.metrics.Calibration`), the
    diagonal of perfect calibration, and below it how many images fall in each bin."""
    width = 100 / len(calibration.count)
    filled = [index for index, count in enumerate(calibration.count) if count]
    centres = [width * (index + 0.5) for index in filled]
    accuracy = [100 * calibration.accuracy[index] for index in filled]
    figure, (top, bottom) = _subplots(
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
    return _save(figure, path)


# --- comparing runs (the study's Figures 4-5 and 7-11) ---------------------------------

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
    figure, axes = _subplots()
    for index, (name, rows) in enumerate(runs.items()):
        style = {"color": f"C{index % 10}", "markersize": 3}
        train, val = _series(rows, f"train_{curve}"), _series(rows, f"val_{curve}")
        axes.plot(*train, linestyle="--", marker="o", label=f"{plot_text(name)} train", **style)
        axes.plot(*val, marker="s", label=f"{plot_text(name)} val", **style)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    untitled = f"{what.capitalize()}: train and val"
    _label(axes, "epoch", label, _title(title, what, untitled), fontsize="small")
    return _save(figure, path)
