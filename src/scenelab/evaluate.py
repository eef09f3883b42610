"""Evaluate a trained model on a dataset split: `scenelab eval`.

Top-1 and top-k (k = 5, clipped to the class count), per-class accuracy and its mean,
per-class average precision and mAP, the confusion matrix and the calibration error,
from `scenelab.metrics`. Test-time augmentation `flip` averages the softmax of each image
and of its mirror image, as the study did.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from scenelab import plots
from scenelab.checkpoint import (
    check_classes,
    load_model,
    resolve_checkpoint,
)
from scenelab.data import build_dataset, build_loader, build_transform
from scenelab.data.spec import dataset_name
from scenelab.device import pick_device
from scenelab.document import pct
from scenelab.errors import ScenelabError
from scenelab.files import write_json, write_text
from scenelab.metrics import CALIBRATION_BINS, ClassificationMetrics, ClassificationReport
from scenelab.options import command_argv, option
from scenelab.progress import progress
from scenelab.runs import run_folder_of
from scenelab.safetext import csv_cell, terminal

DEFAULT_TOP_K = 5
TTA_MODES = ("flip",)


@dataclass(frozen=True)
class EvalOptions:
    """`scenelab eval`: a run folder or checkpoint, evaluated on a split of ``data``."""

    run: str = option(positional=True)
    data: str = option("digits", always=True)
    split: str = option("val")
    tta: str | None = option(None)
    out: str | None = option(None)  # default: the run folder
    batch_size: int = option(256)
    workers: int = option(2)
    device: str = option("auto")

    def to_argv(self) -> list[str]:
        return command_argv(["eval"], self)


@dataclass(frozen=True)
class ClassScores:
    samples: int
    accuracy: float | None  # percent; None: no image of the class in the split
    average_precision: float | None


@dataclass(frozen=True)
class EvalRecord:
    """eval.json: what was evaluated and every metric, percentages, None where undefined."""

    checkpoint: str
    epoch: int | None
    data: str
    split: str
    tta: str
    num_samples: int
    top1: float | None
    top_k: int
    top_k_accuracy: float | None  # written as "top{k}"
    mean_class_accuracy: float | None
    mAP: float | None
    ece: float | None
    per_class: dict[str, ClassScores]
    calibration: dict[str, list]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EvalRecord:
        names = [field for field in cls.__dataclass_fields__ if field != "top_k_accuracy"]
        record = {name: values[name] for name in names}
        record["per_class"] = {
            name: ClassScores(**scores) for name, scores in values["per_class"].items()
        }
        return cls(**record, top_k_accuracy=values[f"top{values['top_k']}"])

    def to_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name == "top_k_accuracy":
                values[f"top{self.top_k}"] = self.top_k_accuracy
            elif name == "per_class":
                values[name] = {key: vars(scores) for key, scores in self.per_class.items()}
            else:
                values[name] = getattr(self, name)
        return values


@dataclass(frozen=True)
class EvalResult:
    record: EvalRecord  # as written to eval.json
    report: ClassificationReport
    files: list[Path]  # eval.json, confusion.csv, confusion.png, calibration.png


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
    for images, labels in progress(loader, "eval"):
        images = images.to(device, non_blocking=True)
        metrics.update(predict_probabilities(model, images, tta), labels.to(device))
    model.train(was_training)
    return metrics.compute()


def eval_transform_for(state: dict[str, Any]):
    """The evaluation transform (resize, centre crop) at the checkpoint's image size."""
    size = state["config"].get("image_size")
    if size is None:
        raise ScenelabError("the checkpoint's stored config lacks image_size")
    return build_transform("none", size, train=False)


def evaluate_checkpoint(options: EvalOptions) -> EvalResult:
    """The whole `scenelab eval`: evaluate, write the four files, print the table."""
    device = pick_device(options.device)
    checkpoint = resolve_checkpoint(options.run)
    model, state = load_model(checkpoint, device=device)
    dataset = build_dataset(options.data, options.split, transform=eval_transform_for(state))
    check_classes(state, dataset.classes, checkpoint)
    if -1 in dataset.labels:
        raise ScenelabError(
            f"--split {options.split} of {options.data} has no labels; `scenelab predict` takes it"
        )
    if len(dataset.classes) < 2:
        raise ScenelabError(
            f"--data {options.data} has {len(dataset.classes)} class "
            f"({', '.join(map(repr, dataset.classes))}): "
            "evaluation needs at least 2, since with one every image is assigned to it"
        )
    loader = build_loader(
        dataset, options.batch_size, shuffle=False, workers=options.workers, seed=0
    )
    top_k = min(DEFAULT_TOP_K, len(dataset.classes))
    report = evaluate(model, loader, len(dataset.classes), top_k, options.tta, device)

    out = Path(options.out) if options.out else run_folder_of(options.run)
    names = result_names(options.split, options.tta)
    title = f"{state['config']['model']} on {dataset_name(options.data)} {options.split}" + (
        " (flip TTA)" if options.tta else ""
    )
    record = EvalRecord.from_dict(
        {
            "checkpoint": str(checkpoint),
            "epoch": state.get("epoch"),
            "data": str(options.data),
            "split": options.split,
            "tta": options.tta or "none",
            **report.to_dict(dataset.classes),
        }
    )
    write_json(out / names["eval"], record.to_dict())
    write_confusion_csv(out / names["confusion"], report.confusion, dataset.classes)
    plots.plot_confusion_matrix(report.confusion, dataset.classes, out / names["matrix"], title)
    plots.plot_reliability_diagram(report.calibration, out / names["calibration"], title)
    print(terminal(f"{title}: checkpoint {checkpoint} (epoch {state.get('epoch')})"))
    print(format_report(report, dataset.classes))
    print(terminal(f"wrote {out / names['eval']}, {', '.join(list(names.values())[1:])}"))
    return EvalResult(record, report, [out / name for name in names.values()])


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
        f"top-1                  {pct(100 * report.top1, '%')}",
        f"top-{report.top_k:<19d}{pct(100 * report.top_k_accuracy, '%')}",
        f"mean class accuracy    {pct(100 * report.mean_class_accuracy, '%')}",
        f"mAP (one-vs-rest)      {pct(100 * report.mean_average_precision, '%')}",
        f"ECE ({CALIBRATION_BINS} bins)          "
        f"{pct(100 * report.expected_calibration_error, '%')}",
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
            f"{pct(100 * report.per_class_accuracy[index], '%'):>9}  "
            f"{pct(100 * report.average_precision[index], '%'):>9}"
        )
    return "\n".join(lines)
