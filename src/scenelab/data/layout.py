"""Which layout a dataset folder has, and its samples checked at start-up."""

from __future__ import annotations

from pathlib import Path

from scenelab.data.folders import is_folder_root, read_folders
from scenelab.data.miniplaces import is_miniplaces_root, read_miniplaces
from scenelab.data.samples import Problem, Samples
from scenelab.errors import ScenelabError

SPLITS = ("train", "val", "test")
SHOWN_PROBLEMS = 5  # how many problems a start-up error lists before "and N more"


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ScenelabError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")


def check_dataset(spec: str | Path) -> None:
    """Refuse a dataset that is neither 'digits' nor a folder of a known layout: cheap, so
    that commands that work long before they read a split (reproduce, study) check it
    first. The list files and images are checked when a split is read."""
    root = Path(spec)
    if str(spec) == "digits":
        return
    if not root.is_dir():
        raise ScenelabError(
            f"dataset {str(root)!r}: no such folder (expected a folder or 'digits')"
        )
    if not (is_miniplaces_root(root) or is_folder_root(root)):
        raise ScenelabError(
            f"{root}: not a dataset: expected images/ with train.txt or val.txt (MiniPlaces),"
            " or train/<class>/ folders (class folders)"
        )


def read_samples(root: Path, split: str) -> tuple[Samples, list[Problem]]:
    """The samples of one split of a MiniPlaces or class-folder root, and their problems."""
    check_split(split)
    check_dataset(root)
    if is_miniplaces_root(root):
        return read_miniplaces(root, split)
    return read_folders(root, split)


def available_splits(root: Path) -> list[str]:
    """The splits a MiniPlaces or class-folder root has files for."""
    if is_miniplaces_root(root):
        has_test = (root / "test.txt").is_file() or (root / "images" / "test").is_dir()
        present = [(root / f"{split}.txt").is_file() for split in ("train", "val")] + [has_test]
    else:
        present = [(root / split).is_dir() for split in SPLITS]
    return [split for split, here in zip(SPLITS, present, strict=True) if here]


def load_samples(root: Path, split: str) -> Samples:
    """The samples of one split; ScenelabError naming the first problems if there are any."""
    samples, problems = read_samples(root, split)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise ScenelabError(
            f"{len(problems)} problem(s) in the {split} split of {root}:\n  {shown}{tail}\n"
            f"(`scenelab data verify {root}` lists them all)"
        )
    return samples
