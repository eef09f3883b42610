"""`scenelab predict`: the top-k classes of each image, checked against a hand-run model."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from scenelab.cli import main
from scenelab.data import build_dataset
from scenelab.models import build_model


def read_rows(path):
    with path.open() as file:
        return list(csv.DictReader(file))


def hand_scores(run, images: torch.Tensor) -> np.ndarray:
    model = build_model("simplenet", 10)
    model.load_state_dict(torch.load(run / "checkpoints" / "best.pt")["model"])
    with torch.no_grad():
        return model.eval()(images.float() / 255).softmax(1).numpy()


def test_predict_on_a_split_lists_the_top_k_by_name(digits_run, capsys):
    out = digits_run / "val-predictions.csv"
    command = ["predict", str(digits_run), "--data", "digits", "--split", "val"]
    assert main([*command, "--top-k", "3", "--out", str(out)]) == 0
    assert "more" in capsys.readouterr().out  # 360 rows, only the first ones printed
    dataset = build_dataset("digits", "val")
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    scores = hand_scores(digits_run, images)
    rows = read_rows(out)
    assert len(rows) == len(dataset)
    for row, score, (_, label) in zip(rows, scores, dataset, strict=True):
        ranked = np.argsort(-score)[:3]
        assert [row[f"class_{r}"] for r in (1, 2, 3)] == [dataset.classes[i] for i in ranked]
        assert [float(row[f"probability_{r}"]) for r in (1, 2, 3)] == pytest.approx(
            score[ranked], abs=6e-5
        )
        assert row["true_class"] == dataset.classes[label]


def test_predict_on_image_files_and_folders(digits_run, tmp_path, capsys):
    dataset = build_dataset("digits", "val")
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index in range(3):
        pixels = dataset[index][0].permute(1, 2, 0).numpy()
        Image.fromarray(pixels).save(folder / f"digit{index}.png")
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "predictions.csv"
    arguments = ["predict", str(digits_run), "--out", str(out), "--images"]
    assert main([*arguments, str(folder), str(folder / "digit0.png")]) == 0
    rows = read_rows(out)
    assert [row["image"].rsplit("/", 1)[-1] for row in rows] == [
        "digit0.png",
        "digit1.png",
        "digit2.png",
        "digit0.png",
    ]
    scores = hand_scores(digits_run, torch.stack([dataset[i][0] for i in range(3)]))
    for row, score in zip(rows, scores, strict=False):
        assert row["class_1"] == dataset.classes[int(score.argmax())]
        assert float(row["probability_1"]) == pytest.approx(score.max(), abs=6e-5)
        assert row["true_class"] == ""
    assert "digit0.png" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--data", "digits", "--top-k", "11"], "1 <= k <= number of classes (10), got k=11"),
        (["--images", "/no/such/picture.jpg"], "/no/such/picture.jpg: no such file"),
    ],
)
def test_predict_bad_input_is_a_clear_error(digits_run, capsys, arguments, message):
    assert main(["predict", str(digits_run), *arguments]) == 2
    assert message in capsys.readouterr().err
