"""Small datasets written on the fly: MiniPlaces and class-folder layouts of random JPEGs.

A plain module (not conftest.py) so that tests import it by a name no other folder uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("/a/abbey", "/b/bedroom", "/c/coast")


def write_image(path: Path, seed: int, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> Path:
    """A random image (width, height) saved in the format its suffix names."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).convert(mode).save(path)
    return path


def make_miniplaces(root: Path, train_per_class: int = 4, val_per_class: int = 2) -> Path:
    """A MiniPlaces root in the official layout: images/, train.txt, val.txt, categories.txt."""
    train_lines, val_lines = [], []
    for label, category in enumerate(CLASSES):
        for i in range(train_per_class):
            relative = f"train{category}/{i + 1:08d}.jpg"
            write_image(root / "images" / relative, seed=100 * label + i)
            train_lines.append(f"{relative} {label}")
        for i in range(val_per_class):
            relative = f"val/{label * val_per_class + i + 1:08d}.jpg"
            write_image(root / "images" / relative, seed=10_000 + 100 * label + i)
            val_lines.append(f"{relative} {label}")
    (root / "train.txt").write_text("\n".join(train_lines) + "\n")
    (root / "val.txt").write_text("\n".join(val_lines) + "\n")
    (root / "categories.txt").write_text(
        "".join(f"{category} {label}\n" for label, category in enumerate(CLASSES))
    )
    return root
