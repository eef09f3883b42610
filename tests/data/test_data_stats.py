"""`scenelab data stats`: counts per class and split, sizes, mean/std against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from data_builders import make_miniplaces, write_image
from PIL import Image

from scenelab.cli import main
from scenelab.data.digits import digits_split
from scenelab.data.stats import digits_stats, folder_stats


def test_digits_stats_match_numpy(capsys):
    stats = digits_stats()
    images = digits_split("train")[0].numpy().astype(np.float64) / 255
    assert np.allclose(stats.mean, images.mean(axis=(0, 2, 3)), atol=1e-12)
    assert np.allclose(stats.std, images.std(axis=(0, 2, 3)), atol=1e-12)
    assert sum(stats.per_class["train"].values()) == 1437
    assert main(["data", "stats", "digits"]) == 0
    out = capsys.readouterr().out
    assert "| all   |    1437 |     360 |" in out and "train: 32x32: 1437" in out


def test_folder_stats_count_sizes_and_pixels(tmp_path, capsys):
    root = make_miniplaces(tmp_path / "root", train_per_class=2, val_per_class=1)
    write_image(root / "images" / "train" / "c" / "coast" / "00000009.png", 5, (17, 9))
    with (root / "train.txt").open("a") as file:
        file.write("train/c/coast/00000009.png 2\n")
    stats = folder_stats(root, workers=1)
    assert dict(stats.per_class["train"]) == {0: 2, 1: 2, 2: 3}
    assert stats.sizes["train"] == {(40, 30): 6, (17, 9): 1} and stats.sizes["val"] == {(40, 30): 3}
    paths = [
        root / "images" / line.split()[0]
        for line in (root / "train.txt").read_text().split("\n")
        if line
    ]
    pixels = np.concatenate(
        [np.asarray(Image.open(p).convert("RGB")).reshape(-1, 3) / 255 for p in paths]
    )
    # PIL and torchvision.io may decode a JPEG pixel one level apart.
    assert np.allclose(stats.mean, pixels.mean(axis=0), atol=1 / 255)
    assert np.allclose(stats.std, pixels.std(axis=0), atol=1 / 255)
    assert main(["data", "stats", str(root)]) == 0
    assert "| coast   |       3 |       1 |" in capsys.readouterr().out


@pytest.mark.slow
def test_miniplaces20_stats(miniplaces20, capsys):
    assert main(["data", "stats", str(miniplaces20)]) == 0
    out = capsys.readouterr().out
    assert "train: 128x128: 18000" in out and "val: 128x128: 2000" in out
