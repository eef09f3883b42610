"""The class-folder layout (torchvision ImageFolder conventions).

    ROOT/train/<class>/**/<image>    ROOT/val/<class>/**/<image>    ROOT/test/<class>/...

Classes are the sub-folders of `train/` in sorted order (index = label), so a class gets
the same label in every split; every split must have exactly the same class folders.
Files are found recursively and kept when their extension is an image one.
"""

from __future__ import annotations

import os
from pathlib import Path

from scenelab.data.decode import IMAGE_EXTENSIONS
from scenelab.data.samples import Problem, Samples


def is_folder_root(root: Path) -> bool:
    return (root / "train").is_dir()


def _class_folders(split_dir: Path) -> list[str]:
    return sorted(
        e.name for e in os.scandir(split_dir) if e.is_dir() and not e.name.startswith(".")
    )


def _images_under(folder: Path) -> list[str]:
    found = []
    for parent, dirs, names in os.walk(folder, followlinks=True):
        dirs.sort()
        found += [
            os.path.join(parent, n) for n in sorted(names) if n.lower().endswith(IMAGE_EXTENSIONS)
        ]
    return found


def read_folders(root: Path, split: str) -> tuple[Samples, list[Problem]]:
    """The samples of `split` and every problem found without decoding."""
    split_dir = root / split
    classes = _class_folders(root / "train")
    samples = Samples(paths=[], labels=[], classes=classes, source=split_dir, lines=[])
    if not split_dir.is_dir():
        return samples, [Problem(split_dir, None, f"missing: the {split} split needs it")]
    problems = []
    if not classes:
        problems.append(Problem(root / "train", None, "no class folders"))
    split_classes = _class_folders(split_dir)
    if split_classes != classes:
        extra = sorted(set(split_classes) - set(classes))
        missing = sorted(set(classes) - set(split_classes))
        problems.append(
            Problem(
                split_dir, None, f"classes differ from train/: extra {extra}, missing {missing}"
            )
        )
    for label, name in enumerate(classes):
        if name not in split_classes:
            continue
        images = _images_under(split_dir / name)
        if not images:
            problems.append(Problem(split_dir / name, None, "class folder has no images"))
        samples.paths.extend(images)
        samples.labels.extend([label] * len(images))
    samples.lines.extend([None] * len(samples.paths))
    if not samples.paths and classes:
        problems.append(Problem(split_dir, None, f"the {split} split has no images"))
    return samples, problems
