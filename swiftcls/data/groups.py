"""Rows scored together (``--task rm`` pairs, ``--task reranker`` query groups): reading, whole-group validation
splits, group ids and the label vector the losses and metrics read.

A group is a list of Examples sharing ``Example.group``. Each row's label is ``[target, group, margin]``
(:func:`row_label`): ``target`` 1/0 (chosen/rejected, relevant/irrelevant), the group id (unique in the split),
and the rm margin. Training items are whole groups (``{"rows": [...]}``, see :class:`GroupCollator` in
collators.py), so a batch never holds part of a group.
"""

from __future__ import annotations

import random

from sklearn.model_selection import train_test_split

from ..core.errors import ConfigError, DataError
from ..core.labels import RM
from .dataset import Example, check_usable, iter_converted
from .preference import preference_pair
from .readers import ReadOptions
from .rerank import check_query, gather_pairs, query_groups, read_query

TARGET, GROUP, MARGIN = 0, 1, 2  # columns of a scoring row's label vector


def load_units(task: str, specs: list[str], options: ReadOptions, columns: dict[str, str],
               skip_bad_rows: bool = False, seed: int = 42) -> tuple[list, list[DataError]]:
    """Read rm pairs (``[chosen, rejected]`` Examples) or reranker :class:`Query` objects from ``specs``.

    Returns:
        The units and, with ``skip_bad_rows``, the errors of the rows left out (otherwise the first raises).
    """
    skipped: list[DataError] = []
    if task == RM:
        def convert(record):
            return preference_pair(record, columns, options)
    else:
        def convert(record):
            return read_query(record, columns, options)
    units = list(iter_converted(specs, options, convert, skipped if skip_bad_rows else None, seed))
    if task != RM:
        units = gather_pairs(units)
    check_usable(len(units), skipped, specs)
    return units, skipped


def split_units(units: list, ratio: float, seed: int = 42) -> tuple[list, list]:
    """Hold out ``ratio`` of the pairs/queries: a pair or a query with all its documents stays on one side."""
    if not 0 < ratio < 1:
        raise ConfigError(f"--split_dataset_ratio must be between 0 and 1, got {ratio}.")
    if len(units) < 2:
        raise ConfigError(f"--split_dataset_ratio {ratio}: only {len(units)} pair/query to split; give more rows or "
                          "pass --val_dataset.")
    train, val = train_test_split(units, test_size=ratio, random_state=seed)
    return list(train), list(val)


def make_groups(task: str, units: list, mode: str, max_negatives: int = 7, seed: int = 42, first_id: int = 0,
                skipped: list[DataError] | None = None) -> list[list[Example]]:
    """Groups with ids ``first_id, first_id + 1, ...``.

    Args:
        task: rm or reranker.
        units: From :func:`load_units`.
        mode: ``pointwise``, ``listwise`` (training with that loss) or ``eval`` (each query with all its documents);
            see :func:`swiftcls.data.rerank.query_groups`. rm pairs are one group each whatever the mode.
        max_negatives: Negatives per training group (``--max_negative_samples``).
        seed: Sampling of the negatives.
        first_id: The first group id.
        skipped: With ``--skip_bad_rows``, queries that cannot be ranked are recorded here and left out.
    """
    rng = random.Random(seed)
    groups: list[list[Example]] = []
    for unit in units:
        if task == RM:
            made = [unit]
        else:
            try:
                check_query(unit, need_negative=mode == "listwise")
            except DataError as err:
                if skipped is None:
                    raise
                skipped.append(err)
                continue
            made = query_groups(unit, mode, max_negatives, rng)
        for group in made:
            gid = first_id + len(groups)
            groups.append([_with_group(ex, gid) for ex in group])
    return groups


def _with_group(ex: Example, gid: int) -> Example:
    ex.group = gid
    return ex


def row_label(ex: Example) -> list[float]:
    """``[target, group, margin]`` of a scoring row."""
    return [float(ex.label[1]), float(ex.group), float(ex.margin)]

