"""A fast path for plain local JSONL files: pyarrow's C++ JSON reader and vectorised checks write the Arrow table the
Python reader writes. Whatever it cannot prove that reader would read the same way (a parse error, an unhandled type,
a bad text or label, messages, images, a BOM, ...) makes :func:`write_fast` return None: the Python reader reads the
file and reports the first bad row as always."""

from __future__ import annotations

import codecs
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from datasets import Dataset, concatenate_datasets
from datasets.arrow_writer import ArrowWriter

from ..core.errors import DataError
from ..core.labels import label_separator, parse_label
from .arrow import EXAMPLE_FEATURES, write_examples
from .dataset import DEFAULT_FIELDS, LABEL_KEYS, PAIR_KEYS, TEXT_KEYS, Example, iter_examples
from .readers import ReadOptions

logger = logging.getLogger(__name__)

CHUNK_BYTES = 8 << 20  # bytes parsed at once (whole lines): bounds memory like the streaming Python reader
# A text is blank for Python (str.strip) unless it has a character outside str.isspace; the set comes from Python.
_NONSPACE = "[^" + "".join(f"\\x{{{c:x}}}" for c in range(0x3001) if chr(c).isspace()) + "]"
_DIGITS = bytes(49 if 48 <= b <= 57 else 48 for b in range(256))  # translate table: digits -> "1", others -> "0"
_HUGE_INT = b"1" * 4300  # Python's json refuses integers of 4300+ digits; pyarrow reads them as inf
_MAX_DEPTH = 50  # pyarrow reads nesting deeper than Python's recursion limit; the schema's depth bounds a value's


class _Fallback(Exception):  # noqa: N818 - not an error: the file needs the Python reader, the message says why
    """Raised where the fast path stops."""


def write_rows(specs: list[str], options: ReadOptions, columns: dict[str, str], path: str,
               on_example: Callable[[Example], None], skipped: list[DataError] | None = None, seed: int = 42,
               write: Callable = write_examples) -> tuple[Dataset, list[bool]]:
    """The rows of ``specs`` as ``write`` writes :func:`~swiftcls.data.dataset.iter_examples`'s (same arguments), each
    plain JSONL file through :func:`write_fast`; returns them (one Arrow file per spec) and which specs it read."""
    parts, fast = [], []
    for i, spec in enumerate(specs):
        part = path if len(specs) == 1 else f"{path.removesuffix('.arrow')}-{i}.arrow"
        if read := write_fast(spec, options, columns, part):
            parts.append(read[0])
            for ex in read[1]:
                on_example(ex)
        else:
            parts.append(write(iter_examples([spec], options, columns, True, skipped, seed), part, on_example))
        fast.append(read is not None)
    return (parts[0] if len(parts) == 1 else concatenate_datasets(parts)), fast


def write_fast(spec: str, options: ReadOptions, columns: dict[str, str], path: str
               ) -> tuple[Dataset, list[Example]] | None:
    """Read one ``--dataset`` value with pyarrow into the Arrow file ``path``, if it is a plain local JSONL file.

    Args:
        spec: The ``--dataset`` value; only a local ``.jsonl`` file without ``#count`` is tried.
        options: Reading options (encoding, ``--max_row_chars``, ``--label_sep``).
        columns: The ``--columns`` mapping.
        path: The Arrow file to write (the Python reader overwrites it after a fallback).

    Returns:
        The rows and the first row of each distinct raw label in row order (what ``LabelSummary`` keeps), or None.
    """
    name = str(Path(spec).expanduser())
    if "#" in spec or not name.lower().endswith(".jsonl") or not Path(name).is_file():
        logger.info("%s: read by the Python reader (not a plain local .jsonl file)", spec)
        return None
    writer = ArrowWriter(features=EXAMPLE_FEATURES, path=path)
    try:
        firsts = _write(name, options, columns, writer)
        writer.finalize()
    except Exception as why:  # noqa: BLE001 - whatever the fast path trips on, the Python reader decides
        logger.info("%s: read by the Python reader (%s)", name, why if isinstance(why, _Fallback) else repr(why))
        return None
    finally:
        writer.close()
    logger.info("%s: read by the fast JSONL reader (pyarrow)", name)
    return Dataset.from_file(path), [Example(None, label=label, file=name, row=row)
                                     for row, label in sorted(firsts.values(), key=lambda f: f[0])]


def _write(name: str, options: ReadOptions, columns: dict[str, str], writer: ArrowWriter) -> dict:
    if codecs.lookup(options.encoding).name not in ("utf-8", "utf-8-sig"):  # LookupError: falls back too
        raise _Fallback(f"encoding {options.encoding}")
    sep, limit = label_separator(options.label_sep, name), options.max_row_chars
    firsts: dict = {}  # (type, raw label) -> (row, parsed label) of its first row
    lines = 0
    with open(name, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            if not chunk.endswith(b"\n"):  # whole lines only; one of ``limit`` characters has at most 4 * limit bytes
                chunk += (tail := f.readline(4 * limit + 8))
                if len(tail) == 4 * limit + 8 and not tail.endswith(b"\n"):
                    raise _Fallback("a line longer than --max_row_chars")
            table = _parse(chunk, limit)
            rows = _row_numbers(chunk, lines, table.num_rows)
            lines += chunk.count(b"\n")
            writer.write_table(_examples(table, rows, name, columns, sep, limit, firsts))
    if not firsts:
        raise _Fallback("no rows")
    return firsts


def _parse(chunk: bytes, limit: int) -> pa.Table:
    if chunk.startswith(codecs.BOM_UTF8):  # pyarrow skips one there; inside a file the Python reader refuses it
        raise _Fallback("a byte order mark")
    if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"):
        raise _Fallback("a line break that is a lone CR")  # Python's reader splits lines there, pyarrow does not
    if _HUGE_INT in chunk.translate(_DIGITS):  # bytes methods: a regular expression is 10x slower here
        raise _Fallback("an integer of 4300+ digits")
    if len(chunk) > limit and max(map(len, chunk.split(b"\n"))) > limit:
        raise _Fallback("a line longer than --max_row_chars")
    try:
        chunk.decode("utf-8")  # pyarrow does not check the bytes inside strings
        table = pj.read_json(io.BytesIO(chunk), read_options=pj.ReadOptions(block_size=len(chunk) + 1))
    except (UnicodeDecodeError, pa.ArrowException) as exc:
        raise _Fallback(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    level = table.schema.types
    for _ in range(_MAX_DEPTH):
        level = [t.field(i).type for t in level for i in range(t.num_fields)]
    if level:
        raise _Fallback("deeply nested values")
    return table


def _row_numbers(chunk: bytes, before: int, count: int) -> np.ndarray:
    """1-based line numbers of the chunk's rows; the chunk starts after line ``before``."""
    squeezed = chunk.translate(None, b" \t\r")  # pyarrow skips lines of spaces, tabs and CRs, as Python's reader does
    rows = np.arange(before + 1, before + 1 + chunk.count(b"\n") + (not chunk.endswith(b"\n")))
    if squeezed[:1] == b"\n" or b"\n\n" in squeezed or (not chunk.endswith(b"\n") and squeezed[-1:] in (b"", b"\n")):
        rows = np.array([i for i, line in enumerate(squeezed.split(b"\n"), start=before + 1) if line])
    if len(rows) != count:  # e.g. two objects on one line, which the Python reader refuses
        raise _Fallback("rows and lines differ")
    return rows


def _examples(table: pa.Table, rows: np.ndarray, name: str, columns: dict[str, str], sep, limit: int,
              firsts: dict) -> pa.Table:
    mapped: dict[str, str] = {}  # field -> the column that fills it, as mapped_fields renames
    for col in table.column_names:
        if (target := columns.get(col, col)) in mapped:
            raise _Fallback(f"columns '{mapped[target]}' and '{col}' both fill '{target}'")
        if target != "ignore":
            mapped[target] = col
    for src, target in columns.items():  # mapped_fields' check of a --columns source missing from a row
        if target != "ignore" and (src not in table.column_names or table[src].null_count) and any(
                k in table.column_names and columns.get(k, k) == k for k in DEFAULT_FIELDS.get(target, (target,))):
            raise _Fallback(f"--columns source '{src}' is missing from some rows")
    if "messages" in mapped or "images" in mapped:
        raise _Fallback("messages or images")
    text, pair = _strings(table, mapped, TEXT_KEYS, nulls=False), _strings(table, mapped, PAIR_KEYS, nulls=True)
    if (pc.max(pc.add(pc.utf8_length(text), pc.fill_null(pc.utf8_length(pair), 0))).as_py() or 0) > limit:
        raise _Fallback("a row longer than --max_row_chars")
    label, key = _labels(_column(table, mapped, LABEL_KEYS, nulls=False), rows, name, sep, firsts)
    n = table.num_rows
    return pa.table({"text": text, "text_pair": pair, "messages": pa.nulls(n, pa.string()), "label": label,
                     "label_key": key, "images": pa.ListArray.from_arrays(np.zeros(n + 1, np.int32), pa.array(
                         [], pa.string())), "file": pa.repeat(pa.scalar(name), n), "row": pa.array(rows, pa.int64())})


def _column(table: pa.Table, mapped: dict[str, str], keys: tuple[str, ...], nulls: bool) -> pa.ChunkedArray:
    """The column ``_first(fields, keys)`` reads in every row (all nulls when no row has one of ``keys``); a null is a
    missing key (where a later key of ``keys`` fills the field) or a JSON null: only fine alone."""
    found = [mapped[k] for k in keys if k in mapped]
    column = table[found[0]] if found else pa.chunked_array([pa.nulls(table.num_rows)])
    if column.null_count and (not nulls or len(found) > 1):
        raise _Fallback(f"nulls or missing values in {found[:1] or keys}")
    return column


def _strings(table: pa.Table, mapped: dict[str, str], keys: tuple[str, ...], nulls: bool) -> pa.ChunkedArray:
    column = _column(table, mapped, keys, nulls)
    if pa.types.is_null(column.type):
        return column.cast(pa.string())
    if not pa.types.is_string(column.type):
        raise _Fallback(f"a {column.type} text column")
    if pc.all(pc.match_substring_regex(column, _NONSPACE)).as_py() is False:
        raise _Fallback("an empty or blank text")
    return column


def _labels(column: pa.ChunkedArray, rows: np.ndarray, name: str, sep, firsts: dict) -> tuple[pa.Array, pa.Array]:
    """The label JSON and label key columns, each distinct raw label parsed once by ``parse_label``."""
    if pa.types.is_floating(column.type):
        # JSON 1 and 1.0 are different labels, and pyarrow reads both as 1.0: only non-integral floats are sure.
        if pc.any(pc.equal(pc.floor(column), column)).as_py():
            raise _Fallback("a float label column with integral values")
    elif not any(check(column.type) for check in (pa.types.is_string, pa.types.is_int64, pa.types.is_boolean)):
        raise _Fallback(f"a {column.type} label column")
    encoded = column.combine_chunks().dictionary_encode()
    first = np.unique(encoded.indices.to_numpy(), return_index=True)[1]  # indices number values in order of first use
    labels, keys = [], []
    for raw, at in zip(encoded.dictionary.to_pylist(), first):
        parsed = parse_label(raw, {"file": name, "row": int(rows[at])}, sep)  # a DataError: the Python reader's turn
        firsts.setdefault((type(raw).__name__, raw), (int(rows[at]), parsed))
        labels.append(json.dumps(list(parsed), ensure_ascii=False))
        keys.append(str(parsed[1]))
    return pa.array(labels, pa.string()).take(encoded.indices), pa.array(keys, pa.string()).take(encoded.indices)
