"""MiniPlaces list files (`train/a/abbey/00000001.jpg 0`) and `categories.txt`.

Parsing never raises on bad content: every bad line becomes a `Problem` naming the file
and line, so that `scenelab data verify` can print all of them and `build_dataset` can
stop at start-up with the first few.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scenelab.data.samples import Problem
from scenelab.errors import ScenelabError


@dataclass(frozen=True)
class Entry:
    """One list-file line: an image path relative to `images/`, its label, its line number."""

    path: str
    label: int
    line: int | None


UNLABELLED = -1  # the label of every image of a split without labels (MiniPlaces `test`)


def read_text(path: Path) -> str:
    """The file's text (UTF-8, BOM tolerated); a clean error when it cannot be read."""
    try:
        data = path.read_bytes()
        return data.decode("utf-8-sig")
    except OSError as error:
        raise ScenelabError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ScenelabError(
            f"{path}:{line}: not UTF-8 text (byte {data[error.start]:#04x}: {error.reason}); "
            "save the file as UTF-8"
        ) from None


def _path_problem(path: str) -> str | None:
    if path[:1] in ("/", "\\") or path[1:2] == ":":
        return f"image path {path!r} is absolute; it must be relative to images/"
    if ".." in path and ".." in path.split("/"):
        return f"image path {path!r} contains '..'; it must stay inside images/"
    return None


def _labelled_lines(text: str, source: Path) -> Iterator[tuple[int, str, int] | Problem]:
    """(line number, path, label) for each non-blank `PATH LABEL` line, or a Problem."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = line.rsplit(maxsplit=1)
        if len(fields) != 2:
            yield Problem(source, number, f"expected 'PATH LABEL', got {line!r}")
            continue
        path, label_text = fields
        try:
            label = int(label_text)
        except ValueError:
            yield Problem(source, number, f"label {label_text!r} is not an integer")
            continue
        if label < 0:
            yield Problem(source, number, f"label {label} is negative")
        else:
            yield number, path, label


def _unlabelled_lines(text: str) -> Iterator[tuple[int, str, int]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line:
            yield number, line, UNLABELLED


def parse_list(text: str, source: Path, labelled: bool = True) -> tuple[list[Entry], list[Problem]]:
    """Parse a list file: `PATH LABEL` per line, or just `PATH` when `labelled` is False.

    The label is the last whitespace-separated field, so a path may contain spaces. Blank
    lines are ignored. Labels must be non-negative integers (the caller knows the number of
    classes); paths must be relative and free of `..`; a path listed twice is a problem at
    its second line. Unlabelled entries get `UNLABELLED` (-1).
    """
    lines = _labelled_lines(text, source) if labelled else _unlabelled_lines(text)
    entries: list[Entry] = []
    problems: list[Problem] = []
    first_line_of: dict[str, int] = {}
    for item in lines:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        number, path, label = item
        message = _path_problem(path)
        if message is None and path in first_line_of:
            message = f"{path} is listed twice (first at line {first_line_of[path]})"
        if message is not None:
            problems.append(Problem(source, number, message))
            continue
        first_line_of[path] = number
        entries.append(Entry(path, label, number))
    return entries, problems


def category_name(token: str) -> str:
    """`/a/abbey` -> `abbey`, `/a/apartment_building/outdoor` -> `apartment_building/outdoor`."""
    parts = [part for part in token.split("/") if part]
    if len(parts) > 1 and len(parts[0]) == 1:
        parts = parts[1:]
    return "/".join(parts)


def parse_categories(text: str, source: Path) -> tuple[list[str], list[Problem]]:
    """Class names from `categories.txt` (`/a/abbey 0` per line), indexed by label.

    Labels must be exactly 0..K-1, each once; otherwise the problems say which are wrong.
    """
    problems: list[Problem] = []
    names: dict[int, str] = {}
    for item in _labelled_lines(text, source):
        if isinstance(item, Problem):
            problems.append(item)
        elif item[2] in names:
            problems.append(Problem(source, item[0], f"label {item[2]} is given twice"))
        else:
            names[item[2]] = category_name(item[1])
    if not names and not problems:
        problems.append(Problem(source, None, "no categories"))
    missing = sorted(set(range(len(names))) - set(names))
    if missing:
        problems.append(
            Problem(source, None, f"labels must be 0..{len(names) - 1}; missing {missing[:10]}")
        )
    return [names[label] for label in sorted(names)], problems
