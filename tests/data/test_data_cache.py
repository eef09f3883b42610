"""--cache-images: decoded once, the images and their replacements are those of decoding
every time, in the training process and in loader processes."""

from __future__ import annotations

import pytest
import torch
from data_builders import make_miniplaces, write_image

from scenelab.data import build_dataset, build_loader, build_transform, cache
from scenelab.errors import ScenelabError

SIZES = [(40, 30), (17, 23), (64, 64)]  # (width, height) in turn: packed side by side


@pytest.fixture
def mixed_root(tmp_path):
    """12 train images of three sizes; lines 2 and 3 are not images."""
    root = make_miniplaces(tmp_path / "root")
    train_lines = (root / "train.txt").read_text().splitlines()
    for index, line in enumerate(train_lines):
        write_image(root / "images" / line.split()[0], seed=index, size=SIZES[index % 3])
    for line in train_lines[1:3]:
        (root / "images" / line.split()[0]).write_bytes(b"\xff\xd8 truncated")
    return root


def seeded_items(dataset) -> list[tuple[torch.Tensor, int]]:
    items = []
    for index in range(len(dataset)):
        torch.manual_seed(index)  # the study recipe draws flips, jitter, angles and crops
        items.append(dataset[index])
    return items


@pytest.mark.parametrize("chunk_images", [2, cache.CHUNK_IMAGES])
def test_cached_images_equal_decoding_every_time(mixed_root, monkeypatch, chunk_images):
    monkeypatch.setattr(cache, "CHUNK_IMAGES", chunk_images)
    transform = build_transform("study", 24, train=True)
    decoded = build_dataset(str(mixed_root), "train", transform=transform)
    cached = build_dataset(str(mixed_root), "train", transform=transform, cache=True)

    for (image, label), (reference, reference_label) in zip(
        seeded_items(cached), seeded_items(decoded), strict=True
    ):
        assert torch.equal(image, reference) and label == reference_label
    assert cached.skipped_images == decoded.skipped_images == 3  # items 1 and 2 replaced
    expected = sum(3 * w * h for i, (w, h) in enumerate(SIZES * 4) if i not in (1, 2))
    assert cached.cached_bytes == expected and decoded.cached_bytes == 0
    # Untransformed, the cache hands back what decoding gives, strides included.
    untransformed = build_dataset(str(mixed_root), "train", cache=True)
    decoded_untransformed = build_dataset(str(mixed_root), "train")
    for index in (0, 3, 4, 5):
        image, reference = untransformed[index][0], decoded_untransformed[index][0]
        assert torch.equal(image, reference) and image.stride() == reference.stride()
    assert untransformed[5][0].shape == (3, 64, 64)


@pytest.mark.parametrize("channels_last", [False, True])
def test_loader_processes_read_the_cache(mixed_root, channels_last):
    transform = build_transform("none", 16, train=True)
    batches = []
    for use_cache in (False, True):
        dataset = build_dataset(str(mixed_root), "train", transform=transform, cache=use_cache)
        loader = build_loader(
            dataset, batch_size=4, shuffle=True, workers=2, seed=3, channels_last=channels_last
        )
        batches.append([(images, labels) for images, labels in loader])
        assert dataset.skipped_images == 3  # counted in the loader processes
    for (images, labels), (reference, reference_labels) in zip(*batches, strict=True):
        assert torch.equal(images, reference) and torch.equal(labels, reference_labels)


def test_strict_refuses_a_broken_image_when_the_cache_is_built(mixed_root):
    with pytest.raises(ScenelabError, match=r"abbey/00000002.jpg.*--strict-data"):
        build_dataset(str(mixed_root), "train", strict=True, cache=True)


def test_a_cache_larger_than_half_the_memory_is_refused_naming_the_flag(mixed_root, monkeypatch):
    needed = sum(3 * w * h for w, h in SIZES * 4)
    monkeypatch.setattr(cache, "available_memory_bytes", lambda: needed)  # half is too little
    with pytest.raises(ScenelabError, match=r"--cache-images: the 12 images of .*train.txt"):
        build_dataset(str(mixed_root), "train", cache=True)
    monkeypatch.setattr(cache, "available_memory_bytes", lambda: 3 * needed)
    assert build_dataset(str(mixed_root), "train", cache=True).cached_bytes > 0


def test_available_memory_is_read_from_proc_meminfo():
    available = cache.available_memory_bytes()
    if available is None:
        pytest.skip("no /proc/meminfo here")
    with open("/proc/meminfo") as file:
        total = next(int(line.split()[1]) for line in file if line.startswith("MemTotal:"))
    assert 0 < available <= total * 1024
