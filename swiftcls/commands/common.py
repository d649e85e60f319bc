"""Small helpers the commands share."""

from __future__ import annotations

from ..config.data import DataArguments
from ..data.readers import ReadOptions


def read_options(data_args: DataArguments) -> ReadOptions:
    """File-reading options from the data flags."""
    return ReadOptions(delimiter=data_args.delimiter, header=data_args.header, quoting=data_args.quoting,
                       encoding=data_args.encoding, max_row_chars=data_args.max_row_chars,
                       label_sep=data_args.label_sep)
