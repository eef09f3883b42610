"""A run folder holding a checkpoint of an untrained SimpleNet for the digits (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scenelab.checkpoint import save_checkpoint
from scenelab.data import build_dataset
from scenelab.models import build_model

DIGITS_IMAGE_SIZE = 32


def save_digits_run(run: Path, classes: list[str] | None = None, seed: int = 0) -> Path:
    """`run/checkpoints/best.pt` with a randomly initialised simplenet for 10 classes."""
    torch.manual_seed(seed)
    model = build_model("simplenet", 10)
    config = {
        "model": "simplenet",
        "num_classes": 10,
        "conv": "native",
        "data": "digits",
        "image_size": DIGITS_IMAGE_SIZE,
    }
    state = {
        "model": model.state_dict(),
        "config": config,
        "classes": classes or build_dataset("digits", "val").classes,
        "epoch": 1,
    }
    save_checkpoint(run / "checkpoints" / "best.pt", state)
    return run


@pytest.fixture
def digits_run(tmp_path: Path) -> Path:
    return save_digits_run(tmp_path / "run")


@pytest.fixture
def make_digits_run():
    """`save_digits_run` itself, for tests that need other classes or several runs."""
    return save_digits_run
