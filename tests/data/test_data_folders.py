"""Class-folder layout, checked against torchvision's ImageFolder on a copy of real images."""

from __future__ import annotations

import os
import shutil

import pytest
from data_builders import write_image
from torchvision.datasets import ImageFolder

from scenelab.data import build_dataset
from scenelab.data.layout import read_samples
from scenelab.errors import ScenelabError


@pytest.fixture
def class_folders(miniplaces20, tmp_path):
    """Three miniplaces20 classes as train/<class>/ and val/<class>/ (val from val.txt)."""
    classes = {}
    for line in (miniplaces20 / "categories.txt").read_text().splitlines()[:3]:
        name, label = line.split()
        classes[int(label)] = name.split("/")[-1]
    for split in ("train", "val"):
        kept = {label: 0 for label in classes}
        for line in (miniplaces20 / f"{split}.txt").read_text().splitlines():
            path, label = line.split()
            if int(label) in kept and kept[int(label)] < 5:
                kept[int(label)] += 1
                target = tmp_path / split / classes[int(label)] / path.replace("/", "_")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(miniplaces20 / "images" / path, target)
    return tmp_path


def test_same_classes_labels_and_order_as_image_folder(class_folders):
    train = build_dataset(str(class_folders), "train")
    val = build_dataset(str(class_folders), "val")
    for split, dataset in (("train", train), ("val", val)):
        reference = ImageFolder(str(class_folders / split))
        assert dataset.classes == reference.classes
        assert [
            (path, label) for path, label in zip(dataset.paths, dataset.labels, strict=True)
        ] == [(path, label) for path, label in reference.samples]
    assert train.classes == val.classes and len(train) == len(val) == 15
    image, label = val[7]
    assert image.shape == (3, 128, 128) and label == 1


def test_class_sets_must_match_between_splits(tmp_path):
    write_image(tmp_path / "train" / "cat" / "1.png", seed=0)
    write_image(tmp_path / "train" / "dog" / "1.png", seed=1)
    write_image(tmp_path / "val" / "cat" / "1.png", seed=2)
    write_image(tmp_path / "val" / "eel" / "1.png", seed=3)
    with pytest.raises(ScenelabError, match=r"extra \['eel'\], missing \['dog'\]"):
        build_dataset(str(tmp_path), "val")


def test_empty_class_folder_and_missing_split_are_errors(tmp_path):
    write_image(tmp_path / "train" / "cat" / "1.png", seed=0)
    (tmp_path / "train" / "dog").mkdir()
    (tmp_path / "train" / "dog" / "notes.txt").write_text("not an image")
    with pytest.raises(ScenelabError, match="dog: class folder has no images"):
        build_dataset(str(tmp_path), "train")
    with pytest.raises(ScenelabError, match="val: missing"):
        build_dataset(str(tmp_path), "val")


def test_link_loops_and_linked_folders_give_each_image_once(tmp_path):
    """Links are followed (as ImageFolder does), but a loop must not repeat images: the
    reference is the set of real image files the links lead to."""
    outside = tmp_path / "elsewhere"
    write_image(outside / "far.png", seed=9)
    write_image(tmp_path / "data" / "train" / "cat" / "1.png", seed=0)
    write_image(tmp_path / "data" / "train" / "cat" / "deep" / "2.png", seed=1)
    write_image(tmp_path / "data" / "train" / "dog" / "1.png", seed=2)
    (tmp_path / "data" / "train" / "cat" / "deep" / "loop").symlink_to("..")
    (tmp_path / "data" / "train" / "cat" / "again").symlink_to("deep")
    (tmp_path / "data" / "train" / "cat" / "far").symlink_to(outside)
    dataset = build_dataset(str(tmp_path / "data"), "train")
    real = [os.path.realpath(path) for path in dataset.paths]
    assert sorted(real) == sorted(
        os.path.realpath(p) for p in [*tmp_path.glob("data/train/*/**/*.png"), outside / "far.png"]
    )
    assert len(set(real)) == len(real) == 4
    assert dataset.labels == [0, 0, 0, 1]


def test_image_names_that_are_not_regular_files_are_problems(tmp_path):
    write_image(tmp_path / "train" / "cat" / "1.png", seed=0)
    os.mkfifo(tmp_path / "train" / "cat" / "pipe.jpg")
    (tmp_path / "train" / "cat" / "zero.png").symlink_to("/dev/zero")
    _, problems = read_samples(tmp_path, "train")
    assert [str(p) for p in problems] == [
        f"{tmp_path}/train/cat/pipe.jpg: not a regular file (a FIFO)",
        f"{tmp_path}/train/cat/zero.png: not a regular file (a character device)",
    ]
