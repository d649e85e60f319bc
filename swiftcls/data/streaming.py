"""``--streaming``: training rows read, validated, label-encoded and tokenized as training consumes them.

The rows come from the same readers and checks as the eager path (:func:`~swiftcls.data.dataset.iter_examples`), so
a bad row raises the same error naming file, row and field, or with ``--skip_bad_rows`` is written to
``skipped_rows.jsonl`` when it is met. Memory is bounded by the shuffle buffer and one encoding chunk, whatever the
size of the files.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from torch.utils.data import IterableDataset, get_worker_info

from ..core.errors import DataError
from ..core.labels import LabelSpace
from .dataset import Example, encode_labels, iter_examples
from .readers import ReadOptions

logger = logging.getLogger(__name__)
_CHUNK = 256  # rows encoded together: the tokenizer's batch, and what a bad row costs to look for


class SkipLog(list):
    """A ``skipped`` sink for the readers that writes each bad row to ``skipped_rows.jsonl`` when it is met and
    keeps only the count (a stream may hold any number of them). Stays an (empty) list for the readers' checks."""

    def __init__(self, path: str | None):
        super().__init__()
        self.path, self.count, self.first = path, 0, None

    def append(self, err: DataError) -> None:  # noqa: D102 - list.append
        self.count += 1
        self.first = self.first or err
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"file": err.file, "row": err.row, "field": err.field, "error": str(err)},
                                   ensure_ascii=False) + "\n")


def scan_labels(specs: list[str], options: ReadOptions, columns: dict[str, str], skip_bad_rows: bool,
                seed: int) -> tuple[list[tuple[str, object, dict]], int, int]:
    """One pass over the training files keeping one ``(kind, value, where)`` per distinct label: what
    :meth:`LabelSpace.infer` needs, in memory bounded by the number of labels, not rows.

    Every row is validated on the way (a bad row raises here, before the model loads, unless ``skip_bad_rows``).

    Returns:
        The distinct parsed labels, the number of usable rows and the number of bad ones.
    """
    skipped = SkipLog(None) if skip_bad_rows else None
    seen: dict[tuple, tuple[str, object, dict]] = {}
    floats = 0
    rows = 0
    for ex in iter_examples(specs, options, columns, True, skipped, seed):
        rows += 1
        kind, value = ex.label
        if kind == "float":  # regression scores: their kind decides the task, their values are not a label set
            floats += 1
            if floats > 1:
                continue
        key = (kind, tuple(value) if isinstance(value, list) else value)
        if key not in seen:
            seen[key] = (kind, value, ex.where)
    if not rows:
        first = skipped.first if skipped else None
        raise DataError(f"no usable rows ({skipped.count if skipped else 0} skipped; first: {first}).",
                        file=", ".join(specs), fix="check the files and --columns.")
    return list(seen.values()), rows, skipped.count if skipped else 0


@dataclass
class StreamSource:
    """Where the stream reads from and how rows are checked: ``--dataset``, the reader options, ``--columns``,
    ``--skip_bad_rows`` and ``--data_seed`` (``file#N`` sampling)."""

    specs: list[str]
    options: ReadOptions
    columns: dict[str, str]
    skip_bad_rows: bool = False
    seed: int = 42


class StreamedRows(IterableDataset):
    """Encoded, labelled training rows, read from the files again on every pass and shuffled within a buffer.

    Args:
        source: The files and how their rows are checked.
        space: The label space (from ``--labels`` or :func:`scan_labels`).
        encode: ``PromptEncoder.encode_kept``: examples (and a skipped sink) to kept indices and encoded rows.
        buffer_size: Rows shuffled together (1: file order).
        skipped_path: Where bad rows are written when met (``--skip_bad_rows``; None on ranks other than 0).
        chunk: Rows read and encoded together (the tokenizer's batch).

    Every pass yields the same order for the same epoch on every process (seeded by ``source.seed`` and the
    epoch), which accelerate's ``IterableDatasetShard`` needs to give each process its own rows. DataLoader workers
    each take every ``num_workers``-th chunk.
    """

    def __init__(self, source: StreamSource, space: LabelSpace, encode: Callable, buffer_size: int = 1000,
                 skipped_path: str | None = None, chunk: int = _CHUNK):
        super().__init__()
        self.chunk = chunk
        self.source, self.space, self.encode = source, space, encode
        self.buffer_size, self.skipped_path = buffer_size, skipped_path
        self.epoch = 0
        self.passes = 0  # completed passes in this process (bad rows are written on the first only)

    def set_epoch(self, epoch: int) -> None:
        """Called by the Trainer (through accelerate) at each epoch: a new shuffle."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[dict]:
        rng = random.Random(f"{self.source.seed}-{self.epoch}")
        buffer: list[dict] = []
        for row in self._rows():
            if self.buffer_size <= 1:
                yield row
            elif len(buffer) < self.buffer_size:
                buffer.append(row)
            else:  # the classic reservoir-style buffer (as datasets.IterableDataset.shuffle)
                i = rng.randrange(self.buffer_size)
                yield buffer[i]
                buffer[i] = row
        rng.shuffle(buffer)
        yield from buffer
        self.passes += 1

    def _rows(self) -> Iterator[dict]:
        src = self.source
        worker = get_worker_info()
        wid, workers = (worker.id, worker.num_workers) if worker else (0, 1)
        first = self.passes == 0
        # Rows every worker meets (reader and check errors) are written by worker 0; encoding errors by their owner.
        shared = SkipLog(self.skipped_path if first and wid == 0 else None) if src.skip_bad_rows else None
        own = SkipLog(self.skipped_path if first else None) if src.skip_bad_rows else None
        examples = iter_examples(src.specs, src.options, src.columns, True, shared, src.seed)
        yielded = 0
        for index, chunk in enumerate(_batched(examples, self.chunk)):
            kept, labels = encode_labels(chunk, self.space, src.skip_bad_rows, shared)
            if index % workers != wid:
                continue
            rows_kept, rows = self.encode(kept, "", own)
            for i, row in zip(rows_kept, rows):
                yielded += 1
                yield {**row, "labels": labels[i]}
        if first and shared is not None and (shared.count or own.count):
            logger.warning("Skipped %d bad rows in the stream (written to skipped_rows.jsonl); first: %s",
                           shared.count + own.count, shared.first or own.first)
        if not yielded and workers == 1:
            raise DataError("no usable rows in the stream (every row was skipped).", file=", ".join(src.specs),
                            fix="check the files and --columns (skipped_rows.jsonl lists why).")


def _batched(items, size: int) -> Iterator[list[Example]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
