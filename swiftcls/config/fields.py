"""``arg()``: a dataclass field that carries its command-line help (and aliases) for ``HfArgumentParser``."""

from __future__ import annotations

from dataclasses import field


def arg(default, help: str, aliases: tuple[str, ...] = ()):  # noqa: A002 - argparse's name for it
    """A dataclass field with ``--help`` text and extra flag spellings (``aliases``, e.g. SWIFT's old names).

    Mutable defaults (lists, dicts) get a ``default_factory``, so instances never share them.
    """
    metadata = {"help": help, **({"aliases": list(aliases)} if aliases else {})}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)
