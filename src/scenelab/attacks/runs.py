"""What `scenelab attack` and `scenelab saliency` read from a run: the model, its class
names, its folder and the evaluation images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from scenelab.checkpoint import (
    CHECKPOINT_DIR,
    checkpoint_classes,
    load_model,
    resolve_checkpoint,
)
from scenelab.data import build_dataset, build_transform, default_image_size
from scenelab.errors import ScenelabError


@dataclass
class Run:
    model: nn.Module  # in eval mode, on the requested device
    config: dict[str, Any]
    classes: list[str]
    folder: Path  # where attack.json and plots/ go
    checkpoint: Path  # the file the weights came from (a run folder's best.pt)
    epoch: int | None  # the epoch those weights ended


def load_run(path: str | Path, device: torch.device) -> Run:
    """A run folder or checkpoint file -> its model, config, class names, run folder and
    the checkpoint file and epoch the weights come from."""
    path = Path(path)
    file = resolve_checkpoint(path)
    model, checkpoint = load_model(file, device)
    config = checkpoint.get("config", {})
    classes = checkpoint_classes(checkpoint)
    folder = path if path.is_dir() else path.parent
    if not path.is_dir() and folder.name == CHECKPOINT_DIR:
        folder = folder.parent
    return Run(model, config, classes, folder, file, checkpoint.get("epoch"))


def evaluation_dataset(run: Run, data: str | None, split: str) -> tuple[Dataset, str]:
    """The ``split`` of ``data`` (default: the run's own data) with the evaluation transform
    at the run's image size; refuses data whose number of classes differs from the run's."""
    spec = data or run.config.get("data")
    if not spec:
        raise ScenelabError("the checkpoint does not name its data; pass --data")
    image_size = int(run.config.get("image_size") or default_image_size(str(spec)))
    dataset = build_dataset(spec, split, transform=build_transform("none", image_size, False))
    if len(dataset.classes) != len(run.classes):
        raise ScenelabError(
            f"--data {spec} has {len(dataset.classes)} classes but the run was trained on "
            f"{len(run.classes)}"
        )
    return dataset, str(spec)


def spread_indices(length: int, count: int | None) -> list[int]:
    """``count`` indices spread evenly over ``range(length)`` (all of them if None)."""
    if count is None or count >= length:
        return list(range(length))
    if count < 1:
        raise ScenelabError(f"the number of images must be at least 1, got {count}")
    return [round(i * (length - 1) / max(count - 1, 1)) for i in range(count)]


def stack_images(dataset: Dataset, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 3, H, W) and int64 labels (N,) of the given dataset entries."""
    samples = [dataset[i] for i in indices]
    images = torch.stack([image for image, _ in samples])
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    return images, labels
