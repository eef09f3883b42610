"""The MiniPlaces layout: `images/` plus list files (Zhou et al., Places, PAMI 2017).

    ROOT/images/train/a/abbey/00000001.jpg   ROOT/train.txt  `train/a/abbey/00000001.jpg 0`
    ROOT/images/val/00000001.jpg             ROOT/val.txt    `val/00000001.jpg 17`
    ROOT/images/test/00000001.jpg            ROOT/test.txt   `test/00000001.jpg` (optional)
                                             ROOT/categories.txt `/a/abbey 0` (optional)

List paths are relative to `images/`. The test split has no labels: its images get label
-1, listed by `test.txt` when present, else every image under `images/test/` in name order
(the official release ships no `test.txt`). Class names come from `categories.txt`; without
it, from the folder names of the training images (or the label number when they disagree).
A dataset spec may name another list file for train or val (`data.spec`).
"""

from __future__ import annotations

import os
from pathlib import Path

from scenelab.data.decode import IMAGE_EXTENSIONS, file_problem
from scenelab.data.listfile import UNLABELLED, Entry, parse_categories, parse_list, read_text
from scenelab.data.samples import Problem, Samples
from scenelab.data.spec import DatasetSpec

LABELLED_SPLITS = ("train", "val")
MISSING_IMAGE = "image not found: "  # a listed image that is not there (a mirror lacks it)


def is_miniplaces_root(spec: DatasetSpec) -> bool:
    return (spec.root / "images").is_dir() and any(
        spec.list_file(split).is_file() for split in LABELLED_SPLITS
    )


def _regular_files(images: Path, paths: list[str]) -> set[str]:
    """The listed paths that are regular files, found by walking the folders they live in.

    One directory walk (which knows each entry's kind without a stat) costs far less than
    a stat per file on 100,000 lines; callers check the paths it misses one by one.
    """
    found: set[str] = set()
    for top in {path.split("/", 1)[0] for path in paths if "/" in path}:
        pending = [images / top]
        while pending:  # os.walk's order does not matter here; it cannot tell file kinds
            folder = pending.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = list(listing)
            except OSError:
                continue
            prefix = folder.relative_to(images).as_posix() + "/"
            found.update(prefix + e.name for e in entries if e.is_file())
            pending += [folder / e.name for e in entries if e.is_dir(follow_symlinks=False)]
    found.intersection_update(paths)
    return found


def _file_problems(images: Path, entries: list[Entry], source: Path) -> list[Problem]:
    """A problem for each listed image that is missing or not a regular file."""
    regular = _regular_files(images, [entry.path for entry in entries])
    problems = []
    for entry in entries:
        if entry.path in regular:
            continue
        path = images / entry.path
        problem = file_problem(path)  # missed by the walk: under a linked folder, say
        if problem is not None and not os.path.lexists(path):
            problem = f"{MISSING_IMAGE}{path}"
        elif problem is not None:
            problem = f"{path}: {problem}"
        if problem is not None:
            problems.append(Problem(source, entry.line, problem))
    return problems


def _class_names(
    root: Path, named: list[Entry], named_source: Path
) -> tuple[list[str], list[Problem]]:
    """Names from categories.txt, else from the folders of the `named` entries' images.

    Without categories.txt the classes are 0..max label, so a label must be below the
    number of `named` entries: a list of N images cannot have images of more than N
    classes, and a stray 1000000000 must not make a billion of them.
    """
    categories = root / "categories.txt"
    if categories.is_file():
        return parse_categories(read_text(categories), categories)
    problems = [
        Problem(
            named_source,
            e.line,
            f"label {e.label} is out of range: without categories.txt, labels must be below "
            f"the {len(named)} images of {named_source.name}",
        )
        for e in named
        if e.label >= len(named)
    ]
    folders: dict[int, set[str]] = {}
    for entry in named:
        parent = entry.path.rsplit("/", 2)[-2] if "/" in entry.path else ""
        if entry.label < len(named):
            folders.setdefault(entry.label, set()).add(parent)
    labels = range(max(folders, default=-1) + 1)
    names = [next(iter(folders[k])) if len(folders.get(k, ())) == 1 else str(k) for k in labels]
    if len(set(names)) < len(names):  # folders do not tell the classes apart (val/, say)
        names = [str(label) for label in labels]
    return names, problems


def _read_labelled(spec: DatasetSpec, split: str) -> tuple[list[Entry], list[Problem]]:
    list_file = spec.list_file(split)
    if not list_file.is_file():
        return [], [Problem(list_file, None, f"missing: the {split} split needs it")]
    return parse_list(read_text(list_file), list_file, labelled=True)


def _read_test(root: Path) -> tuple[list[Entry], list[Problem], Path]:
    list_file = root / "test.txt"
    if list_file.is_file():
        entries, problems = parse_list(read_text(list_file), list_file, labelled=False)
        return entries, problems, list_file
    folder = root / "images" / "test"
    if not folder.is_dir():
        return [], [Problem(list_file, None, "missing, and so is images/test/")], list_file
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    return [Entry(f"test/{name}", UNLABELLED, None) for name in names], [], folder


def _class_mismatch(spec: DatasetSpec, train: list[Entry], val: list[Entry]) -> list[Problem]:
    train_labels, val_labels = {e.label for e in train}, {e.label for e in val}
    val_file, train_name = spec.list_file("val"), spec.list_file("train").name
    problems = []
    if val_labels - train_labels:
        missing = sorted(val_labels - train_labels)[:10]
        problems.append(Problem(val_file, None, f"labels {missing} have no training images"))
    if train_labels - val_labels:
        missing = sorted(train_labels - val_labels)[:10]
        problems.append(Problem(val_file, None, f"labels {missing} of {train_name} are absent"))
    return problems


def _out_of_range(entries: list[Entry], num_classes: int, source: Path) -> list[Problem]:
    return [
        Problem(source, e.line, f"label {e.label} is out of range for {num_classes} classes")
        for e in entries
        if e.label >= num_classes
    ]


def read_miniplaces(spec: DatasetSpec, split: str) -> tuple[Samples, list[Problem]]:
    """The samples of `split` (train/val/test) and every problem found without decoding.

    Checked: list-file syntax, labels in range, duplicated paths, missing images, an empty
    split, categories.txt, and train.txt and val.txt having different sets of labels.
    """
    root, train_file = spec.root, spec.list_file("train")
    has_train, has_val = train_file.is_file(), spec.list_file("val").is_file()
    source = spec.list_file(split)
    if split == "test":
        entries, problems, source = _read_test(root)
    else:
        entries, problems = _read_labelled(spec, split)
    train = entries if split == "train" else _read_labelled(spec, "train")[0]
    named, named_source = (train, train_file) if has_train else (entries, source)
    classes, class_problems = _class_names(root, named, named_source)
    problems = class_problems + problems
    if split != "test" and not class_problems:
        problems += _out_of_range(entries, len(classes), source)
    if split != "test" and has_train and has_val:
        val = entries if split == "val" else _read_labelled(spec, "val")[0]
        problems += _class_mismatch(spec, train, val)

    images = root / "images"
    paths = [entry.path for entry in entries]
    problems += _file_problems(images, entries, source)
    if not entries and source.exists():
        problems.append(Problem(source, None, f"the {split} split has no images"))
    samples = Samples(
        paths=[f"{images}{os.sep}{path}" for path in paths],
        labels=[entry.label for entry in entries],
        classes=classes,
        source=source,
        lines=[entry.line for entry in entries],
    )
    return samples, problems
