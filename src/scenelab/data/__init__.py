"""Datasets, augmentation recipes and loaders; every image is a uint8 (3, H, W) tensor.

`build_dataset(spec, split, transform=None, strict=False, cache=False)` reads `spec`:

- `"digits"`: scikit-learn's handwritten digits as RGB 32x32 (no files, no network);
- a MiniPlaces root: `images/` with list files `train.txt`, `val.txt` (`PATH LABEL` per
  line, paths relative to `images/`) and optional `categories.txt` and `test.txt`;
  `ROOT::train=LIST` reads the train split from another list file (`scenelab.data.spec`);
- a class-folder root: `train/<class>/...`, `val/<class>/...`, `test/<class>/...`.

Splits are `train`, `val` and `test`. The MiniPlaces `test` split has no labels: its images
get label -1. Every dataset has `.classes` (names, index = label) and `.skipped_images`:
how many undecodable images were replaced by another one so far, summed over DataLoader
worker processes (the training engine reads it at the end of each epoch). With
`strict=True` (`--strict-data`) an undecodable image raises ScenelabError instead. List
files, labels and file existence are checked when the dataset is built; with
`cache=True` (`--cache-images`) every image is decoded then too, once (`scenelab.data.cache`).

`build_transform(recipe, image_size, train)` gives the `study`, `light` or `none` recipe;
`build_loader(...)` the DataLoader; `default_image_size(spec)` 32 for digits, else 128.

`scenelab.data.spec` (dataset specs and their names) needs no torch, so this package loads
its other modules only when one of these names is first used (PEP 562): the torch-free
config can read a spec.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scenelab.data.datasets import build_dataset, default_image_size
    from scenelab.data.loader import build_loader
    from scenelab.data.transforms import RECIPES, build_transform

_HOMES = {
    "build_dataset": "scenelab.data.datasets",
    "default_image_size": "scenelab.data.datasets",
    "build_loader": "scenelab.data.loader",
    "RECIPES": "scenelab.data.transforms",
    "build_transform": "scenelab.data.transforms",
}
__all__ = ["RECIPES", "build_dataset", "build_loader", "build_transform", "default_image_size"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'scenelab.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
