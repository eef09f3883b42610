"""`scenelab data verify`: a clean dataset passes; every problem planted in a damaged copy of
real MiniPlaces images is found, with its file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scenelab.cli import main

KEPT_CLASSES = 3


@pytest.fixture
def real_copy(miniplaces20, tmp_path) -> Path:
    """Three classes of miniplaces20 (8 training and 4 validation images each), copied."""
    root = tmp_path / "copy"
    for split, per_class in (("train", 8), ("val", 4)):
        kept, lines = {}, []
        for line in (miniplaces20 / f"{split}.txt").read_text().splitlines():
            path, label = line.split()
            if int(label) < KEPT_CLASSES and kept.get(label, 0) < per_class:
                kept[label] = kept.get(label, 0) + 1
                lines.append(line)
                (root / "images" / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(miniplaces20 / "images" / path, root / "images" / path)
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    categories = (miniplaces20 / "categories.txt").read_text().splitlines()[:KEPT_CLASSES]
    (root / "categories.txt").write_text("\n".join(categories) + "\n")
    return root


def test_a_clean_copy_passes(real_copy, capsys):
    assert main(["data", "verify", str(real_copy)]) == 0
    assert "train 24 images (0 problems), val 12 images (0 problems)" in capsys.readouterr().out


def test_every_planted_problem_is_found(real_copy, capsys):
    train, val = real_copy / "train.txt", real_copy / "val.txt"
    train_lines = train.read_text().splitlines()
    image_of = {n: real_copy / "images" / line.split()[0] for n, line in enumerate(train_lines, 1)}
    train_lines[1] = train_lines[1].split()[0]  # line 2: no label
    train_lines[2] = train_lines[2].split()[0] + " -1"  # line 3: negative label
    train_lines[3] = train_lines[3].split()[0] + " 3"  # line 4: out of range
    train_lines.append(train_lines[4])  # line 25: duplicate of line 5
    train.write_text("\n".join(train_lines) + "\n")
    image_of[6].unlink()  # line 6: missing image
    data = image_of[7].read_bytes()
    image_of[7].write_bytes(data[: len(data) // 2])  # line 7: truncated JPEG
    val_lines = [line for line in val.read_text().splitlines() if not line.endswith(" 2")]
    val.write_text("\n".join(val_lines) + "\n")  # label 2 no longer in val
    (real_copy / "images" / val_lines[0].split()[0]).write_text("not an image")  # val line 1

    assert main(["data", "verify", str(real_copy)]) == 1
    out = capsys.readouterr().out
    expected = [
        f"{train}:2: expected 'PATH LABEL'",
        f"{train}:3: label '-1' is not a number of ASCII digits 0-9",
        f"{train}:4: label 3 is out of range for 3 classes",
        f"{train}:25: {train_lines[4].split()[0]} is listed twice (first at line 5)",
        f"{train}:6: image not found: {image_of[6]}",
        f"{train}:7: does not decode: {image_of[7]}: truncated or corrupt JPEG",
        f"{val}:1: does not decode: ",
        f"{val}: labels [2, 3] of train.txt are absent",  # 3: line 4
    ]
    for problem in expected:
        assert problem in out
    assert f"{len(expected)} problem(s) found" in out


def test_digits_and_non_datasets(tmp_path, capsys):
    assert main(["data", "verify", "digits"]) == 0
    assert main(["data", "verify", str(tmp_path)]) == 2
    assert "scenelab: error: " in capsys.readouterr().err


@pytest.mark.slow
def test_miniplaces20_verifies_clean(miniplaces20, capsys):
    assert main(["data", "verify", str(miniplaces20)]) == 0
    assert (
        "train 18000 images (0 problems), val 2000 images (0 problems)" in capsys.readouterr().out
    )
