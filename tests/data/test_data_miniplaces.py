"""MiniPlaces layout: the real miniplaces20 subset, and every start-up error on a tiny copy."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch

from scenelab.data import build_dataset, build_loader, build_transform, default_image_size
from scenelab.data.layout import read_samples
from scenelab.errors import ScenelabError


def read_list(path: Path) -> list[tuple[str, int]]:
    return [
        (p, int(label)) for p, label in (line.split() for line in path.read_text().splitlines())
    ]


def test_miniplaces20_splits_labels_and_classes(miniplaces20):
    train = build_dataset(str(miniplaces20), "train")
    val = build_dataset(str(miniplaces20), "val")
    assert (len(train), len(val)) == (18_000, 2_000)
    for dataset, list_file in ((train, "train.txt"), (val, "val.txt")):
        expected = read_list(miniplaces20 / list_file)
        assert dataset.labels == [label for _, label in expected]
        assert dataset.paths == [str(miniplaces20 / "images" / path) for path, _ in expected]
    categories = (miniplaces20 / "categories.txt").read_text().split()[::2]
    assert train.classes == [name.split("/")[-1] for name in categories]
    assert train.classes == val.classes and len(train.classes) == 20
    assert default_image_size(str(miniplaces20)) == 128


def test_miniplaces20_training_batch(miniplaces20):
    dataset = build_dataset(str(miniplaces20), "train", build_transform("study", 128, train=True))
    images, labels = next(iter(build_loader(dataset, 8, shuffle=True, workers=0, seed=0)))
    assert images.shape == (8, 3, 128, 128) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels.shape == (8,)
    assert set(labels.tolist()) <= set(range(20))


def test_start_up_walks_folders_instead_of_checking_each_listed_file(tmp_path, monkeypatch):
    """Start-up on a long list file walks the folders once instead of stat-ing each line."""
    root = tmp_path / "big"
    folder = root / "images" / "train" / "a" / "abbey"
    folder.mkdir(parents=True)
    names = [f"{i:08d}.jpg" for i in range(10_000)]
    for name in names:
        os.close(os.open(folder / name, os.O_CREAT | os.O_WRONLY))
    (root / "train.txt").write_text("".join(f"train/a/abbey/{n} 0\n" for n in names))
    checked = []
    real_isfile = os.path.isfile
    monkeypatch.setattr(os.path, "isfile", lambda path: checked.append(path) or real_isfile(path))
    dataset = build_dataset(str(root), "train")
    assert len(dataset) == 10_000
    assert not [path for path in checked if str(path).endswith(".jpg")]


def test_tiny_root_loads_with_names_from_categories(tiny_miniplaces):
    train = build_dataset(str(tiny_miniplaces), "train")
    assert train.classes == ["abbey", "bedroom", "coast"]
    assert train.labels == [0] * 4 + [1] * 4 + [2] * 4
    image, label = train[5]
    assert image.shape == (3, 30, 40) and image.dtype == torch.uint8 and label == 1


def test_names_come_from_folders_without_categories(tiny_miniplaces):
    (tiny_miniplaces / "categories.txt").unlink()
    assert build_dataset(str(tiny_miniplaces), "val").classes == ["abbey", "bedroom", "coast"]


def test_test_split_has_no_labels(tiny_miniplaces):
    from data_builders import write_image

    for i in (2, 1):
        write_image(tiny_miniplaces / "images" / "test" / f"{i:08d}.jpg", seed=i)
    listed = build_dataset(str(tiny_miniplaces), "test")
    assert listed.labels == [-1, -1]
    assert [Path(p).name for p in listed.paths] == ["00000001.jpg", "00000002.jpg"]
    (tiny_miniplaces / "test.txt").write_text("test/00000002.jpg\n")
    assert [Path(p).name for p in build_dataset(str(tiny_miniplaces), "test").paths] == [
        "00000002.jpg"
    ]


def edit_line(path: Path, number: int, new: str | None) -> None:
    lines = path.read_text().splitlines()
    if new is None:
        del lines[number - 1]
    else:
        lines[number - 1] = new
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("file", "line", "new", "message"),
    [
        ("train.txt", 3, "train/a/abbey/00000003.jpg", "expected 'PATH LABEL'"),
        ("train.txt", 2, "train/a/abbey/00000002.jpg -4", "not a number of ASCII digits"),
        ("val.txt", 2, "val/00000002.jpg 3", "out of range for 3 classes"),
        ("train.txt", 4, "train/a/abbey/00000099.jpg 0", "image not found"),
        ("train.txt", 5, "train/a/abbey/00000001.jpg 1", "listed twice (first at line 1)"),
    ],
)
def test_a_bad_line_stops_start_up_naming_file_and_line(tiny_miniplaces, file, line, new, message):
    edit_line(tiny_miniplaces / file, line, new)
    split = file.removesuffix(".txt")
    with pytest.raises(
        ScenelabError, match=re.escape(f"{tiny_miniplaces / file}:{line}: ")
    ) as error:
        build_dataset(str(tiny_miniplaces), split)
    assert message in str(error.value)


def test_an_empty_split_is_an_error(tiny_miniplaces):
    (tiny_miniplaces / "val.txt").write_text("\n")
    with pytest.raises(ScenelabError, match="val split has no images"):
        build_dataset(str(tiny_miniplaces), "val")


def test_classes_that_differ_between_splits_are_an_error(tiny_miniplaces):
    val = tiny_miniplaces / "val.txt"
    val.write_text("".join(line + "\n" for line in val.read_text().splitlines() if line[-1] != "2"))
    for split in ("train", "val"):
        with pytest.raises(ScenelabError, match=r"labels \[2\] of train.txt are absent"):
            build_dataset(str(tiny_miniplaces), split)


def test_unknown_split_and_folder_are_errors(tiny_miniplaces, tmp_path):
    with pytest.raises(ScenelabError, match="unknown split 'dev'"):
        build_dataset(str(tiny_miniplaces), "dev")
    with pytest.raises(ScenelabError, match="no such folder"):
        build_dataset(str(tmp_path / "nowhere"), "train")
    with pytest.raises(ScenelabError, match="not a dataset"):
        build_dataset(str(tmp_path), "train")


def test_without_categories_a_huge_label_is_a_problem_at_its_line(tiny_miniplaces):
    """Classes are 0..max label: a label of 1000000000 must not make a billion of them."""
    (tiny_miniplaces / "categories.txt").unlink()
    train = tiny_miniplaces / "train.txt"
    lines = train.read_text().splitlines()
    lines[2] = lines[2].rsplit(" ", 1)[0] + " 1000000000"
    train.write_text("\n".join(lines) + "\n")
    samples, problems = read_samples(tiny_miniplaces, "train")
    assert len(samples.classes) == 3
    assert (
        f"{train}:3: label 1000000000 is out of range: without categories.txt, labels must "
        "be below the 12 images of train.txt" in [str(p) for p in problems]
    )
    _, val_problems = read_samples(tiny_miniplaces, "val")
    assert any(p.file == train and p.line == 3 for p in val_problems)


def test_listed_images_that_are_not_regular_files_are_problems(tiny_miniplaces):
    images = tiny_miniplaces / "images"
    train = (tiny_miniplaces / "train.txt").read_text().splitlines()
    fifo, zero = (images / train[i].split()[0] for i in (0, 1))
    fifo.unlink()
    os.mkfifo(fifo)
    zero.unlink()
    zero.symlink_to("/dev/zero")
    _, problems = read_samples(tiny_miniplaces, "train")
    source = tiny_miniplaces / "train.txt"
    assert [str(p) for p in problems] == [
        f"{source}:1: {fifo}: not a regular file (a FIFO)",
        f"{source}:2: {zero}: not a regular file (a character device)",
    ]
    with pytest.raises(ScenelabError, match=r"not a regular file \(a FIFO\)"):
        build_dataset(str(tiny_miniplaces), "train")
