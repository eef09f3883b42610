"""The training run every fault test starts: a tiny on-disk dataset, its command line,
and how to tell that two runs computed the same thing."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from PIL import Image

from scenelab.config import RESUMABLE_CHANGES

CLASSES = ("red", "green", "blue")
SIZE = 16
# Columns that measure the machine, not the computation.
TIMING_COLUMNS = frozenset({"epoch_time_s", "images_per_s", "peak_memory_mib"})


def save_png(image: torch.Tensor, path: Path) -> None:
    """A (3, H, W) image of values 0-255 as an 8-bit RGB PNG (lossless)."""
    Image.fromarray(image.to(torch.uint8).permute(1, 2, 0).numpy()).save(path)


def write_class_folders(root: Path, train_per_class: int = 8, val_per_class: int = 4) -> Path:
    """3 classes of SIZE x SIZE PNGs in class folders; one dominant channel per class."""
    generator = torch.Generator().manual_seed(0)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                image = torch.randint(0, 120, (3, SIZE, SIZE), generator=generator)
                image[label] += 120
                save_png(image, folder / f"{index:03d}.png")
    return root


def train_args(data: Path | str, out: Path, epochs: int = 3, batch_size: int = 4) -> list[str]:
    """SimpleNet, float32, deterministic, one thread, no loader processes, the study's
    random augmentation (so that resuming must restore every random generator)."""
    return [
        "train",
        "--data",
        str(data),
        "--model",
        "simplenet",
        "--epochs",
        str(epochs),
        "--batch-size",
        str(batch_size),
        "--image-size",
        str(SIZE),
        "--augment",
        "study",
        "--workers",
        "0",
        "--threads",
        "1",
        "--amp",
        "off",
        "--device",
        "cpu",
        "--deterministic",
        "--out",
        str(out),
    ]


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_equal_trees(a, b, where: str = "") -> None:
    """Nested dicts/lists of tensors and plain values: equal bit for bit."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_equal_trees(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_equal_trees(x, y, f"{where}[{index}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def computed_metrics(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]


def assert_same_run(run: Path, reference: Path) -> None:
    """Same weights, optimizer, schedule, random generators, best.pt and metrics (all but
    the timing columns) as ``reference``."""
    for name in ("last.pt", "best.pt"):
        mine, theirs = load(run / "checkpoints" / name), load(reference / "checkpoints" / name)
        for state in (mine, theirs):
            state.pop("epoch_elapsed")  # wall time
            for key in RESUMABLE_CHANGES:  # the run folder, checkpoint interval, threads
                state["config"].pop(key)
        mine["metrics"] = computed_metrics(mine["metrics"])
        theirs["metrics"] = computed_metrics(theirs["metrics"])
        assert_equal_trees(mine, theirs, name)
    with open(run / "metrics.csv") as a, open(reference / "metrics.csv") as b:
        assert computed_metrics(list(csv.DictReader(a))) == computed_metrics(
            list(csv.DictReader(b))
        )
