"""MiniPlaces list files (`train/a/abbey/00000001.jpg 0`) and `categories.txt`.

Parsing never raises on bad content: every bad line becomes a `Problem` naming the file
and line, so that `scenelab data verify` can print all of them and `build_dataset` can
stop at start-up with the first few.
"""

from __future__ import annotations

import re
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
# A label is ASCII digits only: int() would also read '١' (Arabic-Indic), '１' (full-width),
# '0_1', '+1' and ' 1' as 1.
LABEL = re.compile(r"[0-9]+", re.ASCII)
MAX_LABEL_DIGITS = 18  # far beyond any class count; int() of 4,300+ digits raises


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
        if not LABEL.fullmatch(label_text):
            yield Problem(
                source, number, f"label {label_text!r} is not a number of ASCII digits 0-9"
            )
        elif len(label_text) > MAX_LABEL_DIGITS:
            yield Problem(source, number, f"label {label_text[:20]}... is too large")
        else:
            yield number, path, int(label_text)


def _unlabelled_lines(text: str) -> Iterator[tuple[int, str, int]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line:
            yield number, line, UNLABELLED


def parse_list(text: str, source: Path, labelled: bool = True) -> tuple[list[Entry], list[Problem]]:
    """Parse a list file: `PATH LABEL` per line, or just `PATH` when `labelled` is False.

    The label is the last whitespace-separated field, so a path may contain spaces. Blank
    lines are ignored. Labels must be non-negative integers in ASCII digits (the caller
    knows the number of classes); paths must be relative and free of `..`; a path listed
    twice is a problem at its second line. Unlabelled entries get `UNLABELLED` (-1).
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

    Labels must be exactly 0..K-1, each once, for K lines: a label of K or more is a problem
    at its line, and so are the missing labels. Names must differ (`/a/abbey` and
    `/b/abbey` would both be `abbey`, one key of eval.json): a repeat is a problem at its
    line naming the first.
    """
    problems: list[Problem] = []
    items = list(_labelled_lines(text, source))
    lines = [item for item in items if not isinstance(item, Problem)]
    names: dict[int, str] = {}
    first_line_of: dict[str, tuple[int, str]] = {}
    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        number, token, label = item
        name = category_name(token)
        if label >= len(lines):
            message = f"label {label} is beyond the {len(lines)} categories: labels are 0..K-1"
        elif label in names:
            message = f"label {label} is given twice"
        elif name in first_line_of:
            first, first_token = first_line_of[name]
            message = (
                f"{token!r} has the class name {name!r} of {first_token!r} at line {first}; "
                "class names must differ"
            )
        else:
            names[label] = name
            first_line_of[name] = (number, token)
            continue
        problems.append(Problem(source, number, message))
    if not names and not problems:
        problems.append(Problem(source, None, "no categories"))
    missing = sorted(
        {label for _, _, label in lines if label < len(lines)} ^ set(range(len(lines)))
    )
    if missing:  # the summary first, then the lines
        problems.insert(
            0, Problem(source, None, f"labels must be 0..{len(lines) - 1}; missing {missing[:10]}")
        )
    return [names[label] for label in sorted(names)], problems
