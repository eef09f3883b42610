"""build_loader: uint8 batches, reproducible shuffling and augmentation, samplers."""

from __future__ import annotations

import torch
from torch.utils.data import DistributedSampler

from scenelab.data import build_dataset, build_loader, build_transform
from scenelab.data.loader import stack_channels_last


def digits(train: bool = True):
    return build_dataset("digits", "val", build_transform("study", 32, train=train))


def epoch(loader) -> tuple[torch.Tensor, torch.Tensor]:
    batches = list(loader)
    return torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])


def test_batches_are_uint8_images_and_int64_labels():
    loader = build_loader(digits(train=False), 64, shuffle=False, workers=0, seed=0)
    images, labels = next(iter(loader))
    assert images.dtype == torch.uint8 and images.shape == (64, 3, 32, 32)
    assert labels.dtype == torch.int64 and labels.shape == (64,)
    assert not loader.pin_memory or torch.cuda.is_available()
    assert not loader.persistent_workers
    assert build_loader(digits(), 8, shuffle=True, workers=1, seed=0).persistent_workers


def test_same_seed_and_workers_give_the_same_epochs_augmentation_included():
    runs = []
    for seed in (7, 7, 8):
        loader = build_loader(digits(), 45, shuffle=True, workers=2, seed=seed)
        runs.append([epoch(loader) for _ in range(2)])
    (a1, a2), (b1, b2), (c1, _) = runs
    for x, y in ((a1, b1), (a2, b2)):
        assert torch.equal(x[0], y[0]) and torch.equal(x[1], y[1])
    assert not torch.equal(a1[1], a2[1])  # a new order every epoch
    assert not torch.equal(a1[1], c1[1])  # and another one for another seed
    # Shuffling is a permutation of the split.
    assert sorted(a1[1].tolist()) == sorted(digits(train=False).labels)


def test_workers_zero_is_reproducible_from_the_global_seed():
    first, second = (
        (torch.manual_seed(3), epoch(build_loader(digits(), 60, True, workers=0, seed=1)))[1]
        for _ in range(2)
    )
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_a_distributed_sampler_replaces_shuffling():
    dataset = digits(train=False)
    halves = []
    for rank in (0, 1):
        sampler = DistributedSampler(dataset, num_replicas=2, rank=rank, shuffle=True, seed=0)
        loader = build_loader(dataset, 50, shuffle=True, workers=0, seed=0, sampler=sampler)
        halves.append(epoch(loader)[1])
        assert len(halves[-1]) == 180
    assert sorted(torch.cat(halves).tolist()) == sorted(dataset.labels)


def test_drop_last():
    loader = build_loader(digits(False), 100, shuffle=False, workers=0, seed=0, drop_last=True)
    assert len(epoch(loader)[0]) == 300


def test_channels_last_batches_hold_the_same_pixels_in_that_layout():
    plain = build_loader(digits(train=False), 16, shuffle=False, workers=0, seed=0)
    nhwc = build_loader(digits(False), 16, shuffle=False, workers=1, seed=0, channels_last=True)
    for (images, labels), (expected, expected_labels) in zip(nhwc, plain, strict=True):
        assert images.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(images, expected) and torch.equal(labels, expected_labels)


def test_stack_channels_last_takes_images_in_either_layout():
    images = torch.randint(0, 256, (5, 3, 7, 9), dtype=torch.uint8)
    interleaved = [image.permute(1, 2, 0).contiguous().permute(2, 0, 1) for image in images]
    for layout in (list(images), interleaved):
        batch = stack_channels_last(layout)
        assert torch.equal(batch, images) and batch.is_contiguous(memory_format=torch.channels_last)
