"""The usable lines of a split's list file, written beside it (`data verify --write-list`).

A public mirror of MiniPlaces lists 100,000 training images and holds 90,000: training on
it is refused (every listed image must be there). The way on is a new list of the lines
that have no problem (parsed, labelled in range, listed once, present, decodable), written
to a new file, never over the original, and a dataset spec (`data.spec`) that reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from scenelab.data.layout import dataset_spec
from scenelab.data.listfile import read_text
from scenelab.data.miniplaces import is_miniplaces_root
from scenelab.data.samples import Problem
from scenelab.errors import ScenelabError
from scenelab.files import write_text


def list_to_filter(spec: str | Path, split: str, target: Path) -> Path:
    """The list file of `split` whose usable lines `target` is to get; ScenelabError, before
    any checking, when there is none or `target` exists (the original included)."""
    parsed = dataset_spec(spec)
    if not is_miniplaces_root(parsed):
        raise ScenelabError(
            f"--write-list: {parsed.root} has class folders, no list file to keep lines of"
        )
    original = parsed.list_file(split)
    if not original.is_file():
        raise ScenelabError(f"--write-list: the {split} split has no list file ({original})")
    if target.resolve() == original.resolve():
        raise ScenelabError(
            f"--write-list {target}: that is the {split} list itself; the usable lines go to "
            "a new file beside it"
        )
    if os.path.lexists(target):
        raise ScenelabError(f"--write-list {target}: already exists; name a new file")
    if not target.parent.is_dir():
        raise ScenelabError(f"--write-list {target}: no folder {target.parent} to write it in")
    return original


def write_usable_lines(
    original: Path, target: Path, problems: Iterable[Problem]
) -> tuple[int, int]:
    """Write the non-blank lines of `original` that no problem names to `target`; return how
    many, and of how many. ScenelabError, nothing written, when no line is usable."""
    unusable = {p.line for p in problems if p.file == original and p.line is not None}
    lines = read_text(original).splitlines()  # numbered as listfile.parse_list numbers them
    listed = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    kept = [line for number, line in listed if number not in unusable]
    if not kept:
        raise ScenelabError(f"{original}: no usable line; --write-list {target} not written")
    write_text(target, "\n".join(kept) + "\n")
    return len(kept), len(listed)
