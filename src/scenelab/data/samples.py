"""What every on-disk layout produces: the samples of one split, and what is wrong with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset, located as precisely as possible."""

    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else f"{self.file}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Samples:
    """The images of one split (file paths), their labels, and the class names (index = label).

    `source` is the list file or split folder the samples come from; `lines[i]` is the
    list-file line of sample i (None when the layout has no list file).
    """

    paths: list[str]
    labels: list[int]
    classes: list[str]
    source: Path
    lines: list[int | None]

    def __len__(self) -> int:
        return len(self.paths)

    def where(self, index: int) -> tuple[Path, int | None]:
        """The file and line to name in a problem about sample `index`."""
        line = self.lines[index]
        return (self.source, line) if line is not None else (Path(self.paths[index]), None)
