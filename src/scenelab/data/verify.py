"""`scenelab data verify ROOT`: every list line and every image, with every problem named."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from scenelab.data.datasets import DIGITS
from scenelab.data.layout import available_splits, read_samples
from scenelab.data.samples import Problem
from scenelab.data.scan import scan_images
from scenelab.errors import ScenelabError


@dataclass
class SplitCheck:
    split: str
    images: int
    problems: list[Problem]


def check_dataset(root: Path, workers: int | None = None) -> list[SplitCheck]:
    """Check every split of `root`: its list lines, labels and files, and decode every image.

    Problems shared by splits (categories.txt, train and val classes) are reported once,
    with the first split they are found in.
    """
    splits = available_splits(root) if root.is_dir() else []
    if not splits:
        read_samples(root, "train")  # raises the error that says what `root` is missing
        raise ScenelabError(f"{root}: no split (train, val or test) found")
    checks, seen = [], set()
    for split in splits:
        samples, problems = read_samples(root, split)
        present = [i for i, path in enumerate(samples.paths) if os.path.isfile(path)]
        infos = scan_images([samples.paths[i] for i in present], workers)
        problems += [
            Problem(*samples.where(i), f"does not decode: {info.error}")
            for i, info in zip(present, infos, strict=True)
            if info.error is not None
        ]
        fresh = [problem for problem in problems if problem not in seen]
        seen.update(fresh)
        checks.append(SplitCheck(split, len(samples), fresh))
    return checks


def verify(spec: str) -> int:
    """Print a summary and every problem of dataset `spec`; 1 if there is any, else 0."""
    if spec == DIGITS:
        print("digits: built into scikit-learn, nothing to verify")
        return 0
    root = Path(spec)
    checks = check_dataset(root)
    for check in checks:
        for problem in check.problems:
            print(problem)
    total = sum(len(check.problems) for check in checks)
    summary = ", ".join(f"{c.split} {c.images} images ({len(c.problems)} problems)" for c in checks)
    print(f"{root}: {summary}")
    print(f"{total} problem(s) found" if total else "no problems found")
    return 1 if total else 0
