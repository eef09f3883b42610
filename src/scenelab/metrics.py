"""Classification metrics over a whole split, accumulated batch by batch.

`ClassificationMetrics` takes softmax probabilities and labels one batch at a time and,
at the end, gives top-1 and top-k accuracy, per-class accuracy (recall) and its mean
(balanced accuracy), one-vs-rest average precision per class and their mean (mAP), the
confusion matrix and the expected calibration error. The running state lives in
torchmetrics objects, so under DDP `compute()` reduces it across ranks (every rank must
call it; a DistributedSampler that pads the split counts its repeated samples twice).

Classes with no samples in the split (absent from it, or only from some batches: batches
never matter, only the whole split does):

- per-class accuracy is NaN for them and the mean per-class accuracy leaves them out, as
  scikit-learn's ``balanced_accuracy_score`` does;
- average precision is undefined without a positive, so it is NaN and mAP is the mean
  over the classes that have positives. (scikit-learn's ``average_precision_score``
  warns and scores such a class 0, which would drag mAP down for a class that was
  never asked about.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torchmetrics import Metric
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassAveragePrecision,
    MulticlassConfusionMatrix,
)

from scenelab.errors import ScenelabError

# Guo et al. 2017, "On Calibration of Modern Neural Networks": 15 equal-width bins.
CALIBRATION_BINS = 15


@dataclass
class Calibration:
    """Reliability diagram: per equal-width confidence bin, the number of samples, their mean
    top-1 confidence and their top-1 accuracy (NaN for an empty bin)."""

    count: list[int]
    confidence: list[float]
    accuracy: list[float]

    @property
    def expected_error(self) -> float:
        """ECE = sum over bins of |B|/n * |accuracy(B) - confidence(B)| (Guo et al. 2017)."""
        total = sum(self.count)
        gaps = (
            n * abs(acc - conf)
            for n, acc, conf in zip(self.count, self.accuracy, self.confidence, strict=True)
            if n
        )
        return sum(gaps) / total if total else math.nan


@dataclass
class ClassificationReport:
    """Everything `ClassificationMetrics.compute` measures; NaN marks an undefined value."""

    num_samples: int
    top1: float
    top_k: int
    top_k_accuracy: float
    per_class_accuracy: list[float]
    mean_class_accuracy: float
    average_precision: list[float]
    mean_average_precision: float
    confusion: torch.Tensor  # (C, C) int64, rows are true classes, columns predictions
    expected_calibration_error: float
    calibration: Calibration

    def to_dict(self, classes: list[str]) -> dict:
        """JSON-ready, keyed by class name. Accuracies, AP and ECE are percentages, as in
        metrics.csv; NaN becomes None (JSON has no NaN)."""
        calibration = self.calibration
        return {
            "num_samples": self.num_samples,
            "top1": _percent(self.top1),
            "top_k": self.top_k,
            f"top{self.top_k}": _percent(self.top_k_accuracy),
            "mean_class_accuracy": _percent(self.mean_class_accuracy),
            "mAP": _percent(self.mean_average_precision),
            "ece": _percent(self.expected_calibration_error),
            "per_class": {
                name: {
                    "samples": int(self.confusion[i].sum()),
                    "accuracy": _percent(self.per_class_accuracy[i]),
                    "average_precision": _percent(self.average_precision[i]),
                }
                for i, name in enumerate(classes)
            },
            "calibration": {
                "count": calibration.count,
                "confidence": [_percent(value) for value in calibration.confidence],
                "accuracy": [_percent(value) for value in calibration.accuracy],
            },
        }


class ClassificationMetrics:
    """Streaming accumulator: `update(probabilities, labels)` per batch, then `compute()`."""

    def __init__(self, num_classes: int, top_k: int = 5, device: torch.device | str = "cpu"):
        if num_classes < 2:
            raise ScenelabError(
                f"classification metrics need at least 2 classes, got {num_classes}: with one "
                "class every image is assigned to it and there is nothing to measure"
            )
        check_top_k(top_k, num_classes)
        self.num_classes = num_classes
        self.top_k = top_k
        self._confusion = MulticlassConfusionMatrix(num_classes).to(device)
        self._top_k = MulticlassAccuracy(num_classes, top_k=top_k, average="micro").to(device)
        self._average_precision = MulticlassAveragePrecision(num_classes, average=None).to(device)
        self._calibration = ReliabilityBins(CALIBRATION_BINS).to(device)

    def _metrics(self):
        return (self._confusion, self._top_k, self._average_precision, self._calibration)

    @torch.no_grad()
    def update(self, probabilities: torch.Tensor, labels: torch.Tensor) -> None:
        """Add one batch: `probabilities` (B, C) softmax scores, `labels` (B,) class indices."""
        if probabilities.shape[1] != self.num_classes:
            raise ScenelabError(
                f"model gives {probabilities.shape[1]} scores per image "
                f"but the dataset has {self.num_classes} classes"
            )
        for metric in self._metrics():
            metric.update(probabilities, labels)

    def compute(self) -> ClassificationReport:
        if not self._confusion.update_called:
            raise ScenelabError("no samples to evaluate: the split is empty")
        confusion = self._confusion.compute().long().cpu()
        num_samples = int(confusion.sum())
        recall = per_class_accuracy(confusion)
        precision = self._average_precision.compute().float().cpu()
        calibration = self._calibration.compute()
        return ClassificationReport(
            num_samples=num_samples,
            top1=float(confusion.diagonal().sum()) / num_samples,
            top_k=self.top_k,
            top_k_accuracy=float(self._top_k.compute()),
            per_class_accuracy=recall.tolist(),
            mean_class_accuracy=nanmean(recall),
            average_precision=precision.tolist(),
            mean_average_precision=nanmean(precision),
            confusion=confusion,
            expected_calibration_error=calibration.expected_error,
            calibration=calibration,
        )

    def reset(self) -> None:
        for metric in self._metrics():
            metric.reset()


class ReliabilityBins(Metric):
    """Count, summed confidence and summed correctness of the top-1 prediction per confidence
    bin [b/bins, (b+1)/bins) (a confidence of exactly 1 goes to the last bin). Sums only, so
    the state is small and DDP reduces it exactly."""

    full_state_update = False

    def __init__(self, bins: int) -> None:
        super().__init__()
        self.bins = bins
        for name in ("count", "confidence", "correct"):
            self.add_state(name, torch.zeros(bins, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, probabilities: torch.Tensor, labels: torch.Tensor) -> None:
        confidence, predicted = probabilities.max(dim=1)
        which_bin = (confidence * self.bins).long().clamp_(0, self.bins - 1)
        self.count += torch.bincount(which_bin, minlength=self.bins)
        self.confidence.index_add_(0, which_bin, confidence.double())
        self.correct.index_add_(0, which_bin, (predicted == labels).double())

    def compute(self) -> Calibration:
        count = self.count.cpu()
        nonempty = count.clamp(min=1)
        empty = count == 0
        return Calibration(
            count=count.long().tolist(),
            confidence=(self.confidence.cpu() / nonempty).masked_fill(empty, math.nan).tolist(),
            accuracy=(self.correct.cpu() / nonempty).masked_fill(empty, math.nan).tolist(),
        )


def check_top_k(k: int, num_classes: int) -> int:
    """Return k, or raise a ScenelabError when top-k makes no sense for `num_classes`."""
    if not 1 <= k <= num_classes:
        raise ScenelabError(f"top-k needs 1 <= k <= number of classes ({num_classes}), got k={k}")
    return k


def per_class_accuracy(confusion: torch.Tensor) -> torch.Tensor:
    """Recall of each class from a confusion matrix (rows true); NaN for a class with no samples."""
    samples = confusion.sum(dim=1).double()
    correct = confusion.diagonal().double()
    return torch.where(samples > 0, correct / samples.clamp(min=1), torch.nan).float()


def nanmean(values: torch.Tensor) -> float:
    """Mean over the defined (non-NaN) entries; NaN when none is defined."""
    defined = values[~values.isnan()]
    return float(defined.mean()) if defined.numel() else math.nan


def _percent(fraction: float) -> float | None:
    return None if math.isnan(fraction) else 100.0 * fraction
