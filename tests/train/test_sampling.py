from __future__ import annotations

import torch

from scenelab.train.sampling import ResumableSampler, SeededSamples, shard_indices


def test_ranks_split_the_same_permutation_and_share_the_sample_seeds():
    size = 10
    single = list(ResumableSampler(size, seed=3))
    ranks = [list(ResumableSampler(size, seed=3, rank=r, world_size=2)) for r in range(2)]
    # DistributedSampler's split: rank r takes positions r, r + 2, ... of the permutation.
    assert ranks[0] == single[0::2] and ranks[1] == single[1::2]
    assert sorted(index for index, _ in single) == list(range(size))


def test_an_epoch_can_start_part_way_and_epochs_differ():
    sampler = ResumableSampler(12, seed=0)
    sampler.set_epoch(1)
    whole = list(sampler)
    sampler.set_epoch(1, start=5)
    assert list(sampler) == whole[5:] and len(sampler) == 7
    sampler.set_epoch(2)
    assert list(sampler) != whole


def test_seeded_samples_repeat_augmentation_and_leave_the_global_generator_alone():
    class RandomPixels(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return torch.rand(3)

    samples = SeededSamples(RandomPixels())
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    first = samples[(1, 1234)]
    assert torch.equal(torch.rand(1), expected_next)
    assert torch.equal(samples[(2, 1234)], first)
    assert not torch.equal(samples[(1, 99)], first)


def test_evaluation_shards_cover_every_sample_once():
    shards = [shard_indices(11, rank, 3) for rank in range(3)]
    assert sorted(index for shard in shards for index in shard) == list(range(11))
