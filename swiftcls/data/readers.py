"""Read labelled rows from local files (JSONL, JSON, CSV, TSV, parquet); hub datasets: see hub.py.

Readers return plain :class:`Record` objects and never guess at column meaning; mapping columns to
text/label is the caller's job. Every problem is raised as a :class:`~swiftcls.core.errors.DataError` that
names the file, the line (or row index) and how to fix it.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import DataError
from .json_rows import DuplicateKey, json_error, json_reason, unique_keys, utf16_guess

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")
_QUOTING = {"csv": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}
# Same terminators as the csv module sees with newline="", so decode errors and rows agree on numbering.
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
MAX_ROW_CHARS = 16_000_000  # --max_row_chars default: a row is read whole before it is cut to --max_length
_READ = 1 << 20  # characters read at a time while skipping the rest of an over-long line


@dataclass
class Record:
    """One row of a dataset.

    Attributes:
        fields: Column name -> value. CSV/TSV values are strings; header-less CSV/TSV rows are keyed by
            column index ("0", "1", ...).
        file: The path as given, or the Hugging Face dataset name.
        row: 1-based physical line for .jsonl/.csv/.tsv (a header is line 1); 0-based index for .json
            arrays, parquet and Hugging Face datasets.
    """

    fields: dict[str, Any]
    file: str
    row: int


@dataclass
class ReadOptions:
    """How to parse CSV/TSV files (JSON and JSONL use only ``encoding``, parquet none), and two row rules.

    Attributes:
        delimiter: Field separator; None picks "\\t" for .tsv and "," otherwise.
        header: Whether the first non-blank line names the columns. False keys columns "0", "1", ...
            and lets rows differ in length (STS-B carries extra trailing columns).
        quoting: "auto" (no quoting for tab-separated files, CSV quoting otherwise), "none" or "csv".
        encoding: Text encoding; the default "utf-8-sig" also strips a leading BOM.
        max_row_chars: A JSONL/CSV/TSV line longer than this many characters is a row error, found without
            reading more of it than that; other sources are checked on their text fields
            (:func:`~swiftcls.data.dataset.to_example`).
        label_sep: What separates several labels in one string (``--label_sep``, see
            :func:`~swiftcls.core.labels.label_separator`).
    """

    delimiter: str | None = None
    header: bool = True
    quoting: str = "auto"
    encoding: str = "utf-8-sig"
    max_row_chars: int = MAX_ROW_CHARS
    label_sep: str = "auto"


def read_records(path: str | os.PathLike[str], options: ReadOptions | None = None,
                 skipped: list[DataError] | None = None) -> list[Record]:
    """Read every row of a local data file.

    Args:
        path: A file ending in one of ``SUPPORTED_SUFFIXES``.
        options: Parsing options; defaults to ``ReadOptions()``.
        skipped: When given, rows that cannot be parsed (malformed JSONL line, wrong CSV column count)
            are reported here and left out instead of raising (``--skip_bad_rows``).

    Returns:
        The rows in file order (at least one).

    Raises:
        DataError: The file is missing, has an unsupported suffix, cannot be decoded or parsed, or has
            no rows.
    """
    records = list(iter_records(path, options, skipped))
    if not records:
        raise no_rows(os.fspath(path))
    return records


def no_rows(name: str) -> DataError:
    """The error for a data file without a single row."""
    return DataError("no rows.", file=name, fix="the file is empty (or holds only a header); point to a file with "
                     "data.")


def iter_records(path: str | os.PathLike[str], options: ReadOptions | None = None,
                 skipped: list[DataError] | None = None) -> Iterator[Record]:
    """Rows of a local data file as they are parsed (same arguments and errors as :func:`read_records`).

    JSONL, CSV, TSV and parquet are streamed (memory bounded by one row or one parquet batch), so
    ``swiftcls infer`` can predict files larger than memory; a ``.json`` array is parsed whole. The file's
    type and existence are checked on the first ``next()``; an empty file yields nothing.
    """
    name, options = os.fspath(path), options or ReadOptions()
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(f"unsupported file type '{suffix or '(none)'}'.", file=name,
                        fix=f"use one of {', '.join(SUPPORTED_SUFFIXES)}.")
    if not Path(name).is_file():
        raise DataError("file not found.", file=name, fix="check the path (relative paths start at the "
                        "current directory).")
    if suffix == ".parquet":
        yield from _read_parquet(name)
    elif suffix == ".json":
        yield from _read_json(name, _decode(name, Path(name).read_bytes(), options.encoding))
    elif suffix == ".jsonl":
        yield from _read_jsonl(name, _lines(name, options.encoding, options.max_row_chars, skipped), skipped)
    else:
        yield from _read_delimited(name, _lines(name, options.encoding, options.max_row_chars, skipped), suffix,
                                   options, skipped)


_UTF16_32_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
                   (codecs.BOM_UTF16_BE, "UTF-16"))


def _check_bom(name: str, head: bytes, encoding: str) -> None:
    if encoding.replace("_", "-").lower() in ("utf-8", "utf-8-sig", "utf8"):
        for bom, codec in _UTF16_32_BOMS:
            if head.startswith(bom):  # Windows editors ("Unicode" in Notepad/Excel) write these
                raise DataError(f"the file is {codec} encoded (it starts with a {codec} byte order mark), not "
                                "UTF-8.", file=name, row=1, field="encoding",
                                fix=f"pass --encoding {codec.lower()} or convert it: "
                                    f"`iconv -f {codec} -t UTF-8 in > out`.")


def _unknown_encoding(name: str, encoding: str) -> DataError:
    return DataError(f"unknown encoding '{encoding}'.", file=name, field="encoding",
                     fix="pass a valid Python codec name, e.g. --encoding utf-8 or gbk.")


def _decode(name: str, data: bytes, encoding: str) -> str:
    _check_bom(name, data[:4], encoding)
    try:
        return data.decode(encoding)
    except LookupError as exc:
        raise _unknown_encoding(name, encoding) from exc
    except UnicodeDecodeError as exc:
        # Decoding the whole file at once is fast; the line is only worked out when it fails.
        line = len(_LINE_BREAK.findall(data, 0, exc.start)) + 1
        line_start = max(data.rfind(b"\n", 0, exc.start), data.rfind(b"\r", 0, exc.start)) + 1
        raise DataError(f"cannot decode byte 0x{data[exc.start]:02x} (byte {exc.start - line_start + 1} of "
                        f"the line) as {encoding}: {exc.reason}.", file=name, row=line,
                        fix="convert the file to UTF-8 (e.g. `iconv -f gbk -t utf-8 in > out`) or pass "
                            "its real encoding with --encoding.") from exc


def _too_long(name: str, line_no: int, limit: int) -> DataError:
    return DataError(f"the line is longer than --max_row_chars {limit} characters.", file=name, row=line_no,
                     fix="split or shorten the row, drop it (--skip_bad_rows), or raise --max_row_chars.")


def _lines(name: str, encoding: str, limit: int = MAX_ROW_CHARS,
           skipped: list[DataError] | None = None) -> Iterator[str]:
    """The file's lines, decoded as they are read, with their terminators (``newline=""``, as csv wants).

    A line longer than ``limit`` characters is a row error (or, with ``skipped``, reported and replaced by an
    empty line, so line numbers stay right); it is never held in memory whole.
    """
    with open(name, "rb") as raw:
        _check_bom(name, raw.read(4), encoding)
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise _unknown_encoding(name, encoding) from exc
    try:
        with open(name, encoding=encoding, newline="") as f:
            yield from _bounded(f, name, limit, skipped)
    except UnicodeDecodeError:
        # The streaming decoder only knows the offset inside its buffer: decode the whole file once to name
        # the exact line (only on this error path).
        _decode(name, Path(name).read_bytes(), encoding)
        raise


def _bounded(f, name: str, limit: int, skipped: list[DataError] | None) -> Iterator[str]:
    """``f``'s lines, reading at most ``limit`` characters (and the terminator) of each; see :func:`_lines`."""
    line_no, size, pending = 0, limit + 2, None
    while line := pending if pending is not None else f.readline(size):
        pending = None
        if len(line) == size and line.endswith("\r"):  # the size cut may fall between "\r" and "\n"
            pending = f.readline(size)
            if pending == "\n":
                line, pending = line + pending, None
        line_no += 1
        ended = line.endswith(("\n", "\r"))
        if len(line) - (line.endswith("\r\n") + ended) > limit:
            _bad_row(_too_long(name, line_no, limit), skipped)
            while not ended and (rest := f.readline(_READ)):
                ended = rest.endswith(("\n", "\r"))
            line = "\n"  # keeps the numbering of the lines after it
        yield line


def _bad_row(err: DataError, skipped: list[DataError] | None) -> None:
    if skipped is None:
        raise err
    skipped.append(err)


def _read_jsonl(name: str, lines: Iterable[str], skipped: list[DataError] | None = None) -> Iterator[Record]:
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=unique_keys)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, over-long integers, deep nesting
            _bad_row(json_error(name, line_no, exc, line, "each line must hold one complete JSON object; fix or "
                                                             "delete this line."), skipped)
            continue
        if not isinstance(obj, dict):
            _bad_row(DataError(f"expected a JSON object, found {type(obj).__name__}.", file=name, row=line_no,
                               fix='write one object per line, e.g. {"text": "...", "label": "..."}.'), skipped)
            continue
        yield Record(obj, name, line_no)


def _read_json(name: str, text: str) -> list[Record]:
    try:
        data = json.loads(text, object_pairs_hook=unique_keys)
    except DuplicateKey as exc:
        raise json_error(name, None, exc, text, "") from exc
    except json.JSONDecodeError as exc:
        if utf16_guess(text):
            raise json_error(name, 1, exc, text, "") from exc
        raise DataError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.", file=name,
                        row=exc.lineno, fix="fix the JSON syntax at that line (a .jsonl file needs the "
                                            ".jsonl suffix).") from exc
    except (ValueError, RecursionError) as exc:
        raise DataError(f"invalid JSON: {json_reason(exc)}", file=name,
                        fix="fix the value (integers of at most 4300 digits, nesting of at most ~1000 "
                            "levels).") from exc
    if isinstance(data, dict):
        # Accept wrappers such as {"version": 1, "data": [...]} as long as the rows are unambiguous.
        lists = [value for value in data.values() if isinstance(value, list)]
        data = lists[0] if len(lists) == 1 else data
    if not isinstance(data, list):
        raise DataError(f"expected a list of objects, found {type(data).__name__}.", file=name,
                        fix='use [{"text": ..., "label": ...}, ...] or {"data": [...]} '
                            "with exactly one list.")
    for index, obj in enumerate(data):
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, found {type(obj).__name__}.", file=name, row=index,
                            fix="every list item must be an object mapping column names to values.")
    return [Record(obj, name, index) for index, obj in enumerate(data)]


def _read_parquet(name: str) -> Iterator[Record]:
    import pyarrow.parquet as pq  # imported lazily: pyarrow is heavy and parquet is rare

    index = 0
    try:
        parquet = pq.ParquetFile(name)
    except Exception as exc:  # pyarrow raises several unrelated types for bad files
        raise DataError(f"cannot read parquet: {type(exc).__name__}: {exc}.", file=name,
                        fix="check that the file is a complete parquet file (re-export it).") from exc
    names = parquet.schema_arrow.names
    dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if dup is not None:  # rows as dicts would keep only the last column of that name
        raise DataError(f"duplicate column '{dup}'.", file=name, field=dup,
                        fix="give each column a unique name when writing the parquet file.")
    try:
        for batch in parquet.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                yield Record(row, name, index)
                index += 1
    except Exception as exc:  # pyarrow raises several unrelated types for bad files
        raise DataError(f"cannot read parquet: {type(exc).__name__}: {exc}.", file=name,
                        fix="check that the file is a complete parquet file (re-export it).") from exc


def _read_delimited(name: str, lines: Iterable[str], suffix: str, options: ReadOptions,
                    skipped: list[DataError] | None = None) -> Iterator[Record]:
    delimiter = options.delimiter or ("\t" if suffix == ".tsv" else ",")
    delimiter = "\t" if delimiter in ("\\t", "tab") else delimiter  # a shell hands '\t' over literally
    if len(delimiter) != 1:
        raise DataError(f"delimiter must be one character, got {delimiter!r}.", file=name, field="delimiter",
                        fix="pass e.g. --delimiter ',' or --delimiter '\\t'.")
    if options.quoting != "auto" and options.quoting not in _QUOTING:
        raise DataError(f"unknown quoting '{options.quoting}'.", file=name, field="quoting",
                        fix="use --quoting auto, csv or none.")
    # Real TSVs carry stray quotes that CSV quoting would treat as field delimiters and swallow lines.
    quoting = options.quoting if options.quoting != "auto" else ("none" if delimiter == "\t" else "csv")
    # strict: an unbalanced quote fails at its own line instead of silently swallowing the rows after it.
    reader = csv.reader(lines, delimiter=delimiter, quoting=_QUOTING[quoting], strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1  # a quoted field may span lines; report where the row begins
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(f"cannot parse row: {exc}.", file=name, row=start,
                            fix="look for an unbalanced quote near this line; pass --quoting none if "
                                "quotes are literal text.") from exc
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if not options.header:
            yield Record({str(i): value for i, value in enumerate(row)}, name, start)
        elif header is None:
            header = _check_header(name, row, start)
        elif len(row) != len(header):
            _bad_row(DataError(f"expected {len(header)} field(s) ({delimiter!r}-separated, as in the header "
                               f"line), found {len(row)}.", file=name, row=start,
                               fix="check the separator (--delimiter) and quoting (--quoting), or pass "
                                   "--header false if the file has no header line."), skipped)
        else:
            yield Record(dict(zip(header, row)), name, start)


def _check_header(name: str, header: list[str], line: int) -> list[str]:
    seen: set[str] = set()
    for index, column in enumerate(header, start=1):
        if not column.strip():
            raise DataError(f"header column {index} is empty.", file=name, row=line,
                            fix="name every column in the header line, or pass --header false.")
        if column in seen:
            raise DataError(f"duplicate header column '{column}'.", file=name, row=line, field=column,
                            fix="give each column a unique name, or pass --header false.")
        seen.add(column)
    return header
