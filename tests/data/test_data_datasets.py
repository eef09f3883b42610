"""Undecodable images during training: replaced, logged and counted, or fatal when strict."""

from __future__ import annotations

import logging

import pytest
import torch
from data_builders import make_miniplaces

from scenelab.data import build_dataset, build_loader
from scenelab.errors import ScenelabError


@pytest.fixture
def root_with_two_broken_images(tmp_path):
    root = make_miniplaces(tmp_path / "root")
    for name in ("00000002.jpg", "00000003.jpg"):  # train lines 2 and 3, both of class 0
        (root / "images" / "train" / "a" / "abbey" / name).write_bytes(b"\xff\xd8 truncated")
    return root


def test_broken_image_is_replaced_by_the_next_and_logged(root_with_two_broken_images, caplog):
    dataset = build_dataset(str(root_with_two_broken_images), "train")
    with caplog.at_level(logging.WARNING, logger="scenelab.data.datasets"):
        image, label = dataset[1]
    assert torch.equal(image, dataset[3][0]) and label == dataset.labels[3]
    assert dataset.skipped_images == 2  # files 1 and 2 failed, file 3 stood in
    assert "00000002.jpg" in caplog.text and "00000003.jpg" in caplog.text


def test_skips_are_counted_across_worker_processes(root_with_two_broken_images):
    dataset = build_dataset(str(root_with_two_broken_images), "train")
    loader = build_loader(dataset, batch_size=3, shuffle=False, workers=2, seed=0)
    for _ in range(2):
        images = torch.cat([batch for batch, _ in loader])
        assert len(images) == len(dataset)
    # Per epoch: item 1 tries files 1 and 2 before 3, item 2 tries file 2 before 3.
    assert dataset.skipped_images == 2 * 3


def test_strict_makes_a_broken_image_fatal(root_with_two_broken_images):
    dataset = build_dataset(str(root_with_two_broken_images), "train", strict=True)
    dataset[0]
    with pytest.raises(ScenelabError, match=r"abbey/00000002.jpg.*--strict-data"):
        dataset[1]


def test_all_images_broken_is_an_error_not_a_hang(tmp_path):
    root = make_miniplaces(tmp_path / "root", train_per_class=1, val_per_class=1)
    for path in (root / "images").rglob("*.jpg"):
        path.write_bytes(b"")
    with pytest.raises(ScenelabError, match="do not decode"):
        build_dataset(str(root), "val")[0]


def test_digits_dataset():
    train, val, test = (build_dataset("digits", split) for split in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (1437, 360, 360)
    assert train.classes == [str(d) for d in range(10)] and train.skipped_images == 0
    image, label = train[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8 and 0 <= label < 10
