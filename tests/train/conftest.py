"""A tiny class-folder dataset on disk, so that training tests use the real data path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from scenelab.config import RunConfig

CLASSES = ("red", "green", "blue")
TRAIN_PER_CLASS = 8
VAL_PER_CLASS = 4
SIZE = 20


def _write_split(root: Path, split: str, per_class: int, generator: torch.Generator) -> None:
    for label, name in enumerate(CLASSES):
        folder = root / split / name
        folder.mkdir(parents=True)
        for index in range(per_class):
            image = torch.randint(0, 120, (3, SIZE, SIZE), generator=generator, dtype=torch.uint8)
            image[label] += 120  # one dominant channel per class: learnable in a few steps
            # PIL: torchvision.io.write_png is deprecated in torchvision 0.29
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{index:03d}.png")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """3 classes, 24 train and 12 val 20x20 PNGs in class folders."""
    root = tmp_path_factory.mktemp("tiny")
    generator = torch.Generator().manual_seed(0)
    _write_split(root, "train", TRAIN_PER_CLASS, generator)
    _write_split(root, "val", VAL_PER_CLASS, generator)
    return root


@pytest.fixture(scope="session")
def tiny_config(tiny_dataset):
    """``tiny_config(out, **changes)``: SimpleNet on the tiny dataset, 3 epochs of 3 steps
    of 8 images, float32, deterministic, one thread."""

    def make(out, **changes) -> RunConfig:
        config = RunConfig(
            data=str(tiny_dataset),
            model="simplenet",
            epochs=3,
            batch_size=8,
            image_size=16,
            augment="study",
            workers=0,
            amp="off",
            deterministic=True,
            threads=1,
            out=str(out),
        )
        return config.replace(**changes)

    return make


@pytest.fixture(scope="session")
def uninterrupted(tiny_config, tmp_path_factory) -> dict:
    """last.pt of a ``tiny_config`` run never stopped (no loader processes)."""
    from scenelab.checkpoint import load_checkpoint
    from scenelab.train.engine import train

    run = tmp_path_factory.mktemp("uninterrupted")
    train(tiny_config(run))
    return load_checkpoint(run / "checkpoints" / "last.pt")
