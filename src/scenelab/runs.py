"""A run folder, as `scenelab train` leaves it and the other commands read it: where
results about a checkpoint go, its config and metrics, its model and the images it is
evaluated on.

A run folder holds config.yaml, metrics.csv (one row per finished epoch) and
checkpoints/{last,best}.pt; eval, predict, attack and saliency write next to them.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from scenelab.checkpoint import (
    CHECKPOINT_DIR,
    MODEL_KEYS,
    checkpoint_classes,
    load_model,
    resolve_checkpoint,
)
from scenelab.config import check_stored_config, read_yaml_mapping
from scenelab.data import build_dataset, build_transform, default_image_size
from scenelab.errors import ScenelabError


def run_folder_of(checkpoint_or_run: str | Path) -> Path:
    """Where results about a checkpoint go: the run folder it belongs to, else its folder."""
    path = Path(checkpoint_or_run)
    if path.is_dir():
        return path
    return path.parent.parent if path.parent.name == CHECKPOINT_DIR else path.parent


def metrics_rows(run_dir: Path) -> int:
    """The epochs metrics.csv holds (0 without one)."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return 0
    with path.open(newline="") as file:
        return sum(1 for _ in csv.DictReader(file))


# --- its config and metrics: `scenelab compare`, the study's report ---------------------


@dataclass
class RunHistory:
    """One run folder: its name, resolved config and metrics.csv rows (numbers as floats)."""

    name: str
    folder: Path
    config: dict[str, Any]
    rows: list[dict[str, float]]

    def column(self, name: str) -> list[float]:
        """The column's values over the epochs that measured it: an epoch --val-every did
        not validate has NaN in its val columns, left out here."""
        return [row[name] for row in self.rows if not math.isnan(row[name])]


def read_run(folder: str | Path) -> RunHistory:
    """A run folder's config.yaml and metrics.csv; ScenelabError naming what is missing."""
    folder = Path(folder)
    metrics_path, config_path = folder / "metrics.csv", folder / "config.yaml"
    for path in (metrics_path, config_path):
        if not path.is_file():
            raise ScenelabError(f"{folder}: not a run folder ({path.name} is missing)")
    config = check_stored_config(
        read_yaml_mapping(config_path, flag=""), str(config_path), MODEL_KEYS
    )
    with metrics_path.open(newline="") as file:
        try:
            rows = [
                {key: float(value) for key, value in row.items()} for row in csv.DictReader(file)
            ]
        except (TypeError, ValueError) as error:
            raise ScenelabError(f"{metrics_path}: not a number in the table ({error})") from None
    if not rows:
        raise ScenelabError(f"{metrics_path}: no finished epoch yet")
    return RunHistory(name=folder.name, folder=folder, config=config, rows=rows)


# --- its model and evaluation images: `scenelab attack`, `scenelab saliency` ----------


@dataclass
class LoadedRun:
    model: nn.Module  # in eval mode, on the requested device
    config: dict[str, Any]
    classes: list[str]
    folder: Path  # where attack.json and plots/ go
    checkpoint: Path  # the file the weights came from (a run folder's best.pt)
    epoch: int | None  # the epoch those weights ended


def load_run(path: str | Path, device: torch.device) -> LoadedRun:
    """A run folder or checkpoint file -> its model, config, class names, run folder and
    the checkpoint file and epoch the weights come from."""
    path = Path(path)
    file = resolve_checkpoint(path)
    model, checkpoint = load_model(file, device)
    config = checkpoint.get("config", {})
    classes = checkpoint_classes(checkpoint)
    return LoadedRun(model, config, classes, run_folder_of(path), file, checkpoint.get("epoch"))


def evaluation_dataset(run: LoadedRun, data: str | None, split: str) -> tuple[Dataset, str]:
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
