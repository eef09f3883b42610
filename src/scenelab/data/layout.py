"""Which layout a dataset folder has, and its samples checked at start-up.

Every function takes a dataset spec: a folder, or a MiniPlaces folder with another list
file for a split (`ROOT::train=LIST`, `data.spec`)."""

from __future__ import annotations

import shlex
from pathlib import Path

from scenelab.data.folders import is_folder_root, read_folders
from scenelab.data.miniplaces import MISSING_IMAGE, is_miniplaces_root, read_miniplaces
from scenelab.data.samples import Problem, Samples
from scenelab.data.spec import DatasetSpec, parse_spec
from scenelab.errors import ScenelabError

SPLITS = ("train", "val", "test")
SHOWN_PROBLEMS = 5  # how many problems a start-up error lists before "and N more"


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ScenelabError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")


def dataset_spec(spec: str | Path) -> DatasetSpec:
    """The spec of a dataset folder of a known layout; refuse anything else (cheap, so that
    commands that work long before they read a split (reproduce, study) check it first).
    The list files and images are checked when a split is read."""
    parsed = parse_spec(spec)
    root = parsed.root
    if not root.is_dir():
        raise ScenelabError(
            f"dataset {str(root)!r}: no such folder (expected a folder or 'digits')"
        )
    for split, list_file in parsed.lists.items():
        if not list_file.is_file():
            raise ScenelabError(
                f"dataset {str(spec)!r}: the {split} list {list_file} does not exist"
            )
    if is_miniplaces_root(parsed):
        return parsed
    if parsed.lists:
        raise ScenelabError(
            f"dataset {str(spec)!r}: list files replace those of a MiniPlaces folder (images/ "
            f"with train.txt or val.txt), and {root} is none"
        )
    if not is_folder_root(root):
        raise ScenelabError(
            f"{root}: not a dataset: expected images/ with train.txt or val.txt (MiniPlaces),"
            " or train/<class>/ folders (class folders)"
        )
    return parsed


def check_dataset(spec: str | Path) -> None:
    """Refuse a dataset that is neither 'digits' nor a folder of a known layout."""
    if str(spec) != "digits":
        dataset_spec(spec)


def read_samples(spec: str | Path, split: str) -> tuple[Samples, list[Problem]]:
    """The samples of one split of a MiniPlaces or class-folder root, and their problems."""
    check_split(split)
    parsed = dataset_spec(spec)
    if is_miniplaces_root(parsed):
        return read_miniplaces(parsed, split)
    return read_folders(parsed.root, split)


def available_splits(spec: str | Path) -> list[str]:
    """The splits a MiniPlaces or class-folder root has files for."""
    parsed = dataset_spec(spec)
    root = parsed.root
    if is_miniplaces_root(parsed):
        has_test = (root / "test.txt").is_file() or (root / "images" / "test").is_dir()
        present = [parsed.list_file(split).is_file() for split in ("train", "val")] + [has_test]
    else:
        present = [(root / split).is_dir() for split in SPLITS]
    return [split for split, here in zip(SPLITS, present, strict=True) if here]


def _way_on(spec: str | Path, split: str, samples: Samples, problems: list[Problem]) -> str:
    """How to go on when listed images are missing (a mirror lacks some): write the list of
    the usable lines beside the original and train on that."""
    if not any(p.message.startswith(MISSING_IMAGE) for p in problems) or split == "test":
        return ""
    usable = samples.source.with_name(f"{samples.source.stem}.usable.txt")
    split_flag = "" if split == "train" else f" --split {split}"
    quoted = " ".join(shlex.quote(str(arg)) for arg in (spec, "--write-list", usable))
    command = f"scenelab data verify {quoted}{split_flag}"
    return (
        f"\nto use the images that are there: `{command}` writes the usable lines of "
        f"{samples.source.name} to {usable.name} and prints the --data spec that reads them"
    )


def load_samples(spec: str | Path, split: str) -> Samples:
    """The samples of one split; ScenelabError naming the first problems if there are any."""
    samples, problems = read_samples(spec, split)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise ScenelabError(
            f"{len(problems)} problem(s) in the {split} split of {spec}:\n  {shown}{tail}\n"
            f"(`scenelab data verify {spec}` lists them all)"
            + _way_on(spec, split, samples, problems)
        )
    return samples
