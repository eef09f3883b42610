"""Hostile inputs, one failure class: User text (class names, run names, paths) in Markdown,
HTML, CSV, the terminal and plots.

Each case is a reliability_corpus.Case run through the real command line by
test_bad_inputs.py; docs/reliability.md's corpus table lists them. What each output then
holds (rendered Markdown, CSV cells read back, the bytes printed) is checked by
test_safe_text.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from reliability_corpus import FIRST_IMAGE, SKIPS, TRAIN, WORKS, Case, truncated_jpeg

from scenelab.cli import main

# Two display names for the base dataset's two classes: live HTML in a Markdown renderer,
# and a mathtext syntax error in any matplotlib text.
HOSTILE_CATEGORIES = "<script>alert(1)</script> 0\n$\\frac{a}{$ 1\n"


def trained(categories: str, *copies: str) -> Callable[[Path], None]:
    """The base dataset with ``categories``, and a tiny run of it in DIR/trained (and
    copies of that run under the names ``copies``)."""

    def build(root: Path) -> None:
        (root / "categories.txt").write_text(categories)
        run = root.parent / "trained"
        assert main([arg.format(root=root, run=run, dir=root.parent) for arg in TRAIN]) == 0
        for name in copies:
            shutil.copytree(run, root.parent / name)

    return build


def escape_in_image_path(root: Path) -> None:
    """The first image, truncated, in a class folder whose name recolours the terminal."""
    truncated_jpeg(root)
    folder = root / "images/train/a/\x1b[31mabbey"
    folder.mkdir()
    (root / FIRST_IMAGE).rename(folder / "00000001.jpg")
    text = (root / "train.txt").read_text()
    (root / "train.txt").write_text(text.replace("train/a/abbey/", "train/a/\x1b[31mabbey/", 1))


MARKUP_NAMES = "class names `<script>alert(1)</script>` and `$\\frac{a}{$`"

CASES: list[Case] = [
    Case(
        MARKUP_NAMES,
        ("eval", "{dir}/trained", "--data", "{root}", "--device", "cpu"),
        f"{WORKS}: eval.json, confusion.csv and both figures",
        0,
        r"^wrote DIR/trained/eval\.json, confusion\.csv, confusion\.png, calibration\.png$",
        trained(HOSTILE_CATEGORIES),
    ),
    Case(
        MARKUP_NAMES,
        ("saliency", "{dir}/trained", "--data", "{root}", "--n", "4", "--device", "cpu"),
        f"{WORKS}: the figure is drawn",
        0,
        r"^wrote DIR/trained/plots/saliency_gradient\.png$",
        trained(HOSTILE_CATEGORIES),
    ),
    Case(
        "run folders named `$x^$` and `=1+1`",
        ("compare", "{dir}/$x^$", "{dir}/=1+1", "--out", "{dir}/compare"),
        f"{WORKS}: compare.md, compare.csv and the figures",
        0,
        r"^wrote compare\.md, compare\.csv and compare_\{top1,top5,loss\}\.png to DIR/compare$",
        trained("/a/abbey 0\n/b/beach 1\n", "$x^$", "=1+1"),
    ),
    Case(
        "truncated JPEG in a folder named ESC `[31mabbey`",
        TRAIN,
        f"{SKIPS} that shows ESC as `\\x1b`",
        0,
        r"^skipping undecodable image ROOT/images/train/a/\\x1b\[31mabbey/00000001\.jpg",
        escape_in_image_path,
    ),
]
