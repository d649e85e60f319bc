"""Label encoding (vectorised on the Arrow columns) and tokenization (``datasets.map(batched=True, num_proc=...)``)
of Arrow rows, the stratified validation split on the label column, and the row errors they leave behind.

Neither step raises for a bad row: it writes the row's error into the :data:`~swiftcls.data.arrow.ERROR` column, and
:func:`take_errors` then raises the first one in row order (so a parallel map reports the same row as a serial
pass) or, with ``--skip_bad_rows``, moves them all to the skipped list and leaves their rows out.
"""

from __future__ import annotations

import json

from datasets import Dataset, Features, List, Value
from datasets.arrow_writer import ArrowWriter

from ..core.errors import ConfigError, DataError
from ..core.labels import MULTI, REGRESSION, SINGLE, LabelSpace
from .arrow import ERROR, LENGTH, TOKEN_FEATURES, batch_examples, error_from, error_json
from .chunking import POOLING, WINDOWS, row_tokens
from .dataset import Example
from .split import stratified_split

MAP_BATCH = 1000  # rows per map call (the unit a worker tokenizes at once)
LABEL_CHUNK = 65536  # rows per record batch of encode_labels (bounds its memory: ~12 MB of text at SST-2 lengths)


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


def encode_labels(data: Dataset, space: LabelSpace, path: str, fingerprint: str,
                  rows: list[int] | None = None) -> Dataset:
    """``data`` with a ``labels`` column (and :data:`ERROR` for labels ``space`` rejects), written to ``path``.

    Vectorised on the Arrow columns rather than a ``datasets.map``: each record batch of :data:`LABEL_CHUNK` rows is
    dictionary-encoded on its raw ``label`` column, each distinct raw label is encoded once (:func:`_encode_labels`),
    and the ``labels`` column is taken from those by index. A rejected label is encoded again on every row that has
    it, so each such row gets its own error naming its file and row, as a map over every row gave. Rows keep their
    order (a split's selected rows included); memory is one record batch, whatever the number of rows.

    Args:
        data: Rows of :data:`~swiftcls.data.arrow.EXAMPLE_FEATURES` (or a selection of them).
        space: The label space that encodes them.
        path: The one Arrow file written (then memory-mapped).
        fingerprint: The fingerprint of the result.
        rows: Indices of ``data``'s rows to encode, in order (a split's part of the read rows), gathered with one
            ``take`` per record batch. Pass them rather than ``data.select(rows)``: reading a selection back through
            ``datasets`` gathers it one slice per row, tens of times slower on a large split.
    """
    import pyarrow as pa  # pyarrow comes with datasets

    features = Features({**data.features, "labels": label_feature(space.problem_type), ERROR: Value("string")})
    label_type = features.arrow_schema.field("labels").type
    with ArrowWriter(features=features, path=path, fingerprint=fingerprint) as writer:
        for table in _record_batches(data, LABEL_CHUNK, rows):
            labels, errors = _label_columns(table, space, label_type)
            writer.write_table(pa.Table.from_arrays([*table.columns, labels, errors],
                                                    names=[*table.column_names, "labels", ERROR]))
        writer.finalize()  # an empty selection still gets a file with every column
    return Dataset.from_file(path)


def _record_batches(data: Dataset, size: int, rows: list[int] | None):
    """``data``'s rows (or its ``rows``, taken from its table) as pyarrow Tables of ``size`` rows, in order."""
    import pyarrow as pa

    table = data.with_format("arrow")  # a selection reads through datasets' indices: correct, slower
    for start in range(0, len(data) if rows is None else len(rows), size):
        if rows is None:
            yield table[start:start + size]
        else:
            yield data.data.table.take(pa.array(rows[start:start + size], pa.int64()))


def _label_columns(table, space: LabelSpace, label_type) -> tuple:
    """The ``labels`` and :data:`ERROR` arrays of one record batch (see :func:`encode_labels`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = table.column("label").combine_chunks().dictionary_encode()  # a null label stays null in both columns
    distinct = codes.dictionary.to_pylist()
    # Where is only used in an error, and rejected labels are encoded again below with each row's own.
    out = _encode_labels({"label": distinct, "file": [None] * len(distinct), "row": [None] * len(distinct)}, space)
    labels = pa.array(out["labels"], type=label_type).take(codes.indices)
    rejected = [i for i, err in enumerate(out[ERROR]) if err is not None]
    if not rejected:
        return labels, pa.nulls(len(table), pa.string())
    bad = pc.indices_nonzero(pc.is_in(codes.indices, value_set=pa.array(rejected, codes.indices.type)))
    errors_of_bad = _encode_labels({c: table.column(c).take(bad).to_pylist() for c in ("label", "file", "row")},
                                   space)[ERROR]
    errors: list[str | None] = [None] * len(table)
    for i, err in zip(bad.to_pylist(), errors_of_bad):
        errors[i] = err
    return labels, pa.array(errors, pa.string())


# Encoders handed to forked map workers by inheritance (see tokenize), keyed by the map's fingerprint.
_INHERITED: dict[str, object] = {}


def _tokenize(batch: dict, encoder=None, inherited: str | None = None) -> dict:
    encoder = _INHERITED[inherited] if encoder is None else encoder
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
    procs = _procs(num_proc, len(data))
    # The map pickles its arguments once per worker, and an encoder carries its tokenizer (10 MB and ~1.5 s to
    # pickle for Qwen's): forked workers inherit it from this process instead, under a key.
    forked = procs is not None and _start_method() == "fork"
    kwargs = {"inherited": fingerprint} if forked else {"encoder": encoder}
    if forked:
        _INHERITED[fingerprint] = encoder
    try:
        return data.map(_tokenize, fn_kwargs=kwargs, batched=True, batch_size=MAP_BATCH, num_proc=procs,
                        features=features, remove_columns=[c for c in data.column_names if c not in keep],
                        cache_file_name=path, new_fingerprint=fingerprint, load_from_cache_file=False, desc=desc)
    finally:
        _INHERITED.pop(fingerprint, None)


def _start_method() -> str:
    """How ``datasets.map`` starts its workers (its pool comes from ``multiprocess``)."""
    import multiprocess

    return multiprocess.get_start_method()


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
