"""`scenelab saliency` end to end on a digits checkpoint, and its clear errors."""

from __future__ import annotations

import pytest
import torch

from scenelab.checkpoint import save_checkpoint
from scenelab.cli import main
from scenelab.models.simplenet import SimpleNet


@pytest.fixture
def run_folder(tmp_path):
    torch.manual_seed(0)
    config = {
        "model": "simplenet",
        "num_classes": 10,
        "conv": "native",
        "data": "digits",
        "image_size": 32,
    }
    state = {
        "model": SimpleNet(num_classes=10).state_dict(),
        "config": config,
        "classes": [str(digit) for digit in range(10)],
    }
    save_checkpoint(tmp_path / "checkpoints" / "last.pt", state)
    return tmp_path


@pytest.mark.parametrize(
    ("method", "flags"),
    [
        ("gradient", []),
        ("smoothgrad", ["--samples", "3"]),
        ("integrated_gradients", ["--steps", "4"]),
    ],
)
def test_saliency_writes_the_grid_into_the_run_folder(run_folder, capsys, method, flags):
    checkpoint = run_folder / "checkpoints" / "last.pt"  # a checkpoint file works as well
    assert (
        main(
            ["saliency", str(checkpoint), "--n", "6", "--method", method, "--device", "cpu", *flags]
        )
        == 0
    )
    path = run_folder / "plots" / f"saliency_{method}.png"
    assert path.stat().st_size > 10_000
    out = capsys.readouterr().out
    assert str(path) in out
    if method == "integrated_gradients":
        assert "completeness gap" in out


def test_out_flag_chooses_the_file(run_folder, tmp_path):
    target = tmp_path / "elsewhere" / "maps.png"
    assert (
        main(["saliency", str(run_folder), "--n", "2", "--out", str(target), "--device", "cpu"])
        == 0
    )
    assert target.is_file()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--n", "0"], "argument --n: must be a whole number >= 1"),
        (["--data", "/no/such/data"], "/no/such/data"),
    ],
)
def test_bad_flags_are_clear_errors(run_folder, capsys, flags, message):
    try:
        code = main(["saliency", str(run_folder), "--device", "cpu", *flags])
    except SystemExit as exited:  # argparse refuses the flag itself
        code = exited.code
    assert code == 2
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error
