"""DataLoader plumbing: uint8 batches, reproducible shuffling and augmentation."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from scenelab.data.decode import interleaved
from scenelab.data.threads import single_threaded


def collate_single_threaded(samples: list, channels_last: bool = False) -> object:
    """torch's default collation (stacking), on one thread: see `single_threaded`. With
    `channels_last` the (image, label) batch comes out in that memory format, so that the
    training process, where the model wants it, has no layout to change."""
    with single_threaded():
        if not channels_last:
            return default_collate(samples)
        images, labels = zip(*samples, strict=True)
        return stack_channels_last(images), torch.tensor(labels)


def stack_channels_last(images: Sequence[torch.Tensor]) -> torch.Tensor:
    """(3, H, W) images -> a (B, 3, H, W) batch in channels_last. Decoders keep pixels
    interleaved (H, W, 3) under their (3, H, W) view: such images stack by plain copies,
    where stacking to (B, 3, H, W) and converting would transpose every pixel twice."""
    return torch.stack([interleaved(image) for image in images]).permute(0, 3, 1, 2)


def build_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    workers: int,
    seed: int,
    drop_last: bool = False,
    sampler: Sampler | None = None,
    channels_last: bool = False,
) -> DataLoader:
    """A DataLoader yielding (uint8 images (B, 3, H, W), int64 labels (B,)).

    Shuffling draws from a torch.Generator seeded with `seed`, and so do the worker seeds:
    each worker seeds torch, `random` and NumPy with a base seed drawn from that generator
    plus its worker id. The same seed and worker count therefore give the same batches,
    augmentation included. With `workers=0` the augmentation draws from the global torch
    RNG, which the caller seeds. A `sampler` (a DistributedSampler, say) replaces the
    shuffling. Memory is pinned only when CUDA is there to use it; workers persist across
    epochs. Loading and collation run on one torch thread (`single_threaded`). With
    `channels_last` the image batches come in that memory format (made by the workers).
    """
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,
        drop_last=drop_last,
        generator=generator,
        collate_fn=partial(collate_single_threaded, channels_last=channels_last),
    )
