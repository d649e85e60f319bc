"""Errors that swiftcls raises for things the user can fix."""

from __future__ import annotations


class SwiftClsError(Exception):
    """Base class for every error swiftcls reports to the user (bad input, bad flags)."""


class DataError(SwiftClsError):
    """A problem with one row (or the whole file) of a dataset.

    The message always names the file, the row/line, the field and how to fix it, so the
    user can go straight to the offending line.

    Args:
        message: What is wrong.
        file: The data file (or dataset name).
        row: 1-based line number for text files (JSONL/CSV/TSV), 0-based index for JSON
            arrays and parquet; None when the problem concerns the whole file.
        field: The field/column at fault, when there is one.
        fix: A hint on how to fix the problem.
    """

    def __init__(self, message: str, file: str | None = None, row: int | None = None,
                 field: str | None = None, fix: str | None = None):
        self.reason, self.file, self.row, self.field, self.fix = message, file, row, field, fix
        where = file or "<data>"
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field '{field}'"
        text = f"{where}: {message}"
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)


class ConfigError(SwiftClsError):
    """Bad or contradicting command-line flags / config values."""


class StorageError(SwiftClsError):
    """A write the disk refused (no space left, quota): names the folder, the size needed and what is intact."""
