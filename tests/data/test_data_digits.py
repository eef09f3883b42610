"""The built-in digits: scikit-learn's images, upsampled as PIL would, split 80/20 by class."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits

from scenelab.data import default_image_size
from scenelab.data.digits import digits_split


def test_images_are_sklearn_digits_upsampled_with_their_labels():
    digits = load_digits()
    grey = (digits.images * 255 / 16).round().astype(np.uint8)
    reference = np.stack(
        [np.array(Image.fromarray(g).resize((32, 32), Image.BILINEAR)) for g in grey]
    ).astype(np.int16)
    for split in ("train", "val"):
        images, labels = digits_split(split)
        assert images.dtype == torch.uint8 and images.shape[1:] == (3, 32, 32)
        assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 0], images[:, 2])
        # Each image is within one grey level of sklearn digits that all carry its label.
        sample = images[:100, 0].numpy().astype(np.int16)
        for image, label in zip(sample, labels[:100].tolist(), strict=True):
            close = np.flatnonzero(np.abs(reference - image).max(axis=(1, 2)) <= 1)
            assert len(close) >= 1 and set(digits.target[close]) == {label}
    assert default_image_size("digits") == 32


def test_split_is_a_stratified_80_20_partition():
    target = load_digits().target
    (train, train_labels), (val, val_labels) = digits_split("train"), digits_split("val")
    assert len(train) + len(val) == len(target) == 1797 and len(val) == 360
    per_class = np.bincount(target, minlength=10)
    val_per_class = np.bincount(val_labels.numpy(), minlength=10)
    assert np.all(np.abs(val_per_class - 0.2 * per_class) <= 1)
    assert np.array_equal(
        np.bincount(train_labels.numpy(), minlength=10) + val_per_class, per_class
    )
    assert torch.equal(digits_split("val")[0], val)  # fixed: the same split every time
