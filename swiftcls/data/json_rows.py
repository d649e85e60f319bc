"""JSON parsing for the readers: objects with a key given twice are refused, and errors say what went wrong
(a BOM inside the file, a UTF-16/32 file read as UTF-8, over-long integers, deep nesting)."""

from __future__ import annotations

import json
from typing import Any

from ..core.errors import DataError


class DuplicateKey(ValueError):
    """A JSON object names the same key twice."""

    def __init__(self, key: str):
        super().__init__(f"duplicate key '{key}' in one object")
        self.key = key


def unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """``object_pairs_hook`` that refuses ``{"label": "a", "label": "b"}`` (json keeps the last one silently)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def utf16_guess(text: str) -> str | None:
    """The encoding a text that UTF-8 decoding filled with NUL characters was really in (ASCII as UTF-16/32)."""
    if "\x00" not in text[:64]:
        return None
    head = text.lstrip("\ufeff")[:4]
    if head[1:4] == "\x00\x00\x00" or head[:3] == "\x00\x00\x00":
        return "utf-32-be" if head[0] == "\x00" else "utf-32-le"
    return "utf-16-be" if head[:1] == "\x00" else "utf-16-le"


def json_error(name: str, row: int | None, exc: Exception, text: str, fix: str) -> DataError:
    """The DataError for ``exc`` raised parsing ``text`` (a line, or a whole ``.json`` file); ``fix`` is the
    default hint."""
    if isinstance(exc, DuplicateKey):
        return DataError(f"invalid JSON: {exc}.", file=name, row=row, field=exc.key,
                         fix="keep one value per key (json would silently keep the last one).")
    guess = utf16_guess(text)
    if guess:
        return DataError(f"invalid JSON: the text is full of NUL characters; the file looks {guess.upper()} encoded "
                         "(without a byte order mark), not UTF-8.", file=name, row=row, field="encoding",
                         fix=f"pass --encoding {guess} or convert it: `iconv -f {guess.upper()} -t UTF-8 in > out`.")
    return DataError(f"invalid JSON: {json_reason(exc)}", file=name, row=row,
                     fix=_BOM_FIX if "BOM" in str(exc) else fix)


_BOM_FIX = ("a byte order mark (U+FEFF) starts this line, typically left by concatenating files saved with "
            "a BOM; delete it (e.g. `sed -i 's/\\xEF\\xBB\\xBF//' FILE`).")


def json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        msg = "a UTF-8 byte order mark (BOM) inside the file" if "BOM" in exc.msg else exc.msg
        return f"{msg} (column {exc.colno})."
    if isinstance(exc, RecursionError):
        return "values nested too deeply to parse."
    return f"{exc}."  # e.g. an integer with more digits than Python converts
