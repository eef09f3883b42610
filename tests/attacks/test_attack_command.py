"""`scenelab attack` end to end on a digits checkpoint, and its clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sklearn.metrics import accuracy_score
from torch import nn

from scenelab.checkpoint import save_checkpoint
from scenelab.cli import main
from scenelab.data import build_dataset
from scenelab.models.simplenet import SimpleNet

CLASSES = [str(digit) for digit in range(10)]


@pytest.fixture
def run_folder(tmp_path):
    """A run folder holding an (untrained) SimpleNet checkpoint for the digits."""
    torch.manual_seed(0)
    model = SimpleNet(num_classes=10)
    config = {
        "model": "simplenet",
        "num_classes": 10,
        "conv": "native",
        "data": "digits",
        "image_size": 32,
    }
    save_checkpoint(
        tmp_path / "checkpoints" / "best.pt",
        {"model": model.state_dict(), "config": config, "classes": CLASSES},
    )
    return tmp_path


def test_attack_writes_json_and_plots_with_accuracies_of_the_model(run_folder, capsys):
    code = main(
        [
            "attack",
            str(run_folder),
            "--limit",
            "24",
            "--steps",
            "2",
            "--target",
            "untargeted",
            "--sweep",
            "0,2/255",
            "--examples",
            "2",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    record = json.loads((run_folder / "attack.json").read_text())
    assert record["attack"]["epsilon"] == pytest.approx(6 / 255)
    assert record["attack"]["step_size"] == pytest.approx(2.5 * (6 / 255) / 2)
    assert [row["epsilon_levels"] for row in record["sweep"]] == ["0/255", "2/255", "6/255"]
    assert record["num_samples"] == 24
    for name in ("attack_sweep.png", "attack_examples.png"):
        assert (run_folder / "plots" / name).stat().st_size > 10_000

    # The clean accuracy is the model's on the same 24 images, spread evenly over val.
    dataset = build_dataset("digits", "val")
    indices = [round(i * (len(dataset) - 1) / 23) for i in range(24)]
    model = SimpleNet(num_classes=10).eval()
    best = torch.load(run_folder / "checkpoints" / "best.pt")
    model.load_state_dict(best["model"])
    assert (Path(record["checkpoint"]), record["epoch"]) == (
        run_folder / "checkpoints" / "best.pt",
        best.get("epoch"),
    )
    images = torch.stack([dataset[i][0] for i in indices]).float() / 255
    labels = [dataset[i][1] for i in indices]
    with torch.no_grad():
        predicted = model(images).argmax(1)
    assert record["clean"]["top1"] == pytest.approx(100 * accuracy_score(labels, predicted))
    assert record["sweep"][0]["top1"] == record["clean"]["top1"]
    assert record["adversarial"]["top1"] <= record["clean"]["top1"]
    assert "6/255" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--epsilon", "2"], "epsilon must be in [0, 1]"),
        (["--epsilon", "six"], "not a number or a fraction"),
        (["--epsilon", "0.01", "--step-size", "0.02", "--no-random-start"], "larger than epsilon"),
        (["--target", "10"], "out of range"),
        (["--target", "most_likely"], "'untargeted', 'least_likely' or a class index"),
        (["--data", "/nonexistent/folder"], "/nonexistent/folder"),
    ],
)
def test_bad_flags_are_clear_errors(run_folder, capsys, flags, message):
    assert _exit_code(["attack", str(run_folder), "--limit", "4", "--device", "cpu", *flags]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error


def test_a_model_without_normalize_is_refused(run_folder, capsys, monkeypatch):
    import scenelab.runs as runs

    real_load_model = runs.load_model

    def load_without_normalize(path, device):
        model, checkpoint = real_load_model(path, device)
        return nn.Sequential(*list(model)[1:]), checkpoint

    monkeypatch.setattr(runs, "load_model", load_without_normalize)
    assert main(["attack", str(run_folder), "--limit", "4", "--device", "cpu"]) == 2
    assert "not scenelab.nn.Normalize" in capsys.readouterr().err


def _exit_code(argv: list[str]) -> int:
    """main()'s return value, or the code argparse exits with on a bad flag."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code
