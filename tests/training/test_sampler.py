"""The training order is a function of the data seed and the epoch only (what makes a mid-epoch resume exact)."""

import torch
from accelerate.data_loader import SeedableRandomSampler

from swiftcls.core.compat import length_grouped_indices
from swiftcls.training.sampler import EpochSeededSampler

LENGTHS = [5, 40, 3, 17, 9, 22, 1, 30, 12, 8, 27, 2, 15, 6, 33, 11]


def test_each_epoch_has_its_own_order_from_seed_and_epoch_alone():
    epoch = [0]
    sampler = EpochSeededSampler(LENGTHS, seed=7, epoch=lambda: epoch[0], group_size=4)
    first = list(sampler)
    torch.manual_seed(123)  # the global RNG (dropout, earlier epochs) has no say
    assert list(sampler) == first == sampler.order(0)
    epoch[0] = 1  # the epoch is read when iteration starts
    second = list(sampler)
    assert second != first and sorted(second) == sorted(first) == list(range(len(LENGTHS)))
    # A fresh sampler (a resumed run) gives epoch 1 the same order; another seed gives another order.
    assert EpochSeededSampler(LENGTHS, seed=7, epoch=lambda: 1, group_size=4).order(1) == second
    assert EpochSeededSampler(LENGTHS, seed=8, epoch=lambda: 1, group_size=4).order(1) != second


def test_iterating_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    for group in (4, None):
        list(EpochSeededSampler(LENGTHS, seed=7, epoch=lambda: 3, group_size=group))
    assert torch.equal(torch.get_rng_state(), before)


def test_group_by_length_is_transformers_grouping_and_random_is_accelerates_order():
    grouped = EpochSeededSampler(LENGTHS, seed=7, epoch=lambda: 2, group_size=4)
    assert grouped.order(2) == length_grouped_indices(LENGTHS, 4, torch.Generator().manual_seed(9))
    # --train_sampling_strategy random keeps the order accelerate's seedable sampler gave it before.
    accelerate_order = SeedableRandomSampler(range(len(LENGTHS)), data_seed=7)
    accelerate_order.set_epoch(2)
    assert EpochSeededSampler(LENGTHS, seed=7, epoch=lambda: 2).order(2) == list(accelerate_order)
