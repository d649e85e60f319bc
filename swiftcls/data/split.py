"""The train/validation split of ``--split_dataset_ratio``, shared by the in-memory rows
(:func:`~swiftcls.data.dataset.split_validation`) and the Arrow rows (:func:`~swiftcls.data.prepare.split_indices`),
so the same rows and seed give the same split either way."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..core.errors import ConfigError


def stratified_split(n: int, keys: Sequence | None, ratio: float, seed: int) -> tuple[list[int], list[int]]:
    """Train and validation indices of ``n`` rows, ``ratio`` of them held out.

    Args:
        n: The number of rows.
        keys: Each row's class (single-label data), or None. The split is stratified by it when every class has
            2+ rows; else (and without keys) it is a plain shuffled split.
        ratio: The share of rows held out, strictly between 0 and 1.
        seed: The random state (same seed => same split).

    Raises:
        ConfigError: ``ratio`` outside (0, 1).
    """
    if not 0 < ratio < 1:
        raise ConfigError(f"--split_dataset_ratio must be between 0 and 1, got {ratio}.")
    stratify = list(keys) if keys is not None and min(Counter(keys).values()) >= 2 else None
    from sklearn.model_selection import train_test_split  # seconds to import; only splits need it

    train, val = train_test_split(np.arange(n), test_size=ratio, random_state=seed, stratify=stratify)
    return train.tolist(), val.tolist()
