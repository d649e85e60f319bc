"""Batched maps over Arrow rows: label encoding and tokenization (``datasets.map(batched=True, num_proc=...)``),
the stratified validation split on the label column, and the row errors a map leaves behind.

A map never raises for a bad row: it writes the row's error into the :data:`~swiftcls.data.arrow.ERROR` column, and
:func:`take_errors` then raises the first one in row order (so a parallel map reports the same row as a serial
pass) or, with ``--skip_bad_rows``, moves them all to the skipped list and leaves their rows out.
"""

from __future__ import annotations

import json

from datasets import Dataset, Features, List, Value

from ..core.errors import ConfigError, DataError
from ..core.labels import MULTI, REGRESSION, SINGLE, LabelSpace
from .arrow import ERROR, LENGTH, TOKEN_FEATURES, batch_examples, error_from, error_json
from .chunking import POOLING, WINDOWS, row_tokens
from .dataset import Example
from .split import stratified_split

MAP_BATCH = 1000  # rows per map call (the unit a worker tokenizes at once)


class LabelSummary:
    """The ``(kind, value, where)`` labels :meth:`LabelSpace.infer` needs, without one entry per row.

    Only the first row of each distinct label (and the first row of each file) is kept, in row order: every check
    ``infer`` makes reports the first row with some label, so it gives the same space, errors and warnings as on
    every row, with memory bounded by the number of distinct labels. ``float_as_one`` (regression) keeps one float
    row, as every float is a valid score.
    """

    def __init__(self, float_as_one: bool = False):
        self.parsed: list[tuple[str, object, dict]] = []
        self._seen: set = set()
        self._files: set = set()
        self._float_as_one = float_as_one

    def add(self, ex: Example) -> None:
        kind, value = ex.label
        key = (kind,) if kind == "float" and self._float_as_one else (kind, _hashable(value))
        if key in self._seen and ex.file in self._files:
            return
        self._seen.add(key)
        self._files.add(ex.file)
        self.parsed.append((kind, value, ex.where))


def _hashable(value):
    # bool and int compare equal (True == 1) but are different labels here: keep the type in the key.
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return type(value).__name__, value


def split_indices(data: Dataset, ratio: float, space: LabelSpace, seed: int = 42) -> tuple[list[int], list[int]]:
    """Train and validation row indices, as :func:`~swiftcls.data.dataset.split_validation` splits the same rows:
    stratified by class for single-label data when every class has 2+ rows (same seed => same split)."""
    return stratified_split(len(data), data["label_key"] if space.problem_type == SINGLE else None, ratio, seed)


def _encode_labels(batch: dict, space: LabelSpace) -> dict:
    labels, errors = [], []
    known: dict[str, object] = {}  # raw label -> encoded: a label set repeats, and an encoding depends on it only
    for label, file, row in zip(batch["label"], batch["file"], batch["row"]):
        if label in known:
            labels.append(known[label])
            errors.append(None)
            continue
        try:
            labels.append(space.encode(*json.loads(label), {"file": file, "row": row}))
            errors.append(None)
            known[label] = labels[-1]
        except DataError as err:  # not remembered: every row with this label gets its own error (file, row)
            labels.append(None)
            errors.append(error_json(err))
    return {"labels": labels, ERROR: errors}


def label_feature(problem_type: str):
    """The Arrow type of encoded labels: class id, multi-hot vector or score (float64 keeps Python's floats)."""
    if problem_type == MULTI:
        return List(Value("float64"))
    return Value("float64") if problem_type == REGRESSION else Value("int64")


def encode_labels(data: Dataset, space: LabelSpace, path: str, fingerprint: str, num_proc: int = 1,
                  desc: str = "Encoding labels") -> Dataset:
    """``data`` with a ``labels`` column (and :data:`ERROR` for labels ``space`` rejects), written to ``path``."""
    features = Features({**data.features, "labels": label_feature(space.problem_type), ERROR: Value("string")})
    return data.map(_encode_labels, fn_kwargs={"space": space}, batched=True, batch_size=MAP_BATCH,
                    num_proc=_procs(num_proc, len(data)), features=features, cache_file_name=path,
                    new_fingerprint=fingerprint, load_from_cache_file=False, desc=desc)


def _tokenize(batch: dict, encoder) -> dict:
    examples = list(batch_examples(batch, labels=False))
    out = {key: [None] * len(examples) for key in TOKEN_FEATURES}
    skipped: list[DataError] = []
    try:
        kept, rows = encoder.encode_kept(examples, "", skipped)
    except (ConfigError, DataError) as err:  # checks over all rows (images on a text-only model, --prompt on
        out[ERROR][0] = error_json(err, fatal=True)  # messages): they stop the run even with --skip_bad_rows
        return out
    bad = iter(skipped)
    kept_set = set(kept)
    for i in range(len(examples)):
        if i not in kept_set:
            out[ERROR][i] = error_json(next(bad))
    for i, row in zip(kept, rows):
        out["input_ids"][i] = row.get("input_ids")
        out["token_type_ids"][i] = row.get("token_type_ids")
        out["images"][i] = row.get("images")
        if WINDOWS in row:
            out[WINDOWS][i] = [{"input_ids": w["input_ids"], "token_type_ids": w.get("token_type_ids")}
                               for w in row[WINDOWS]]
            out[POOLING][i] = row[POOLING]
        out[LENGTH][i] = row_tokens(row)
    return out


def tokenize(data: Dataset, encoder, path: str, fingerprint: str, num_proc: int = 1,
             desc: str = "Tokenizing") -> Dataset:
    """Token ids of every row of ``data`` (int32 Arrow columns, a ``length`` column, ``labels`` kept), written to
    ``path`` by ``encoder`` (a :class:`~swiftcls.data.encode.PromptEncoder`) in ``num_proc`` processes."""
    keep = [c for c in data.column_names if c == "labels"]
    features = Features({**{c: data.features[c] for c in keep}, **TOKEN_FEATURES})
    return data.map(_tokenize, fn_kwargs={"encoder": encoder}, batched=True, batch_size=MAP_BATCH,
                    num_proc=_procs(num_proc, len(data)), features=features,
                    remove_columns=[c for c in data.column_names if c not in keep], cache_file_name=path,
                    new_fingerprint=fingerprint, load_from_cache_file=False, desc=desc)


def _procs(num_proc: int, rows: int) -> int | None:
    procs = min(num_proc or 1, max(rows // MAP_BATCH, 1))
    return procs if procs > 1 else None


def take_errors(data: Dataset, skipped: list[DataError] | None) -> Dataset:
    """``data`` without its bad rows. A fatal error (a check over all rows) raises; otherwise the first bad row in
    row order raises unless ``skipped`` collects them (``--skip_bad_rows``). The :data:`ERROR` column stays (null
    in every row left): dropping it would copy the dataset's metadata, which costs more than small data itself."""
    import pyarrow.compute as pc  # pyarrow comes with datasets

    if data.data.column(ERROR).null_count == len(data.data):  # no error in the whole table: nothing to look up
        return data
    column = data.with_format("arrow")[ERROR]
    bad = pc.indices_nonzero(pc.is_valid(column)).to_pylist()
    if not bad:
        return data
    errors = [json.loads(column[i].as_py()) for i in bad]
    fatal = next((e for e in errors if e.get("fatal")), None)
    if fatal is not None:
        raise error_from(fatal)
    if skipped is None:
        raise error_from(errors[0])
    skipped.extend(error_from(e) for e in errors)
    return data.select(pc.indices_nonzero(pc.is_null(column)).to_pylist())
