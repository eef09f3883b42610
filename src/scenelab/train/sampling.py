"""Which samples a process trains on, in which order, with which augmentation seed.

Everything random about an epoch's data is a function of (run seed, epoch, sample):
the order is DistributedSampler's seeded permutation, and every sample is loaded with
the CPU generator seeded by its own number. So an epoch can start at any position
(a resumed run), with any number of workers or processes, and see the same images.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

_SEED_RANGE = 2**62


class ResumableSampler(Sampler[tuple[int, int]]):
    """Yields ``(index, augmentation seed)`` for this rank's share of one epoch, its first
    ``limit`` samples (all without one), starting ``start`` samples into it."""

    def __init__(
        self,
        size: int,
        *,
        seed: int,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        limit: int | None = None,
    ) -> None:
        self.size = size
        self.seed = seed
        self.limit = limit
        self.order = DistributedSampler(
            range(size), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed
        )
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch = epoch
        self.start = start
        self.order.set_epoch(epoch)

    def sample_seeds(self) -> torch.Tensor:
        """One seed per dataset index for this epoch, the same on every rank."""
        # Modulo 2**64, what manual_seed takes: equal below it, so old runs resume alike.
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**64)
        return torch.randint(_SEED_RANGE, (self.size,), generator=generator)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        seeds = self.sample_seeds().tolist()
        for index in list(self.order)[: self.limit][self.start :]:
            yield index, seeds[index]

    def __len__(self) -> int:
        epoch = len(self.order) if self.limit is None else min(self.limit, len(self.order))
        return epoch - self.start


class SeededSamples(Dataset):
    """``dataset[index]`` loaded with the CPU generator seeded by the sample's own seed
    (and the caller's generator state restored afterwards)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int]) -> Any:
        index, seed = item
        generator = torch.default_generator  # torch.manual_seed would also seed every GPU
        state = generator.get_state()
        generator.manual_seed(seed)
        try:
            return self.dataset[index]
        finally:
            generator.set_state(state)


def shard_indices(size: int, rank: int, world_size: int) -> list[int]:
    """This rank's share of an evaluation split: every sample exactly once over all ranks."""
    return list(range(rank, size, world_size))
