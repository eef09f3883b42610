"""Evaluate a trained model on a dataset split: `scenelab eval`.

Top-1 and top-k (k = 5, clipped to the class count), per-class accuracy and its mean,
per-class average precision and mAP, the confusion matrix and the calibration error,
from `scenelab.metrics`. Test-time augmentation `flip` averages the softmax of each image
and of its mirror image, as the study did.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from scenelab import plots
from scenelab.checkpoint import (
    CHECKPOINT_DIR,
    check_classes,
    load_model,
    resolve_checkpoint,
)
from scenelab.data import build_dataset, build_loader, build_transform
from scenelab.device import pick_device
from scenelab.errors import ScenelabError
from scenelab.files import write_json, write_text
from scenelab.metrics import CALIBRATION_BINS, ClassificationMetrics, ClassificationReport
from scenelab.safetext import csv_cell, terminal

DEFAULT_TOP_K = 5
TTA_MODES = ("flip",)


@torch.no_grad()
def predict_probabilities(
    model: nn.Module, images: torch.Tensor, tta: str | None = None
) -> torch.Tensor:
    """Softmax scores (B, C) for a uint8 batch (B, 3, H, W) already on the model's device."""
    pixels = images.float().div_(255)
    probabilities = model(pixels).softmax(dim=1)
    if tta == "flip":
        probabilities = (probabilities + model(pixels.flip(-1)).softmax(dim=1)) / 2
    elif tta is not None:
        raise ScenelabError(f"--tta must be one of {', '.join(TTA_MODES)}, got {tta!r}")
    return probabilities


def evaluate(
    model: nn.Module,
    loader: DataLoader,
    num_classes: int,
    top_k: int = DEFAULT_TOP_K,
    tta: str | None = None,
    device: torch.device | str = "cpu",
) -> ClassificationReport:
    """Every metric of `scenelab.metrics` for `model` (in eval mode) over `loader`."""
    was_training = model.training
    model.eval()
    metrics = ClassificationMetrics(num_classes, top_k=top_k, device=device)
    for images, labels in loader:
        images = images.to(device, non_blocking=True)
        metrics.update(predict_probabilities(model, images, tta), labels.to(device))
    model.train(was_training)
    return metrics.compute()


def run_folder_of(checkpoint_or_run: str | Path) -> Path:
    """Where results about a checkpoint go: the run folder it belongs to, else its folder."""
    path = Path(checkpoint_or_run)
    if path.is_dir():
        return path
    return path.parent.parent if path.parent.name == CHECKPOINT_DIR else path.parent


def eval_transform_for(state: dict[str, Any]):
    """The evaluation transform (resize, centre crop) at the checkpoint's image size."""
    size = state["config"].get("image_size")
    if size is None:
        raise ScenelabError("the checkpoint's stored config lacks image_size")
    return build_transform("none", size, train=False)


def eval_command(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    checkpoint = resolve_checkpoint(args.run)
    model, state = load_model(checkpoint, device=device)
    dataset = build_dataset(args.data, args.split, transform=eval_transform_for(state))
    check_classes(state, dataset.classes, checkpoint)
    if -1 in dataset.labels:
        raise ScenelabError(
            f"--split {args.split} of {args.data} has no labels; `scenelab predict` takes it"
        )
    if len(dataset.classes) < 2:
        raise ScenelabError(
            f"--data {args.data} has {len(dataset.classes)} class "
            f"({', '.join(map(repr, dataset.classes))}): "
            "evaluation needs at least 2, since with one every image is assigned to it"
        )
    loader = build_loader(dataset, args.batch_size, shuffle=False, workers=args.workers, seed=0)
    top_k = min(DEFAULT_TOP_K, len(dataset.classes))
    report = evaluate(model, loader, len(dataset.classes), top_k, args.tta, device)

    out = Path(args.out) if args.out else run_folder_of(args.run)
    names = result_names(args.split, args.tta)
    title = f"{state['config']['model']} on {Path(args.data).name} {args.split}" + (
        " (flip TTA)" if args.tta else ""
    )
    result = {
        "checkpoint": str(checkpoint),
        "epoch": state.get("epoch"),
        "data": str(args.data),
        "split": args.split,
        "tta": args.tta or "none",
        **report.to_dict(dataset.classes),
    }
    write_json(out / names["eval"], result)
    write_confusion_csv(out / names["confusion"], report.confusion, dataset.classes)
    plots.plot_confusion_matrix(report.confusion, dataset.classes, out / names["matrix"], title)
    plots.plot_reliability_diagram(report.calibration, out / names["calibration"], title)
    print(terminal(f"{title}: checkpoint {checkpoint} (epoch {state.get('epoch')})"))
    print(format_report(report, dataset.classes))
    print(terminal(f"wrote {out / names['eval']}, {', '.join(list(names.values())[1:])}"))
    return 0


def result_names(split: str, tta: str | None) -> dict[str, str]:
    """The files one evaluation writes: eval.json, confusion.csv, confusion.png and
    calibration.png for the val split without TTA, and e.g. eval_train_flip.json for others,
    so that evaluating another split or with TTA never overwrites the val results."""
    suffix = "".join(f"_{part}" for part in (split, tta) if part and part != "val")
    return {
        "eval": f"eval{suffix}.json",
        "confusion": f"confusion{suffix}.csv",
        "matrix": f"confusion{suffix}.png",
        "calibration": f"calibration{suffix}.png",
    }


def write_confusion_csv(path: Path, confusion: torch.Tensor, classes: list[str]) -> None:
    """Rows are true classes, columns predicted classes, cells image counts. Class names
    are neutralised for spreadsheets (`safetext.csv_cell`)."""
    names = [csv_cell(name) for name in classes]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["true \\ predicted", *names])
    for name, row in zip(names, confusion.tolist(), strict=True):
        writer.writerow([name, *row])
    write_text(path, buffer.getvalue())


def format_report(report: ClassificationReport, classes: list[str]) -> str:
    """The summary, then one row per class, as a plain-text table (percentages); class
    names are shown with `safetext.terminal`."""
    classes = [terminal(name) for name in classes]
    lines = [
        f"images                 {report.num_samples}",
        f"top-1                  {_pct(report.top1)}",
        f"top-{report.top_k:<19d}{_pct(report.top_k_accuracy)}",
        f"mean class accuracy    {_pct(report.mean_class_accuracy)}",
        f"mAP (one-vs-rest)      {_pct(report.mean_average_precision)}",
        f"ECE ({CALIBRATION_BINS} bins)          {_pct(report.expected_calibration_error)}",
    ]
    accuracies = zip(classes, report.per_class_accuracy, strict=True)
    absent = [name for name, accuracy in accuracies if math.isnan(accuracy)]
    if absent:
        lines.append(
            f"{len(absent)} of {len(classes)} classes have no image in this split "
            f"({', '.join(absent[:5])}{', ...' if len(absent) > 5 else ''}): their accuracy and "
            "AP are undefined (n/a) and left out of the mean class accuracy and the mAP"
        )
    lines.append("")
    width = max(len("class"), *(len(name) for name in classes))
    lines.append(f"{'class':<{width}}  {'images':>6}  {'accuracy':>9}  {'AP':>9}")
    for index, name in enumerate(classes):
        lines.append(
            f"{name:<{width}}  {int(report.confusion[index].sum()):>6}  "
            f"{_pct(report.per_class_accuracy[index]):>9}  "
            f"{_pct(report.average_precision[index]):>9}"
        )
    return "\n".join(lines)


def _pct(fraction: float) -> str:
    return "n/a" if math.isnan(fraction) else f"{100 * fraction:.2f}%"
