"""`scenelab data verify ROOT [--write-list PATH]`: every list line and every image, with every
problem named; the usable lines of a split's list written to PATH (`data.usable`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from scenelab.data.datasets import DIGITS
from scenelab.data.layout import available_splits, read_samples
from scenelab.data.samples import Problem
from scenelab.data.scan import scan_images
from scenelab.data.spec import parse_spec
from scenelab.data.usable import list_to_filter, write_usable_lines
from scenelab.errors import ScenelabError
from scenelab.safetext import terminal


@dataclass
class SplitCheck:
    split: str
    images: int
    problems: list[Problem]


def check_dataset(spec: str | Path, workers: int | None = None) -> list[SplitCheck]:
    """Check every split of `spec`: its list lines, labels and files, and decode every image.

    Problems shared by splits (categories.txt, train and val classes) are reported once,
    with the first split they are found in.
    """
    splits = available_splits(spec)  # raises the error that says what the folder is missing
    if not splits:
        raise ScenelabError(f"{parse_spec(spec).root}: no split (train, val or test) found")
    checks, seen = [], set()
    for split in splits:
        samples, problems = read_samples(spec, split)
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


def verify(spec: str, write_list: Path | None = None, split: str = "train") -> int:
    """Print a summary and every problem of dataset `spec`; 1 if there is any, else 0.

    With `write_list`, also write the usable lines of `split`'s list file there (a new
    file) and print the spec that reads them."""
    if spec == DIGITS:
        if write_list is not None:
            raise ScenelabError("--write-list: digits is built in and has no list file")
        print("digits: built into scikit-learn, nothing to verify")
        return 0
    original = list_to_filter(spec, split, write_list) if write_list is not None else None
    checks = check_dataset(spec)
    for check in checks:
        for problem in check.problems:
            print(terminal(str(problem)))
    total = sum(len(check.problems) for check in checks)
    summary = ", ".join(f"{c.split} {c.images} images ({len(c.problems)} problems)" for c in checks)
    print(terminal(f"{spec}: {summary}"))
    print(f"{total} problem(s) found" if total else "no problems found")
    if original is not None and write_list is not None:
        problems = [problem for check in checks for problem in check.problems]
        kept, lines = write_usable_lines(original, write_list, problems)
        usable = parse_spec(spec).with_list(split, write_list)
        print(terminal(f"wrote {kept} of the {lines} lines of {original} to {write_list}"))
        print(terminal(f"its dataset spec: --data '{usable}'"))
        print(terminal(f"(check it: scenelab data verify '{usable}')"))
    return 1 if total else 0
