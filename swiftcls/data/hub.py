"""Read one split of a Hugging Face hub dataset or a local dataset folder with ``datasets.load_dataset``."""

from __future__ import annotations

import re
from pathlib import Path

from ..core.errors import DataError
from .readers import SUPPORTED_SUFFIXES, Record

# datasets raises ValueError('Unknown split "test". Should be one of [\'train\', \'validation\'].')
_UNKNOWN_SPLIT = re.compile(r"Unknown split \"[^\"]*\"\. Should be one of (\[[^\]]*\])")


def _load_error(exc: Exception, spec: str, label: str, split: str, folder: bool) -> DataError:
    """A DataError for a failed ``load_dataset`` of ``spec`` (as the user writes it): unknown split, unreadable
    folder, or hub trouble."""
    known = _UNKNOWN_SPLIT.search(str(exc))
    if known:
        return DataError(f"no split '{split}'; the dataset has {known.group(1)}.", file=label,
                         fix=f"pick one of them: --dataset '{spec}@<split>'.")
    if folder:
        return DataError(f"datasets cannot read this folder ({type(exc).__name__}: {exc}).", file=label,
                         fix="put one data file per split in it, named after the split (train.jsonl, "
                             "validation.jsonl; .csv/.parquet work too), or pass a single file.")
    return DataError(f"cannot load split '{split}': {type(exc).__name__}: {exc}.", file=label,
                     fix="the Hugging Face hub must be reachable (or the dataset cached) and the "
                         "name/subset/split must exist; otherwise pass a local file "
                         f"({', '.join(SUPPORTED_SUFFIXES)}).")


def read_hf_dataset(name: str, split: str = "train", subset: str | None = None) -> list[Record]:
    """Read one split of a Hugging Face hub dataset, or of a local folder, with ``datasets.load_dataset``.

    Args:
        name: Hub dataset name, e.g. "glue", or a local folder that ``datasets`` reads as a dataset (split
            names from file names, e.g. ``train.jsonl`` and ``validation.jsonl``).
        split: Split to read.
        subset: Configuration name, e.g. "sst2".

    Returns:
        The rows, with ``row`` the 0-based index in the split and ``file`` ``name[/subset][@split]`` (the split
        only when it is not ``train``).

    Raises:
        DataError: Loading failed (hub unreachable, unknown name, unreadable folder, unknown split: the error
            lists the splits there are) or the split is empty.
    """
    spec = name if subset is None else f"{name}:{subset}"
    label = (name if subset is None else f"{name}/{subset}") + ("" if split == "train" else f"@{split}")
    try:
        import datasets  # imported lazily: it is slow and only needed for hub data

        rows = datasets.load_dataset(name, subset, split=split).to_list()
    except Exception as exc:  # hub, network and config errors share no base class
        raise _load_error(exc, spec, label, split, Path(name).is_dir()) from exc
    if not rows:
        raise DataError(f"no rows in split '{split}'.", file=label, fix="pick a non-empty split.")
    return [Record(row, label, i) for i, row in enumerate(rows)]
