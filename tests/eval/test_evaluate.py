"""evaluate() and `scenelab eval` against scikit-learn on a model run by hand."""

from __future__ import annotations

import csv
import json

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
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from scenelab.cli import main
from scenelab.data import build_dataset
from scenelab.evaluate import evaluate, format_report, predict_probabilities
from scenelab.models import build_model

NUM_CLASSES = 5


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, NUM_CLASSES))


def by_hand(model, images, tta):
    """Softmax scores computed directly, and for "flip" averaged with the mirrored image."""
    with torch.no_grad():
        pixels = images.float() / 255
        scores = model(pixels).softmax(1)
        if tta == "flip":
            scores = (scores + model(torch.flip(pixels, dims=[3])).softmax(1)) / 2
    return scores.numpy()


@pytest.mark.parametrize("tta", [None, "flip"])
def test_evaluate_equals_sklearn_on_the_hand_computed_scores(tta):
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (50, 3, 8, 8), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, NUM_CLASSES - 1, (50,), generator=generator)  # class 4 absent
    model = tiny_model()
    loader = DataLoader(TensorDataset(images, labels), batch_size=16)
    report = evaluate(model, loader, NUM_CLASSES, top_k=2, tta=tta)
    scores, y = by_hand(model, images, tta), labels.numpy()
    predicted = scores.argmax(1)
    assert report.top1 == pytest.approx(accuracy_score(y, predicted))
    assert report.top_k_accuracy == pytest.approx(
        top_k_accuracy_score(y, scores, k=2, labels=range(NUM_CLASSES))
    )
    with np.errstate(all="ignore"), pytest.warns(UserWarning):
        assert report.mean_class_accuracy == pytest.approx(balanced_accuracy_score(y, predicted))
    np.testing.assert_array_equal(
        report.confusion.numpy(), confusion_matrix(y, predicted, labels=range(NUM_CLASSES))
    )
    expected_ap = [average_precision_score(y == c, scores[:, c]) for c in range(NUM_CLASSES - 1)]
    np.testing.assert_allclose(report.average_precision[:-1], expected_ap, atol=1e-6)
    assert np.isnan(report.average_precision[-1])
    assert report.mean_average_precision == pytest.approx(np.mean(expected_ap), abs=1e-6)


def test_the_printed_report_says_what_happens_to_a_class_without_images():
    generator = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (30, 3, 8, 8), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, NUM_CLASSES - 1, (30,), generator=generator)
    loader = DataLoader(TensorDataset(images, labels), batch_size=30)
    report = evaluate(tiny_model(), loader, NUM_CLASSES, top_k=2)
    text = format_report(report, ["a", "b", "c", "d", "e"])
    assert "1 of 5 classes have no image in this split (e)" in text
    assert "left out of the mean class accuracy and the mAP" in text
    assert text.splitlines()[-1].split() == ["e", "0", "n/a", "n/a"]


def test_flip_tta_changes_the_scores_of_an_asymmetric_model():
    model = tiny_model()
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    plain = predict_probabilities(model, images)
    flipped = predict_probabilities(model, images, tta="flip")
    assert not torch.allclose(plain, flipped)
    assert torch.allclose(flipped.sum(1), torch.ones(4))


def test_evaluate_restores_training_mode():
    model = tiny_model().train()
    loader = DataLoader(
        TensorDataset(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.tensor([0, 1]))
    )
    evaluate(model, loader, NUM_CLASSES, top_k=1)
    assert model.training


def test_eval_command_writes_what_sklearn_computes(digits_run, capsys):
    assert main(["eval", str(digits_run), "--data", "digits", "--workers", "0"]) == 0
    printed = capsys.readouterr().out
    assert "mAP" in printed and "ECE" in printed

    dataset = build_dataset("digits", "val")
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    y = np.array([dataset[i][1] for i in range(len(dataset))])
    model = build_model("simplenet", 10)
    model.load_state_dict(torch.load(digits_run / "checkpoints" / "best.pt")["model"])
    scores = by_hand(model.eval(), images, None)
    predicted = scores.argmax(1)

    result = json.loads((digits_run / "eval.json").read_text())
    assert result["top1"] == pytest.approx(100 * accuracy_score(y, predicted), abs=1e-4)
    assert result["top5"] == pytest.approx(100 * top_k_accuracy_score(y, scores, k=5), abs=1e-4)
    assert result["mean_class_accuracy"] == pytest.approx(
        100 * balanced_accuracy_score(y, predicted), abs=1e-4
    )
    ap = [average_precision_score(y == c, scores[:, c]) for c in range(10)]
    assert result["mAP"] == pytest.approx(100 * np.mean(ap), abs=1e-3)
    assert result["per_class"]["3"]["average_precision"] == pytest.approx(100 * ap[3], abs=1e-3)

    with (digits_run / "confusion.csv").open() as file:
        rows = list(csv.reader(file))
    assert rows[0][1:] == dataset.classes
    table = np.array([[int(cell) for cell in row[1:]] for row in rows[1:]])
    np.testing.assert_array_equal(table, confusion_matrix(y, predicted))
    assert (digits_run / "confusion.png").stat().st_size > 0
    assert (digits_run / "calibration.png").stat().st_size > 0


def test_eval_refuses_a_dataset_with_other_classes(tmp_path, capsys, make_digits_run):
    run = make_digits_run(tmp_path / "run", classes=[f"c{i}" for i in range(10)])
    assert main(["eval", str(run), "--data", "digits", "--workers", "0"]) == 2
    error = capsys.readouterr().err
    assert "scenelab: error:" in error
    assert "class 0 is 'c0' in the checkpoint and '0' in the dataset" in error


def test_eval_refuses_a_run_folder_without_checkpoint(tmp_path, capsys):
    (tmp_path / "empty-run").mkdir()
    assert main(["eval", str(tmp_path / "empty-run")]) == 2
    assert "without checkpoints/best.pt or last.pt" in capsys.readouterr().err


def test_another_split_or_tta_never_overwrites_the_val_results(digits_run, tmp_path):
    common = ["--data", "digits", "--workers", "0"]
    assert main(["eval", str(digits_run), *common]) == 0
    val = json.loads((digits_run / "eval.json").read_text())
    assert main(["eval", str(digits_run), *common, "--split", "train"]) == 0
    assert main(["eval", str(digits_run), *common, "--tta", "flip"]) == 0
    assert json.loads((digits_run / "eval.json").read_text()) == val
    train = json.loads((digits_run / "eval_train.json").read_text())
    flip = json.loads((digits_run / "eval_flip.json").read_text())
    assert (train["split"], train["tta"]) == ("train", "none")
    assert (flip["split"], flip["tta"]) == ("val", "flip")
    for name in ("confusion_train.csv", "confusion_train.png", "calibration_flip.png"):
        assert (digits_run / name).is_file()

    elsewhere = tmp_path / "results"
    assert main(["eval", str(digits_run), *common, "--out", str(elsewhere)]) == 0
    assert json.loads((elsewhere / "eval.json").read_text())["top1"] == val["top1"]
