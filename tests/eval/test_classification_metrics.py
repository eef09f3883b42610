"""ClassificationMetrics against scikit-learn (and a hand-written ECE) on random scores."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    top_k_accuracy_score,
)
from torchmetrics.classification import MulticlassCalibrationError

from scenelab.errors import ScenelabError
from scenelab.metrics import ClassificationMetrics

NUM_CLASSES = 7
ABSENT = 4  # never a label in the split, though the model may predict it


def classification_report(probabilities, labels, top_k):
    """All metrics of one tensor of scores (N, C) and labels (N,), in one update."""
    metrics = ClassificationMetrics(probabilities.shape[1], top_k=top_k)
    metrics.update(probabilities, labels)
    return metrics.compute()


def random_split(seed: int, n: int = 120) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    present = [c for c in range(NUM_CLASSES) if c != ABSENT]
    labels = torch.tensor(present)[torch.randint(len(present), (n,), generator=generator)]
    logits = 2 * torch.randn(n, NUM_CLASSES, generator=generator)
    logits[torch.arange(n), labels] += 1.5  # better than chance, so metrics are not all ~1/C
    return logits.softmax(dim=1), labels


def streamed(probabilities, labels, top_k, batch_size=8):
    """Batches of 8 from 6 present classes: most batches miss some class."""
    metrics = ClassificationMetrics(NUM_CLASSES, top_k=top_k)
    for batch in zip(probabilities.split(batch_size), labels.split(batch_size), strict=True):
        metrics.update(*batch)
    return metrics.compute()


def hand_ece(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Guo et al. 2017: sum over equal-width confidence bins of |B|/n * |accuracy - confidence|."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which_bin = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which_bin == b
        if in_bin.any():
            gap = abs(correct[in_bin].mean() - confidence[in_bin].mean())
            total += in_bin.mean() * gap
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("top_k", [1, 3])
def test_every_metric_equals_sklearn(seed, top_k):
    probabilities, labels = random_split(seed)
    report = streamed(probabilities, labels, top_k)
    scores, y = probabilities.numpy(), labels.numpy()
    predicted = scores.argmax(axis=1)
    assert report.num_samples == len(y)
    assert report.top1 == pytest.approx(accuracy_score(y, predicted))
    expected_top_k = top_k_accuracy_score(y, scores, k=top_k, labels=range(NUM_CLASSES))
    assert report.top_k_accuracy == pytest.approx(expected_top_k)
    np.testing.assert_array_equal(
        report.confusion.numpy(), confusion_matrix(y, predicted, labels=range(NUM_CLASSES))
    )
    with pytest.warns(UserWarning):  # sklearn: "y_pred contains classes not in y_true"
        expected_balanced = balanced_accuracy_score(y, predicted)
    assert report.mean_class_accuracy == pytest.approx(expected_balanced)

    for c in range(NUM_CLASSES):
        in_class = y == c
        if c == ABSENT:
            assert math.isnan(report.per_class_accuracy[c])
            assert math.isnan(report.average_precision[c])
            continue
        assert report.per_class_accuracy[c] == pytest.approx((predicted[in_class] == c).mean())
        expected_ap = average_precision_score(in_class, scores[:, c])
        assert report.average_precision[c] == pytest.approx(expected_ap, abs=1e-6)

    present_ap = [average_precision_score(y == c, scores[:, c]) for c in set(y.tolist())]
    assert report.mean_average_precision == pytest.approx(np.mean(present_ap), abs=1e-6)
    assert report.expected_calibration_error == pytest.approx(hand_ece(scores, y), abs=1e-6)
    assert sum(report.calibration.count) == len(y)
    torchmetrics_ece = MulticlassCalibrationError(NUM_CLASSES, n_bins=15)(probabilities, labels)
    assert report.expected_calibration_error == pytest.approx(float(torchmetrics_ece), abs=1e-6)


def test_batching_does_not_change_the_result():
    probabilities, labels = random_split(5)
    whole = classification_report(probabilities, labels, top_k=3)
    in_batches = streamed(probabilities, labels, top_k=3, batch_size=5)
    assert whole.to_dict(list("abcdefg")) == in_batches.to_dict(list("abcdefg"))


def test_report_is_strict_json_with_none_for_the_absent_class():
    probabilities, labels = random_split(3)
    report = classification_report(probabilities, labels, top_k=3)
    data = json.loads(json.dumps(report.to_dict(list("abcdefg")), allow_nan=False))
    assert data["per_class"]["e"] == {"samples": 0, "accuracy": None, "average_precision": None}
    assert data["top3"] == pytest.approx(100 * report.top_k_accuracy)


def test_top_k_equal_to_class_count_is_always_right():
    probabilities, labels = random_split(4)
    assert classification_report(probabilities, labels, top_k=NUM_CLASSES).top_k_accuracy == 1.0


@pytest.mark.parametrize("k", [0, NUM_CLASSES + 1])
def test_top_k_outside_the_class_count_is_a_clear_error(k):
    with pytest.raises(ScenelabError, match=r"1 <= k <= number of classes \(7\)"):
        ClassificationMetrics(NUM_CLASSES, top_k=k)


def test_scores_for_the_wrong_number_of_classes_are_a_clear_error():
    metrics = ClassificationMetrics(NUM_CLASSES, top_k=1)
    with pytest.raises(ScenelabError, match="5 scores per image but the dataset has 7 classes"):
        metrics.update(torch.rand(2, 5).softmax(1), torch.tensor([0, 1]))


def test_empty_split_is_a_clear_error():
    with pytest.raises(ScenelabError, match="no samples"):
        ClassificationMetrics(NUM_CLASSES, top_k=1).compute()


def _ddp_rank(rank: int, world_size: int, init_file: str, results) -> None:
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    probabilities, labels = random_split(6)
    metrics = ClassificationMetrics(NUM_CLASSES, top_k=3)
    metrics.update(probabilities[rank::world_size], labels[rank::world_size])
    results[rank] = metrics.compute().to_dict(list("abcdefg"))
    torch.distributed.destroy_process_group()


@pytest.mark.slow  # two fresh Python processes importing torch: ~20 s on 2 cores
def test_two_ddp_ranks_reduce_to_the_single_process_result(tmp_path):
    world_size = 2
    with torch.multiprocessing.Manager() as manager:
        results = manager.dict()
        torch.multiprocessing.spawn(
            _ddp_rank, args=(world_size, str(tmp_path / "init"), results), nprocs=world_size
        )
        per_rank = [results[rank] for rank in range(world_size)]
    probabilities, labels = random_split(6)
    single = classification_report(probabilities, labels, top_k=3).to_dict(list("abcdefg"))
    for result in per_rank:
        assert _close(result, single)


def _close(a, b) -> bool:
    """Nested dicts/lists equal up to float rounding (the sums are reduced in another order)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == pytest.approx(b, abs=1e-6)
    return a == b


def test_two_classes_and_k_clipped_to_them_equal_sklearn():
    """The fewest classes evaluation takes, with top-k clipped to the class count as
    `scenelab eval` clips top-5: every metric as scikit-learn defines it."""
    generator = torch.Generator().manual_seed(3)
    labels = torch.randint(2, (50,), generator=generator)
    probabilities = (torch.randn(50, 2, generator=generator) + labels[:, None]).softmax(dim=1)
    report = classification_report(probabilities, labels, top_k=2)
    scores, y = probabilities.numpy(), labels.numpy()
    assert report.top1 == pytest.approx(accuracy_score(y, scores.argmax(axis=1)))
    with pytest.warns(UserWarning, match="perfect score"):  # sklearn: k = n_classes
        expected_top_k = top_k_accuracy_score(y, scores[:, 1], k=2)
    assert report.top_k_accuracy == expected_top_k == 1.0
    assert report.mean_class_accuracy == pytest.approx(
        balanced_accuracy_score(y, scores.argmax(axis=1))
    )
    for c in range(2):
        expected_ap = average_precision_score(y == c, scores[:, c])
        assert report.average_precision[c] == pytest.approx(expected_ap, abs=1e-6)
    assert report.expected_calibration_error == pytest.approx(hand_ece(scores, y), abs=1e-6)


@pytest.mark.parametrize("num_classes", [0, 1])
def test_fewer_than_two_classes_is_a_clear_error(num_classes):
    with pytest.raises(ScenelabError, match=f"at least 2 classes, got {num_classes}"):
        ClassificationMetrics(num_classes, top_k=1)
