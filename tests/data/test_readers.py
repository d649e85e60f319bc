"""Tests for swiftcls.data.readers: real shared datasets plus synthetic files for every error path."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from swiftcls.core.errors import DataError
from swiftcls.data.hub import read_hf_dataset
from swiftcls.data.readers import SUPPORTED_SUFFIXES, ReadOptions, Record, read_records

TSV_NO_HEADER = ReadOptions(delimiter="\t", header=False)


def _write(path: Path, content: str | bytes) -> str:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return str(path)


def _error(path: str, options: ReadOptions | None = None) -> DataError:
    with pytest.raises(DataError) as info:
        read_records(path, options)
    return info.value


# --- real data ---------------------------------------------------------------------------------------


def test_sst2_train_header_rows_and_physical_lines(shared: Path) -> None:
    path = str(shared / "data/sst2/train.tsv")
    start = time.perf_counter()
    records = read_records(path)
    assert time.perf_counter() - start < 5  # 67k rows must stay interactive
    assert len(records) == 67_349
    assert list(records[0].fields) == ["label", "sentence"]
    assert records[0] == Record({"label": "0", "sentence": "hide new secretions from the parental units"},
                                path, 2)
    # The file has CRLF endings: they must neither leak into values nor shift line numbers.
    assert [r.row for r in records] == list(range(2, 67_351))
    assert not any("\r" in r.fields["sentence"] for r in records)
    assert {r.fields["label"] for r in records} == {"0", "1"}


def test_sst2_dev_has_a_different_text_column(shared: Path) -> None:
    records = read_records(shared / "data/sst2/dev.tsv")
    assert len(records) == 872
    assert list(records[0].fields) == ["label", "content"]
    assert (records[0].row, records[-1].row) == (2, 873)
    lines = (shared / "data/sst2/dev.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[records[100].row - 1] == "\t".join(records[100].fields.values())


def test_stsb_has_no_header_and_extra_trailing_columns(shared: Path) -> None:
    records = read_records(shared / "data/stsb/sts-train.csv", TSV_NO_HEADER)
    assert len(records) == 5_749
    first = records[0]
    assert list(first.fields) == [str(i) for i in range(7)]
    assert (first.row, first.fields["4"], first.fields["5"]) == (1, "5.000", "A plane is taking off.")
    widths = Counter(len(r.fields) for r in records)
    assert widths == {7: 5_552, 9: 197}
    wide = next(r for r in records if len(r.fields) > 7)
    assert wide.row == 5_553 and list(wide.fields)[-1] == "8"
    assert len(read_records(shared / "data/stsb/sts-dev.csv", TSV_NO_HEADER)) == 1_500


def test_stsb_needs_no_quoting(shared: Path) -> None:
    # STS-B quotes are literal text: "auto" must not quote tab-separated data, and forcing CSV quoting
    # fails at the first stray quote instead of silently merging lines.
    options = ReadOptions(delimiter="\t", header=False, quoting="csv")
    err = _error(str(shared / "data/stsb/sts-train.csv"), options)
    assert "sts-train.csv" in str(err) and err.row == 2_002 and "--quoting none" in err.fix


def test_stsb_with_default_options_explains_the_delimiter(shared: Path) -> None:
    err = _error(str(shared / "data/stsb/sts-train.csv"))
    assert "sts-train.csv" in str(err) and err.row == 441
    assert "expected 1 field(s)" in err.reason and "found 2" in err.reason
    assert "--delimiter" in err.fix and "--header false" in err.fix


def test_goemotions_tsv_has_a_header_and_csv_escaped_quotes(shared: Path) -> None:
    path = shared / "data/goemotions/train.tsv"
    records = read_records(path)
    assert len(records) == 43_410
    assert list(records[0].fields) == ["text", "label", "id"]
    assert len(read_records(shared / "data/goemotions/dev.tsv")) == 5_426
    assert any("," in r.fields["label"] for r in records)  # multi-label ids, e.g. "2,3"
    # Line 125 is CSV-escaped inside a TSV: "auto" keeps the quotes literally, quoting="csv" unescapes.
    raw = next(r for r in records if r.row == 125).fields["text"]
    assert raw == '"Three words, no subtlety. ""Dude. Stop. Seriously."" "'
    unquoted = read_records(path, ReadOptions(quoting="csv"))
    assert len(unquoted) == 43_410
    assert next(r for r in unquoted if r.row == 125).fields["text"] == \
        'Three words, no subtlety. "Dude. Stop. Seriously." '


def test_online_shopping_csv_columns(shared: Path) -> None:
    records = read_records(shared / "data/online_shopping_10_cats/online_shopping_10_cats.csv")
    assert len(records) == 62_774
    assert list(records[0].fields) == ["cat", "label", "review"]  # exactly "cat", no BOM
    assert len({r.fields["cat"] for r in records}) == 10
    # The BOMs in this file sit inside review texts, not before the header; the reader keeps data as is.
    assert records[0].fields["review"].startswith("\ufeff")
    assert records[0].row == 2 and records[-1].row == 62_775


def test_waimai_csv_labels(shared: Path) -> None:
    records = read_records(shared / "data/waimai_10k/waimai_10k.csv")
    assert len(records) == 11_987
    assert list(records[0].fields) == ["label", "review"]
    assert Counter(r.fields["label"] for r in records) == {"0": 7_987, "1": 4_000}
    # Line 8 is quoted because the review contains commas.
    assert next(r for r in records if r.row == 8).fields["review"] == "送餐快,态度也特别好,辛苦啦谢谢"


# --- synthetic round trips ---------------------------------------------------------------------------


def test_jsonl_round_trip_skips_blank_lines(tmp_path: Path) -> None:
    rows = [{"text": "good", "label": 1}, {"text": "bad, \"very\"", "label": [0, 2]}]
    path = _write(tmp_path / "d.jsonl", json.dumps(rows[0]) + "\n\n  \n" + json.dumps(rows[1]) + "\n")
    records = read_records(path)
    assert [r.fields for r in records] == rows
    assert [r.row for r in records] == [1, 4]
    assert records[0].file == path


def test_json_list_and_wrapped_list(tmp_path: Path) -> None:
    rows = [{"text": "a", "label": 0}, {"text": "b", "label": 1}]
    plain = read_records(_write(tmp_path / "a.json", json.dumps(rows, indent=2)))
    wrapped = read_records(_write(tmp_path / "b.json", json.dumps({"version": 2, "data": rows})))
    assert [r.fields for r in plain] == rows == [r.fields for r in wrapped]
    assert [r.row for r in plain] == [0, 1]


def test_parquet_round_trip(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = str(tmp_path / "d.parquet")
    pq.write_table(pa.table({"text": ["x", "y", "z"], "label": [0, 1, 1]}), path)
    records = read_records(path)
    assert [r.fields for r in records] == [{"text": "x", "label": 0}, {"text": "y", "label": 1},
                                          {"text": "z", "label": 1}]
    assert [r.row for r in records] == [0, 1, 2]


def test_csv_bom_quoted_newline_and_blank_lines(tmp_path: Path) -> None:
    text = '\ufeffcat,label,review\r\n\r\nbook,1,"two\nlines, quoted"\r\nphone,0,ok\r\n'
    records = read_records(_write(tmp_path / "d.csv", text))
    assert list(records[0].fields) == ["cat", "label", "review"]
    assert records[0].fields["review"] == "two\nlines, quoted"
    assert [r.row for r in records] == [3, 5]  # a row is numbered by the line it starts on


def test_header_less_rows_may_differ_in_width(tmp_path: Path) -> None:
    records = read_records(_write(tmp_path / "d.tsv", 'a\t"b\n\nc\td\te\n'), ReadOptions(header=False))
    assert [r.fields for r in records] == [{"0": "a", "1": '"b'}, {"0": "c", "1": "d", "2": "e"}]
    assert [r.row for r in records] == [1, 3]


def test_custom_delimiter_and_literal_backslash_t(tmp_path: Path) -> None:
    semi = read_records(_write(tmp_path / "d.csv", "a;b\n1;2\n"), ReadOptions(delimiter=";"))
    tab = read_records(_write(tmp_path / "e.csv", "a\tb\n1\t2\n"), ReadOptions(delimiter="\\t"))
    assert semi[0].fields == tab[0].fields == {"a": "1", "b": "2"}


def test_other_encoding_when_asked(tmp_path: Path) -> None:
    path = _write(tmp_path / "gbk.csv", "label,review\n1,很好\n".encode("gbk"))
    assert read_records(path, ReadOptions(encoding="gbk"))[0].fields == {"label": "1", "review": "很好"}


def test_read_hf_dataset_returns_indexed_records(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(name, subset, split):
        calls.append((name, subset, split))
        return datasets.Dataset.from_dict({"sentence": ["a", "b"], "label": [0, 1]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    records = read_hf_dataset("glue", split="validation", subset="sst2")
    assert calls == [("glue", "sst2", "validation")]
    assert records[1] == Record({"sentence": "b", "label": 1}, "glue/sst2@validation", 1)


# --- errors ------------------------------------------------------------------------------------------


def test_read_hf_dataset_failure_names_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError) as info:
        read_hf_dataset("glue", subset="sst2")
    err = info.value
    assert err.file == "glue/sst2" and "no network" in str(err)
    assert "hub must be reachable" in err.fix and "local file" in err.fix


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    err = _error(str(tmp_path / "nope.csv"))
    assert "nope.csv" in str(err) and "not found" in err.reason and err.fix
    err = _error(_write(tmp_path / "d.txt", "a\n"))
    assert "d.txt" in str(err) and "'.txt'" in err.reason
    assert all(suffix in err.fix for suffix in SUPPORTED_SUFFIXES)


@pytest.mark.parametrize("name, content", [("e.csv", ""), ("h.tsv", "label\tsentence\n\n"),
                                           ("e.jsonl", "\n\n"), ("e.json", "[]")])
def test_no_rows(tmp_path: Path, name: str, content: str) -> None:
    err = _error(_write(tmp_path / name, content))
    assert err.file.endswith(name) and "no rows" in err.reason and err.fix


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "gbk.csv", b"label,review\r\n1,ok\r\n0," + "很差".encode("gbk") + b"\r\n")
    err = _error(path)
    assert err.file == path and err.row == 3 and "gbk.csv, row 3" in str(err)
    assert "0xba" in err.reason and "(byte 3 of the line)" in err.reason
    assert "iconv -f gbk -t utf-8" in err.fix and "--encoding" in err.fix
    err = _error(_write(tmp_path / "d.jsonl", b'{"a": 1}\n{"a": "\xff"}\n'))
    assert err.row == 2 and "d.jsonl" in str(err)


def test_unknown_encoding(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "d.csv", "a\n1\n"), ReadOptions(encoding="klingon"))
    assert err.field == "encoding" and "klingon" in err.reason and "--encoding" in err.fix


def test_jsonl_malformed_line(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "d.jsonl", '{"text": "a"}\n\n{"text": "b",}\n'))
    assert "d.jsonl" in str(err) and err.row == 3 and "row 3" in str(err)
    assert "invalid JSON" in err.reason and "Expecting property name" in err.reason and err.fix


def test_jsonl_line_not_an_object(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "d.jsonl", '{"text": "a"}\n["text", "b"]\n'))
    assert err.row == 2 and "found list" in err.reason and "object" in err.fix


def test_json_malformed_reports_line(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "d.json", '[\n  {"text": "a"},\n  {"text": "b"\n]\n'))
    assert "d.json" in str(err) and err.row == 4 and "line 4" in err.reason and err.fix


@pytest.mark.parametrize("content, found", [('{"a": [1], "b": [2]}', "dict"), ('"text"', "str"),
                                            ("42", "int")])
def test_json_wrong_shape(tmp_path: Path, content: str, found: str) -> None:
    err = _error(_write(tmp_path / "d.json", content))
    assert "d.json" in str(err) and f"found {found}" in err.reason and "list" in err.fix


def test_json_item_not_an_object(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "d.json", '{"data": [{"text": "a"}, "b"]}'))
    assert err.row == 1 and "found str" in err.reason and "object" in err.fix


@pytest.mark.parametrize("line, found", [("1\tgood\textra", 3), ("1", 1)])
def test_row_width_differs_from_header(tmp_path: Path, line: str, found: int) -> None:
    err = _error(_write(tmp_path / "d.tsv", f"label\tsentence\n0\tfine\n\n{line}\n"))
    assert "d.tsv, row 4" in str(err) and err.row == 4
    assert "expected 2 field(s)" in err.reason and f"found {found}" in err.reason
    assert "--delimiter" in err.fix and "--header false" in err.fix


def test_duplicate_and_empty_header(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "d.csv", "\ntext,label,text\na,1,b\n"))
    assert "d.csv" in str(err) and err.row == 2 and err.field == "text" and "duplicate" in err.reason
    assert "--header false" in err.fix
    err = _error(_write(tmp_path / "e.csv", "text,,label\na,b,1\n"))
    assert err.row == 1 and "column 2 is empty" in err.reason and "--header false" in err.fix


def test_unbalanced_quote_fails_at_its_line(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "d.csv", 'label,review\n1,fine\n0,"broken\n1,next\n'))
    assert "d.csv" in str(err) and err.row == 3 and "cannot parse" in err.reason
    assert "--quoting none" in err.fix


def test_bad_options(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "a,b\n1,2\n")
    err = _error(path, ReadOptions(delimiter="::"))
    assert err.field == "delimiter" and "d.csv" in str(err) and "--delimiter" in err.fix
    err = _error(path, ReadOptions(quoting="smart"))
    assert err.field == "quoting" and "smart" in err.reason and "--quoting" in err.fix


def test_corrupt_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    err = _error(_write(tmp_path / "d.parquet", b"not parquet at all"))
    assert "d.parquet" in str(err) and "parquet" in err.reason and "re-export" in err.fix


def test_an_over_long_line_is_a_row_error_found_without_reading_it_whole(tmp_path):
    """A 20 MB line with --max_row_chars 1000: a row error (or skipped, the next lines keeping their numbers), and
    reading it never holds more than a bounded part of it."""
    import tracemalloc

    path = tmp_path / "big.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "' + "y" * 20_000_000 + '", "label": "x"}\n'
                    '{"text": "b", "label": "x"}\n', encoding="utf-8")
    options = ReadOptions(max_row_chars=1000)
    with pytest.raises(DataError, match="longer than --max_row_chars 1000") as err:
        read_records(path, options)
    assert err.value.row == 2
    skipped = []
    tracemalloc.start()
    records = read_records(path, options, skipped)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [(r.row, r.fields["text"]) for r in records] == [(1, "a"), (3, "b")]
    assert [e.row for e in skipped] == [2] and peak < 8_000_000


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_lines_at_the_row_limit_are_read_whole_and_keep_their_numbers(tmp_path, end):
    path = tmp_path / "d.csv"
    path.write_bytes(("text,label" + end + "x" * 8 + ",a" + end + "y" * 9 + ",b" + end + "z,c" + end).encode())
    skipped = []
    records = read_records(path, ReadOptions(max_row_chars=10), skipped)  # "xxxxxxxx,a" is exactly 10
    assert [(r.row, r.fields["label"]) for r in records] == [(2, "a"), (4, "c")]
    assert [e.row for e in skipped] == [3]


def test_parquet_with_a_duplicate_column_is_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])], names=["text", "text"]),
                   tmp_path / "d.parquet")
    with pytest.raises(DataError, match="duplicate column 'text'") as err:
        read_records(tmp_path / "d.parquet")
    assert err.value.field == "text"


def test_duplicate_keys_and_utf16_without_bom_are_named(tmp_path):
    dup = tmp_path / "d.jsonl"
    dup.write_text('{"text": "a", "messages": [{"role": "user", "role": "system", "content": "x"}]}\n')
    with pytest.raises(DataError, match="duplicate key 'role'"):
        read_records(dup)
    skipped = []
    assert read_records_or_none(dup, skipped) is None and skipped[0].field == "role"
    for codec in ("utf-16-le", "utf-16-be", "utf-32-le"):
        utf16 = tmp_path / f"{codec}.jsonl"
        utf16.write_bytes('{"text": "a", "label": "x"}\n'.encode(codec))
        with pytest.raises(DataError, match=f"looks {codec.upper()} encoded") as err:
            read_records(utf16)
        assert f"--encoding {codec}" in str(err.value)
        assert len(read_records(utf16, ReadOptions(encoding=codec))) == 1  # and the guess is right


def read_records_or_none(path, skipped):
    try:
        return read_records(path, None, skipped)
    except DataError:  # no rows left
        return None
