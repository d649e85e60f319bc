"""The pyarrow fast path for JSONL files writes exactly the Python reader's Arrow table, or falls back to it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from swiftcls.core.errors import DataError
from swiftcls.data.arrow import write_examples
from swiftcls.data.dataset import iter_examples, parse_columns
from swiftcls.data.fast_jsonl import write_fast, write_rows
from swiftcls.data.prepare import LabelSummary
from swiftcls.data.readers import ReadOptions, read_records

ROWS = 1500  # per real file: enough distinct texts and labels, fast


def python_read(specs, options, columns, tmp_path, skipped=None):
    """The Python reader's table, label summary and skipped rows (or its error)."""
    summary = LabelSummary()
    try:
        rows = write_examples(iter_examples(specs, options, columns, True, skipped), str(tmp_path / "py.arrow"),
                              summary.add)
    except DataError as err:
        return str(err)
    return rows.data.table, summary.parsed


def read_both(tmp_path, specs, options=None, columns=None, skip_bad_rows=False):
    """(python result, write_rows result, write_rows's per-spec fast flags)."""
    options, columns = options or ReadOptions(), parse_columns(columns)
    py_skipped, skipped = [], []
    expected = python_read(specs, options, columns, tmp_path, py_skipped if skip_bad_rows else None)
    summary = LabelSummary()
    try:
        rows, fast = write_rows(specs, options, columns, str(tmp_path / "fast.arrow"), summary.add,
                                skipped if skip_bad_rows else None)
        got = rows.data.table, summary.parsed
    except DataError as err:
        got, fast = str(err), [write_fast(s, options, columns, str(tmp_path / "probe.arrow")) is not None
                               for s in specs]
    assert [str(e) for e in skipped] == [str(e) for e in py_skipped]
    return expected, got, fast


def assert_same(expected, got):
    if isinstance(expected, str) or isinstance(got, str):
        assert got == expected
        return
    assert got[0].schema == expected[0].schema
    assert got[0].to_pydict() == expected[0].to_pydict()  # every column, every row
    assert got[0].equals(expected[0])
    assert got[1] == expected[1]  # the label summary LabelSpace.infer sees


def write_lines(path: Path, lines: list[str] | bytes) -> str:
    path.write_bytes(lines if isinstance(lines, bytes) else "".join(line + "\n" for line in lines).encode())
    return str(path)


def dump(path: Path, rows: list[dict], ascii_only: bool = True) -> str:
    return write_lines(path, [json.dumps(r, ensure_ascii=ascii_only) for r in rows])


# --- real data: the same table, read by the fast path -------------------------------------------------------------

def _fields(path, options=None):
    return [r.fields for r in read_records(path, options)[:ROWS]]


def test_real_sst2_int_labels(shared, tmp_path):
    rows = [{"sentence": f["sentence"], "label": int(f["label"])} for f in _fields(shared / "data/sst2/train.tsv")]
    expected, got, fast = read_both(tmp_path, [dump(tmp_path / "sst2.jsonl", rows)])
    assert fast == [True]
    assert_same(expected, got)


def test_real_goemotions_single_string_labels_and_multi_label_lists(shared, tmp_path):
    names = (shared / "data/goemotions/labels.txt").read_text().split()
    fields = _fields(shared / "data/goemotions/dev.tsv", ReadOptions(quoting="csv"))
    single = [{"text": f["text"], "label": names[int(f["label"].split(",")[0])], "id": f["id"]} for f in fields]
    expected, got, fast = read_both(tmp_path, [dump(tmp_path / "single.jsonl", single, ascii_only=False)],
                                    columns='{"id": "ignore"}')
    assert fast == [True]
    assert_same(expected, got)
    multi = [{"text": f["text"], "labels": [names[int(i)] for i in f["label"].split(",")]} for f in fields]
    expected, got, fast = read_both(tmp_path, [dump(tmp_path / "multi.jsonl", multi)])
    assert fast == [False]  # list labels: the Python reader
    assert_same(expected, got)


def test_real_stsb_pairs(shared, tmp_path):
    fields = _fields(shared / "data/stsb/sts-train.csv", ReadOptions(delimiter="\t", header=False))
    as_text = [{"sentence1": f["5"], "sentence2": f["6"], "label": f["4"]} for f in fields]  # "3.800"
    expected, got, fast = read_both(tmp_path, [dump(tmp_path / "text.jsonl", as_text)])
    assert fast == [True]
    assert_same(expected, got)
    scores = [{"text": f["5"], "text_pair": f["6"], "label": float(f["4"])} for f in fields]
    fractional = [r for r in scores if r["label"] != int(r["label"])]
    expected, got, fast = read_both(tmp_path, [dump(tmp_path / "frac.jsonl", fractional)])
    assert fast == [True]
    assert_same(expected, got)
    expected, got, fast = read_both(tmp_path, [dump(tmp_path / "scores.jsonl", scores)])
    assert fast == [False]  # 5.0: JSON 5.0 and 5 are different labels, and pyarrow reads both as 5.0
    assert_same(expected, got)


def test_real_chinese_reviews_utf8(shared, tmp_path):
    waimai = [{"review": f["review"], "cat": int(f["label"])}
              for f in _fields(shared / "data/waimai_10k/waimai_10k.csv")]
    shop = [{"review": f["review"], "cat": f["cat"], "label": f["label"]}
            for f in _fields(shared / "data/online_shopping_10_cats/online_shopping_10_cats.csv") if f["review"]]
    assert shop[0]["review"].startswith("\ufeff")  # a BOM inside a text is text
    specs = [dump(tmp_path / "waimai.jsonl", waimai, ascii_only=False),
             dump(tmp_path / "shop.jsonl", shop, ascii_only=False)]
    expected, got, fast = read_both(tmp_path, specs, columns='{"review": "text", "cat": "label", "label": "ignore"}')
    assert fast == [True, True]
    assert_same(expected, got)


# --- synthetic files the fast path reads --------------------------------------------------------------------------

@pytest.mark.parametrize("lines", [
    ['{"text": "a", "label": 1}', "", "  \t", '{"text": "b", "label": 2}', ""],  # blank lines keep numbering
    b'{"text": "a", "label": true}\r\n{"text": "b", "label": false}\r\n',  # CRLF, bool labels
    ['{"text": "a", "text_pair": null, "label": "x"}', '{"text": "b", "label": " y "}', '{"text": "c", "label": "3"}'],
    ['{"text": "a", "label": 0.25}', '{"text": "b", "label": 1e-3}', '{"text": "c", "label": 0.12345678901234567891}',
     '{"text": "d", "label": 2.2250738585072011e-308}', '{"text": "e", "label": 1.0000000000000002}',
     '{"text": "f", "label": 5e-324}', '{"text": "g", "label": -7.000000000000001}'],  # parsed as Python parses
    ['{"query": "a", "text_pair": "p", "label": 1, "meta": {"k": [1, 2]}}'],
])
def test_fast_path_reads_the_same_table(tmp_path, lines, caplog):
    with caplog.at_level(logging.INFO, logger="swiftcls.data.fast_jsonl"):
        expected, got, fast = read_both(tmp_path, [write_lines(tmp_path / "d.jsonl", lines)])
    assert fast == [True] and "read by the fast JSONL reader" in caplog.text
    assert_same(expected, got)


# --- everything it cannot prove identical goes to the Python reader -----------------------------------------------

GOOD = '{"text": "fine", "label": 1}'
FALLBACKS = {
    "parse error": [GOOD, '{"text": "a", "label": 1'],
    "two objects on a line": [GOOD, GOOD + " " + GOOD, ""],
    "duplicate key": [GOOD, '{"text": "a", "label": 1, "label": 2}'],
    "int and float labels": [GOOD, '{"text": "a", "label": 2.0}'],
    "negative zero": ['{"text": "a", "label": 0.5}', '{"text": "a", "label": -0}'],
    "nan label": ['{"text": "a", "label": 0.5}', '{"text": "a", "label": NaN}'],
    "mixed label types": [GOOD, '{"text": "a", "label": "x"}'],
    "struct label": ['{"text": "a", "label": {"x": 1}}'],
    "list label": ['{"text": "a", "label": ["x", "y"]}'],
    "comma label": [GOOD, '{"text": "a", "label": "x,y"}'],
    "null text": [GOOD, '{"text": null, "label": 1}'],
    "missing text": [GOOD, '{"sentence": "a", "label": 1}'],
    "missing label": [GOOD, '{"text": "a"}'],
    "blank text": [GOOD, '{"text": "\\u3000\\u2028 ", "label": 1}'],
    "blank pair": [GOOD, '{"text": "a", "text_pair": " ", "label": 1}'],
    "number text": [GOOD, '{"text": 5, "label": 1}'],
    "lone surrogate": [GOOD, '{"text": "a\\ud800", "label": 1}'],
    "messages": ['{"messages": [{"role": "user", "content": "hi"}], "label": 1}'],
    "images": ['{"text": "a", "images": ["x.png"], "label": 1}'],
    "huge integer": ['{"text": "a", "label": 1, "id": ' + "9" * 4400 + "}"],
    "deep nesting": ['{"text": "a", "label": 1, "x": ' + "[" * 1100 + "]" * 1100 + "}"],
    "not an object": [GOOD, "[1, 2]"],
    "lone CR": f"{GOOD}\r{GOOD}\r".encode(),
    "BOM": b"\xef\xbb\xbf" + f"{GOOD}\n{GOOD}\n".encode(),
    "BOM inside": f"{GOOD}\n".encode() + b"\xef\xbb\xbf" + f"{GOOD}\n".encode(),
    "not UTF-8": f"{GOOD}\n".encode() + b'{"text": "caf\xe9", "label": 1}\n',
    "UTF-16": f"{GOOD}\n{GOOD}\n".encode("utf-16"),
    "empty": b"\n\n",
}


@pytest.mark.parametrize("case", FALLBACKS)
def test_fallback_gives_the_python_readers_result(tmp_path, case, caplog):
    with caplog.at_level(logging.INFO, logger="swiftcls.data.fast_jsonl"):
        expected, got, fast = read_both(tmp_path, [write_lines(tmp_path / "d.jsonl", FALLBACKS[case])])
    assert fast == [False]
    if case != "empty":
        assert "read by the Python reader" in caplog.text
    assert_same(expected, got)


def test_files_read_by_both_readers_concatenate_in_order(tmp_path):
    fast = write_lines(tmp_path / "a.jsonl", [GOOD, '{"text": "two", "label": 2}'])
    slow = write_lines(tmp_path / "b.jsonl", ['{"text": "three", "label": [1, 2]}'])
    expected, got, used = read_both(tmp_path, [fast, slow, fast])
    assert used == [True, False, True]
    assert_same(expected, got)


def test_fallback_with_skip_bad_rows_skips_the_same_rows(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [GOOD, '{"text": "", "label": 1}', "{oops", GOOD])
    expected, got, fast = read_both(tmp_path, [path], skip_bad_rows=True)
    assert fast == [False] and len(got[0]) == 2
    assert_same(expected, got)


def test_fallback_for_column_options_and_sampling(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [GOOD, '{"text": "b", "Label": 2, "label": 3}'])
    # "Label" is missing from row 1, where "label" would stand in for it: the Python reader's error.
    expected, got, fast = read_both(tmp_path, [path], columns='{"Label": "label"}')
    assert fast == [False] and "would be used instead" in got
    assert_same(expected, got)
    expected, got, fast = read_both(tmp_path, [path + "#1"])
    assert fast == [False]
    assert_same(expected, got)
    expected, got, fast = read_both(tmp_path, [path], options=ReadOptions(max_row_chars=3))
    assert fast == [False] and "max_row_chars" in got
    assert_same(expected, got)
    expected, got, fast = read_both(tmp_path, [path], options=ReadOptions(encoding="latin-1"))
    assert fast == [False]
    assert_same(expected, got)
