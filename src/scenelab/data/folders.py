"""The class-folder layout (torchvision ImageFolder conventions).

    ROOT/train/<class>/**/<image>    ROOT/val/<class>/**/<image>    ROOT/test/<class>/...

Classes are the sub-folders of `train/` in sorted order (index = label), so a class gets
the same label in every split; every split must have exactly the same class folders.
Files are found recursively and kept when their extension is an image one. Linked folders
are followed, but every real folder is entered once (by device and inode): a link loop, or
two links to one folder, would otherwise list its images again and again. An image name
that is not a regular file (a FIFO, a device, a broken link) is a problem.
"""

from __future__ import annotations

import os
from pathlib import Path

from scenelab.data.decode import IMAGE_EXTENSIONS, file_problem
from scenelab.data.samples import Problem, Samples


def is_folder_root(root: Path) -> bool:
    return (root / "train").is_dir()


def _class_folders(split_dir: Path) -> list[str]:
    return sorted(
        e.name for e in os.scandir(split_dir) if e.is_dir() and not e.name.startswith(".")
    )


def _images_under(folder: Path) -> tuple[list[str], list[Problem]]:
    """Image files under `folder` in walk order (a folder's files by name, then its
    sub-folders by name), each real folder entered once; and the image names that are not
    regular files."""
    found: list[str] = []
    problems: list[Problem] = []
    entered: set[tuple[int, int]] = set()
    pending = [str(folder)]
    while pending:
        directory = pending.pop()
        try:
            status = os.stat(directory)
            if (status.st_dev, status.st_ino) in entered:
                continue
            entered.add((status.st_dev, status.st_ino))
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            problems.append(Problem(Path(directory), None, f"cannot list: {error.strerror}"))
            continue
        subfolders = []
        for entry in entries:
            if entry.is_dir():
                subfolders.append(entry.path)
            elif entry.name.lower().endswith(IMAGE_EXTENSIONS):
                problem = None if entry.is_file() else file_problem(entry.path)
                if problem is None:
                    found.append(entry.path)
                else:
                    problems.append(Problem(Path(entry.path), None, problem))
        pending.extend(reversed(subfolders))
    return found, problems


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
        images, file_problems = _images_under(split_dir / name)
        problems += file_problems
        if not images:
            problems.append(Problem(split_dir / name, None, "class folder has no images"))
        samples.paths.extend(images)
        samples.labels.extend([label] * len(images))
    samples.lines.extend([None] * len(samples.paths))
    if not samples.paths and classes:
        problems.append(Problem(split_dir, None, f"the {split} split has no images"))
    return samples, problems
