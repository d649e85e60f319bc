"""The vectorised label step (``prepare.encode_labels``) writes exactly what the ``datasets.map`` over every row wrote:
the same Arrow table (labels, error column, row order), the same errors in row order, on real data."""

from __future__ import annotations

import pytest
from datasets import Features, Value

from swiftcls.core.errors import DataError
from swiftcls.core.labels import MULTI, REGRESSION, SINGLE, LabelSpace, read_label_names
from swiftcls.data import prepare
from swiftcls.data.arrow import ERROR, write_examples
from swiftcls.data.cache import files_of, open_files
from swiftcls.data.dataset import Example, load_examples, parse_columns
from swiftcls.data.readers import ReadOptions

ROWS = 1200  # real rows per file: several record batches at the chunk size below, fast


def old_encode_labels(data, space, path, num_proc):
    """The map over every row that ``encode_labels`` replaced (the reference)."""
    features = Features({**data.features, "labels": prepare.label_feature(space.problem_type), ERROR: Value("string")})
    return data.map(prepare._encode_labels, fn_kwargs={"space": space}, batched=True, batch_size=prepare.MAP_BATCH,
                    num_proc=prepare._procs(num_proc, len(data)), features=features, cache_file_name=path,
                    new_fingerprint="old", load_from_cache_file=False)


def outcome(data):
    """What the callers see: the rows left and the skipped errors with --skip_bad_rows, and the error without."""
    try:
        prepare.take_errors(data, None)
        raised = None
    except DataError as err:
        raised = str(err)
    skipped: list[DataError] = []
    kept = prepare.take_errors(data, skipped)
    return raised, kept.data.table.to_pydict() if kept._indices is None else kept.to_dict(), [str(e) for e in skipped]


def assert_same(examples, space, tmp_path, monkeypatch, select=None, num_proc=1):
    monkeypatch.setattr(prepare, "LABEL_CHUNK", 250)  # several record batches, the last one short
    for folder in ("work", "old", "selection"):
        (tmp_path / folder).mkdir(parents=True)
    read = write_examples(iter(examples), str(tmp_path / "read.arrow"))
    rows = read if select is None else read.select(select)
    # As sft calls it (the split's indices into the read rows), and on a datasets selection (read through datasets)
    new = prepare.encode_labels(read, space, str(tmp_path / "work" / "train.arrow"), "new", rows=select)
    selected = prepare.encode_labels(rows, space, str(tmp_path / "selection" / "train.arrow"), "sel")
    assert files_of(new, str(tmp_path / "work")) == ["train.arrow"]  # the prepared-rows cache's contract
    reopened = open_files(str(tmp_path / "work"), ["train.arrow"])
    old = old_encode_labels(rows, space, str(tmp_path / "old" / "train.arrow"), num_proc)
    old = open_files(str(tmp_path / "old"), files_of(old, str(tmp_path / "old")))  # num_proc files
    assert reopened.features == old.features == new.features
    assert reopened.data.table.to_pydict() == old.data.table.to_pydict()  # every column, every row, in order
    assert reopened.data.table.equals(old.data.table) and selected.data.table.equals(old.data.table)
    assert outcome(new) == outcome(old)
    return new


def _real(shared, path, options, columns):
    examples, _ = load_examples([str(shared / path)], options, parse_columns(columns))
    return examples[:ROWS]


def test_real_sst2_with_and_without_rejected_ids(shared, tmp_path, monkeypatch):
    examples = _real(shared, "data/sst2/train.tsv", ReadOptions(), None)
    data = assert_same(examples, LabelSpace(SINGLE, ["negative", "positive"]), tmp_path / "a", monkeypatch)
    assert data[ERROR].count(None) == ROWS and set(data["labels"]) == {0, 1}
    # One class: every row labelled 1 is rejected, each with its own file and row; a split's selection, shuffled.
    select = list(range(ROWS - 1, -1, -3)) + list(range(0, ROWS, 3))
    data = assert_same(examples, LabelSpace(SINGLE, ["negative"]), tmp_path / "b", monkeypatch, select,
                       num_proc=2)  # the map wrote two files, in order
    errors = [e for e in data[ERROR] if e is not None]
    assert len(errors) == len(set(errors)) == sum(examples[i].label[1] == 1 for i in select) > 100
    first = next(examples[i].row for i in select if examples[i].label[1] == 1)  # in the selection's order
    with pytest.raises(DataError, match=rf"train.tsv, row {first}, field 'label': label id 1 is out of range"):
        prepare.take_errors(data, None)


def test_real_goemotions_multi_label_with_rejected_names(shared, tmp_path, monkeypatch):
    names = read_label_names([str(shared / "data/goemotions/labels.txt")])
    examples = _real(shared, "data/goemotions/dev.tsv", ReadOptions(quoting="csv"), '{"id": "ignore"}')
    data = assert_same(examples, LabelSpace(MULTI, names), tmp_path / "a", monkeypatch)
    assert any(sum(v) >= 2 for v in data["labels"]) and data[ERROR].count(None) == ROWS
    data = assert_same(examples, LabelSpace(MULTI, names[:20]), tmp_path / "b", monkeypatch)  # ids 20.. rejected
    assert 0 < data[ERROR].count(None) < ROWS


def test_real_stsb_regression_and_non_numbers(shared, tmp_path, monkeypatch):
    examples = _real(shared, "data/stsb/sts-train.csv", ReadOptions(delimiter="\t", header=False),
                     '{"5": "text", "6": "text_pair", "4": "label"}')
    space = LabelSpace(REGRESSION, ["score"])
    data = assert_same(examples, space, tmp_path / "a", monkeypatch)
    assert len(set(data["labels"])) > 50 and data[ERROR].count(None) == ROWS
    odd = [Example(ex.text, ex.text_pair, label=("str", "high") if i % 7 == 0 else ex.label, file=ex.file, row=ex.row)
           for i, ex in enumerate(examples)]
    data = assert_same(odd, space, tmp_path / "b", monkeypatch)
    assert len(data[ERROR]) - data[ERROR].count(None) == len(range(0, ROWS, 7))


def test_an_empty_selection_still_has_every_column(tmp_path):
    rows = write_examples(iter([Example("a", label=("str", "x"), file="f.jsonl", row=1)]), str(tmp_path / "r.arrow"))
    data = prepare.encode_labels(rows.select([]), LabelSpace(SINGLE, ["x"]), str(tmp_path / "e.arrow"), "e")
    assert len(data) == 0 and data.column_names[-2:] == ["labels", ERROR]
    assert len(prepare.take_errors(data, None)) == 0
