"""Rows on Arrow: validated examples written to memory-mapped Arrow files in chunks, read back as :class:`Example`
objects one batch at a time, and encoded rows served to the Trainer as the dicts the collators take.

No list of every row is ever held in Python: :func:`write_examples` streams examples into an Arrow file, and
:class:`ArrowRows` reads one row (or one column) at a time from the memory-mapped result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

import torch
from datasets import Dataset, Features, List, Value
from datasets.arrow_writer import ArrowWriter

from ..core.errors import DataError
from .chunking import POOLING, WINDOWS
from .dataset import Example

WRITE_CHUNK = 8192  # examples per Arrow record batch while reading (bounds the Python objects alive at once)
ERROR = "_error"  # column of a row's error (JSON of the DataError) after a map; null when the row is fine
LENGTH = "length"  # tokens the model computes for a row (every window of a chunked one), for length grouping

EXAMPLE_FEATURES = Features({
    "text": Value("string"), "text_pair": Value("string"), "messages": Value("string"),  # messages: JSON
    "label": Value("string"),  # JSON [kind, value] from parse_label, or null
    "label_key": Value("string"),  # str(value): the class key the stratified split uses
    "images": List(Value("string")), "file": Value("string"), "row": Value("int64"),
})
_IDS = List(Value("int32"))
TOKEN_FEATURES = {"input_ids": _IDS, "token_type_ids": _IDS, "images": List(Value("string")),
                  WINDOWS: List({"input_ids": _IDS, "token_type_ids": _IDS}), POOLING: Value("string"),
                  LENGTH: Value("int32"), ERROR: Value("string")}


def error_json(err: Exception, fatal: bool = False) -> str:
    """A row's error as a JSON string: a ``DataError`` keeps file, row, field and fix; any other error (a
    ``ConfigError``) is stored by its message. ``fatal``: the error stops the run even with ``--skip_bad_rows``."""
    if isinstance(err, DataError):
        return json.dumps({"kind": "data", "message": err.reason, "file": err.file, "row": err.row,
                           "field": err.field, "fix": err.fix, "fatal": fatal}, ensure_ascii=False)
    return json.dumps({"kind": "config", "message": str(err), "fatal": True}, ensure_ascii=False)


def error_from(text: str | dict) -> Exception:
    """The exception :func:`error_json` stored (``DataError`` or, for fatal ones, ``ConfigError``)."""
    from ..core.errors import ConfigError

    data = json.loads(text) if isinstance(text, str) else text
    if data["kind"] == "data":
        return DataError(data["message"], data["file"], data["row"], data["field"], data["fix"])
    return ConfigError(data["message"])


def _example_columns(ex: Example) -> dict:
    label = None if ex.label is None else json.dumps(list(ex.label), ensure_ascii=False)
    return {"text": ex.text, "text_pair": ex.text_pair,
            "messages": None if ex.messages is None else json.dumps(ex.messages, ensure_ascii=False),
            "label": label, "label_key": None if ex.label is None else str(ex.label[1]),
            "images": list(ex.images), "file": ex.file, "row": ex.row}


def write_examples(examples: Iterable[Example], path: str, on_example: Callable[[Example], None] | None = None
                   ) -> Dataset:
    """Write ``examples`` to the Arrow file ``path`` in chunks and open it memory-mapped.

    Args:
        examples: Validated examples, consumed once (a generator is read as it goes).
        path: The Arrow file to write (overwritten).
        on_example: Called with every example as it passes (e.g. to collect the label summary).
    """
    writer = ArrowWriter(features=EXAMPLE_FEATURES, path=path)
    batch: list[dict] = []
    for ex in examples:
        if on_example is not None:
            on_example(ex)
        batch.append(_example_columns(ex))
        if len(batch) >= WRITE_CHUNK:
            writer.write_batch({k: [b[k] for b in batch] for k in EXAMPLE_FEATURES})
            batch = []
    if batch:
        writer.write_batch({k: [b[k] for b in batch] for k in EXAMPLE_FEATURES})
    writer.finalize()
    writer.close()
    return Dataset.from_file(path)


def batch_examples(batch: dict, labels: bool = True) -> Iterator[Example]:
    """The :class:`Example` objects of a batch of :data:`EXAMPLE_FEATURES` columns (a ``map(batched=True)`` batch);
    ``labels=False`` leaves their raw labels out (tokenizing never reads them, and parsing costs per row)."""
    for i in range(len(batch["file"])):
        label = batch["label"][i] if labels else None
        messages = batch["messages"][i]
        yield Example(batch["text"][i], batch["text_pair"][i], None if messages is None else json.loads(messages),
                      None if label is None else tuple(json.loads(label)), list(batch["images"][i] or []),
                      batch["file"][i], batch["row"][i])


def has_images(data: Dataset) -> bool:
    """Whether any row of ``data`` (its selected rows, after a split) has an image, computed on the Arrow column:
    reading ``data["images"]`` instead builds a Python list per row, seconds per 100k rows."""
    import pyarrow.compute as pc  # pyarrow comes with datasets

    column = data.with_format("arrow")["images"]  # zero-copy; a split's selected rows only
    return bool(pc.any(pc.greater(pc.list_value_length(column), 0)).as_py())


def _clean(row: dict) -> dict:
    return {k: v for k, v in row.items() if v is not None}


class ArrowRows(torch.utils.data.Dataset):
    """Encoded rows on a memory-mapped Arrow dataset, served as the dicts the collators take (``input_ids``, and
    ``token_type_ids``, ``images``, ``windows``/``pooling`` where a row has them, then ``labels``).

    A plain torch ``Dataset`` rather than the ``datasets.Dataset`` itself, so Trainer's ``remove_unused_columns``
    never drops ``images`` or ``windows``, which the collators need and the model's forward does not name.
    """

    def __init__(self, data: Dataset):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> dict:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        row = {k: v for k, v in self.data[int(index)].items() if v is not None and k not in (LENGTH, ERROR)}
        if WINDOWS in row:
            row[WINDOWS] = [_clean(w) for w in row[WINDOWS]]
        labels = row.pop("labels", None)
        return row if labels is None else {**row, "labels": labels}

    def __iter__(self) -> Iterator[dict]:
        for i in range(len(self)):
            yield self[i]

    def lengths(self) -> list[int]:
        """Every row's token count (every window of a chunked row), read from the length column."""
        return self.data[LENGTH]
