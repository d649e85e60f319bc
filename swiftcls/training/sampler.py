"""The order of training rows: a function of ``--data_seed`` and the epoch only, so a resumed run sees the same
batches as an uninterrupted one.

transformers' ``group_by_length`` sampler draws each epoch's permutation from the global torch RNG at the moment
the epoch starts. A run resumed in the middle of epoch 2 only has the RNG state of its checkpoint, not the one of
the start of epoch 2, so it trained epoch 2 in a different order (and its losses diverged from the first step after
the resume). Here each epoch's order is drawn from a generator seeded with ``data_seed + epoch``, and the epoch is
read from the training state when the epoch's iteration starts: that also holds in multi-process runs, where the
resumed dataloader's wrappers (``skip_first_batches`` around accelerate's shard) never pass ``set_epoch`` down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
from torch.utils.data import Sampler

from ..core.compat import length_grouped_indices


class EpochSeededSampler(Sampler[int]):
    """Shuffled row indices (length-grouped when ``group_size`` is set) that depend only on the seed and the epoch.

    Args:
        lengths: Token count of each row (only used for length grouping).
        seed: The data seed; epoch ``e`` is drawn from a generator seeded with ``seed + e``.
        epoch: Returns the epoch about to be iterated (read when iteration starts).
        group_size: Rows per length-sorted group (transformers' ``group_by_length`` uses the batch size times the
            gradient accumulation steps); None shuffles without grouping, like ``--train_sampling_strategy random``.
    """

    def __init__(self, lengths: Sequence[int], seed: int, epoch: Callable[[], int], group_size: int | None = None):
        self.lengths, self.seed, self.epoch, self.group_size = list(lengths), seed, epoch, group_size

    def __len__(self) -> int:
        return len(self.lengths)

    def order(self, epoch: int) -> list[int]:
        """The row indices of ``epoch``, in training order."""
        generator = torch.Generator().manual_seed(self.seed + epoch)
        if self.group_size:
            return length_grouped_indices(self.lengths, self.group_size, generator)
        return torch.randperm(len(self.lengths), generator=generator).tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.order(self.epoch()))
