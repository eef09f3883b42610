"""`scenelab data stats ROOT|digits`: images per class and split, image sizes, pixel statistics.

The per-channel mean and standard deviation are over every pixel of the training split,
in [0, 1] pixel units (what `scenelab.nn.Normalize` takes).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from scenelab.data.datasets import DIGITS
from scenelab.data.digits import CLASSES as DIGIT_CLASSES
from scenelab.data.digits import digits_split
from scenelab.data.layout import available_splits, load_samples
from scenelab.data.scan import scan_images
from scenelab.safetext import terminal


@dataclass
class DatasetStats:
    classes: list[str]
    per_class: dict[str, Counter] = field(default_factory=dict)  # split -> label -> images
    sizes: dict[str, Counter] = field(default_factory=dict)  # split -> (width, height) -> images
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()


def _mean_std(pixels: int, sums: list[int], sums_of_squares: list[int]) -> tuple[tuple, tuple]:
    mean = [s / pixels / 255 for s in sums]
    variance = [q / pixels / 255**2 - m**2 for q, m in zip(sums_of_squares, mean, strict=True)]
    return tuple(mean), tuple(math.sqrt(max(v, 0.0)) for v in variance)


def digits_stats() -> DatasetStats:
    stats = DatasetStats(DIGIT_CLASSES)
    for split in ("train", "val"):
        images, labels = digits_split(split)
        stats.per_class[split] = Counter(labels.tolist())
        stats.sizes[split] = Counter({(images.shape[3], images.shape[2]): len(images)})
        if split == "train":
            flat = images.transpose(0, 1).reshape(3, -1).to(torch.int64)
            pixels = flat.shape[1]
            stats.mean, stats.std = _mean_std(
                pixels, flat.sum(1).tolist(), flat.square().sum(1).tolist()
            )
    return stats


def folder_stats(root: Path, workers: int | None = None) -> DatasetStats:
    """Statistics of a dataset root; every image is decoded once (all cores)."""
    stats = DatasetStats(classes=[])
    for split in available_splits(root):
        samples = load_samples(root, split)
        stats.classes = samples.classes
        infos = scan_images(samples.paths, workers)
        stats.per_class[split] = Counter(samples.labels)
        stats.sizes[split] = Counter((info.width, info.height) for info in infos)
        if split == "train":
            pixels = sum(info.width * info.height for info in infos)
            sums = [sum(info.channel_sum[c] for info in infos) for c in range(3)]
            squares = [sum(info.channel_sum_of_squares[c] for info in infos) for c in range(3)]
            stats.mean, stats.std = _mean_std(pixels, sums, squares)
    return stats


def format_stats(name: str, stats: DatasetStats) -> str:
    """The statistics as text for the terminal; the root and class names are shown with
    `safetext.terminal`, so that a folder name cannot break the table or the terminal."""
    splits = list(stats.per_class)
    classes = [terminal(c) for c in stats.classes]
    width = max([len("class"), *(len(c) for c in classes)])
    lines = [f"{terminal(name)}: {len(classes)} classes", "", "images per class and split:"]
    lines.append(f"| {'class':<{width}} | " + " | ".join(f"{s:>7}" for s in splits) + " |")
    lines.append(f"| {'-' * width} | " + " | ".join("-" * 6 + ":" for _ in splits) + " |")
    for label, name_ in enumerate(classes):
        counts = " | ".join(f"{stats.per_class[s][label]:>7}" for s in splits)
        lines.append(f"| {name_:<{width}} | {counts} |")
    totals = " | ".join(f"{sum(stats.per_class[s].values()):>7}" for s in splits)
    lines.append(f"| {'all':<{width}} | {totals} |")
    if any(-1 in stats.per_class[s] for s in splits):
        lines.append("(test images have no labels: they appear in `all` only)")
    lines += ["", "image sizes (width x height: images):"]
    for split in splits:
        common = stats.sizes[split].most_common(5)
        sizes = ", ".join(f"{w}x{h}: {n}" for (w, h), n in common)
        others = len(stats.sizes[split]) - len(common)
        lines.append(f"  {split}: {sizes}" + (f" and {others} other sizes" if others > 0 else ""))
    if stats.mean:
        lines += [
            "",
            "train pixels in [0, 1], per channel (R, G, B):",
            "  mean " + " ".join(f"{m:.4f}" for m in stats.mean),
            "  std  " + " ".join(f"{s:.4f}" for s in stats.std),
        ]
    return "\n".join(lines)


def print_stats(spec: str) -> int:
    stats = digits_stats() if spec == DIGITS else folder_stats(Path(spec))
    print(format_stats(spec, stats))
    return 0
