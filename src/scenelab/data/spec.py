"""Dataset specs: a dataset folder, with its own list file for a split where one is given.

    ROOT                        the folder's layout as it is (MiniPlaces: ROOT/train.txt ...)
    ROOT::train=LIST            MiniPlaces, the train split's lines read from LIST instead
    ROOT::train=LIST::val=LIST  ... and the val split's too

A relative LIST is relative to ROOT (as a list's image paths are relative to ROOT/images),
so that a spec keeps meaning the same files from any folder. `scenelab data verify ROOT
--write-list PATH` writes such a list, the usable lines of a split, and prints its spec.
The built-in 'digits' is no folder and has no spec of this kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scenelab.errors import ScenelabError

SEPARATOR = "::"
LIST_SPLITS = ("train", "val")  # the splits whose MiniPlaces list file a spec can replace


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset folder and, per split, the list file that replaces ROOT/SPLIT.txt."""

    root: Path
    lists: dict[str, Path] = field(default_factory=dict)

    def list_file(self, split: str) -> Path:
        """The list file of `split`: the one the spec gives, else ROOT/SPLIT.txt."""
        return self.lists.get(split, self.root / f"{split}.txt")

    def with_list(self, split: str, list_file: Path) -> str:
        """This spec as text with `list_file` for `split`: relative to ROOT when inside it."""
        try:
            shown = list_file.resolve().relative_to(self.root.resolve())
        except ValueError:
            shown = list_file.resolve()
        lists = {**self.lists, split: shown}
        return SEPARATOR.join(
            [str(self.root), *(f"{name}={lists[name]}" for name in LIST_SPLITS if name in lists)]
        )


def dataset_name(spec: str | Path) -> str:
    """What runs and reports call a dataset: its root folder's name ('digits' for the
    built-in one), without the spec's list files."""
    return Path(str(spec).split(SEPARATOR)[0]).name


def parse_spec(spec: str | Path) -> DatasetSpec:
    """`ROOT[::SPLIT=LIST]...` as a DatasetSpec; ScenelabError naming a malformed part."""
    root, *parts = str(spec).split(SEPARATOR)
    lists: dict[str, Path] = {}
    for part in parts:
        split, equals, name = part.partition("=")
        if not equals or not name:
            raise ScenelabError(
                f"dataset {str(spec)!r}: {part!r} is not SPLIT=LIST (e.g. "
                f"{root}{SEPARATOR}train=train.usable.txt)"
            )
        if split not in LIST_SPLITS:
            raise ScenelabError(
                f"dataset {str(spec)!r}: {split!r} has no list file to replace; "
                f"expected one of {', '.join(LIST_SPLITS)}"
            )
        if split in lists:
            raise ScenelabError(f"dataset {str(spec)!r}: the {split} list is given twice")
        lists[split] = Path(root) / name  # an absolute name stays itself
    if not root:
        raise ScenelabError(f"dataset {str(spec)!r}: no folder before {SEPARATOR!r}")
    return DatasetSpec(Path(root), lists)
