"""Command lines and YAML configs into argument dataclasses, with ``HfArgumentParser``.

Each command's arguments class (e.g. :class:`~swiftcls.config.sft.SftArguments`) is built from mixins; the parser
gets one ``--help`` group per mixin, every flag shows its default, ``--flag_name`` and ``--flag-name`` both work,
unknown flags and config keys are errors with a close-match suggestion, and ``--config x.yaml`` supplies values
that flags on the command line override.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import json
import sys
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from transformers import HfArgumentParser

from ..core.errors import ConfigError
from ..core.flags import read_config, unknown_flag, unknown_key

T = TypeVar("T")


class ArgumentParser(HfArgumentParser):
    """``HfArgumentParser`` that raises :class:`ConfigError` instead of exiting (the CLI prints it and exits 2;
    Python callers get an exception) and accepts no abbreviated flags (``--lr`` is not ``--lr_scheduler_type``)."""

    def __init__(self, dataclass_types, **kwargs):
        super().__init__(dataclass_types, allow_abbrev=False, **kwargs)

    def error(self, message: str):
        raise ConfigError(f"{self.prog}: {message}")


@functools.cache
def help_groups(cls: type) -> tuple[type, ...]:
    """One dataclass per ``--help`` group of ``cls``, each holding the fields that group owns.

    A field belongs to the most specific titled mixin (one with its own ``_argument_group_name``) that declares or
    inherits it: ``TrainingArguments``' fields go to the training group. A name declared by two mixins (``data_seed``
    in both ``DataArguments`` and ``TrainingArguments``) is one field of ``cls`` and appears once, where the
    dataclass takes it from (the first class in the MRO).
    """
    hints = typing.get_type_hints(cls)
    titled = [c for c in cls.__mro__ if "_argument_group_name" in c.__dict__]
    grouped: dict[type, list[dataclasses.Field]] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        owner = next(c for c in cls.__mro__ if f.name in c.__dict__.get("__annotations__", {}))
        grouped.setdefault(next((t for t in titled if issubclass(t, owner)), cls), []).append(f)
    groups = []
    for group in sorted(grouped, key=lambda g: titled.index(g) if g in titled else len(titled)):
        specs = [(f.name, hints[f.name], _copy(f)) for f in grouped[group]]
        part = dataclasses.make_dataclass(group.__name__, specs)
        part._argument_group_name = group.__dict__.get("_argument_group_name", cls.__name__)
        groups.append(part)
    return tuple(groups)


def _copy(f: dataclasses.Field) -> dataclasses.Field:
    """A fresh field with ``f``'s default and metadata (a field object belongs to one class)."""
    default = {"default": f.default} if f.default is not dataclasses.MISSING else (
        {"default_factory": f.default_factory} if f.default_factory is not dataclasses.MISSING else {})
    return dataclasses.field(metadata=f.metadata, **default)


def build_parser(cls: type, prog: str = "swiftcls", description: str | None = None) -> ArgumentParser:
    """The parser of one command; ``--config`` is added on top of the dataclass flags."""
    parser = ArgumentParser(help_groups(cls), prog=prog, usage=f"{prog} [--config CONFIG.yaml] [--flag VALUE ...]",
                            description=description or (cls.__doc__ or "").strip())
    parser.add_argument("--config", help="YAML file of flag: value pairs; flags on the command line override it.")
    return parser


def flag_spellings(cls: type) -> dict[str, str]:
    """Every flag ``cls``'s parser accepts (``--flag_name``, ``--flag-name``, aliases, ``--no_flag``) -> the option."""
    spellings = {"--config": "config"}
    for group in help_groups(cls):
        for f in dataclasses.fields(group):
            names = [f.name, *(["no_" + f.name] if f.default is True else [])]
            for name in names:
                spellings.update({f"--{name}": f.name, f"--{name.replace('_', '-')}": f.name})
            spellings.update({alias: f.name for alias in f.metadata.get("aliases", ())})
    return spellings


def _config_argv(path: str, cls: type, prog: str) -> list[str]:
    """The flags a YAML config stands for, checked key by key like command-line flags."""
    return dict_to_argv(read_config(path), cls, f"--config {path}", prog)


def dict_to_argv(values: dict[str, Any], cls: type, source: str, prog: str = "swiftcls") -> list[str]:
    """``{"num_train_epochs": 1, "labels": ["a", "b"]}`` -> ``["--num_train_epochs", "1", "--labels", "a", "b"]``,
    so that config values go through the same types, choices and checks as flags."""
    flags, argv = flag_spellings(cls), []
    for key, value in values.items():
        option = "--" + str(key).lstrip("-")
        if option not in flags:
            raise unknown_key(source, str(key), flags, prog)
        if value is None:
            continue  # the flag's default
        items = value if isinstance(value, list) else [value]
        if not items:
            continue
        argv.append(option)
        for item in items:
            if isinstance(item, bool):
                argv.append("true" if item else "false")
            elif isinstance(item, dict):
                argv.append(json.dumps(item))
            else:
                argv.append(str(item))
    return argv


def parse_values(cls: type, argv: Sequence[str], prog: str = "swiftcls") -> dict[str, Any]:
    """The option values ``argv`` (flags, optionally ``--config x.yaml``) gives ``cls``, without building it (so
    without its side effects, e.g. ``--deepspeed`` setting up a process group).

    Raises:
        ConfigError: unknown or malformed flags or config keys.
    """
    parser = build_parser(cls, prog)
    argv = list(argv)
    config = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    config.add_argument("--config")
    known, rest = config.parse_known_args(argv)
    if known.config:
        argv = _config_argv(known.config, cls, prog) + rest
    namespace, unknown = parser.parse_known_args(argv)
    if unknown:
        flag = next((u for u in unknown if u.startswith("-")), unknown[0])
        if flag.startswith("-"):
            raise unknown_flag(flag, flag_spellings(cls), prog)
        raise ConfigError(f"unexpected value {flag!r} for '{prog}' (values follow their --flag).")
    values = vars(namespace)
    values.pop("config", None)
    values[_GIVEN] = _given(cls, argv)
    return values


# parse_values' key (not a flag name) for the options the command line or config file set.
_GIVEN = "\x00given"
# Attribute of a parsed arguments object holding those options (see given_flags).
GIVEN_ATTRIBUTE = "swiftcls_given_flags"


def _given(cls: type, argv: list[str]) -> frozenset[str]:
    """The options ``argv`` sets, a value equal to the default included (argparse keeps no record of it).

    ``argv`` has parsed without unknown flags, and the parser takes no abbreviations, so each ``--flag`` or
    ``--flag=value`` token is one of ``cls``'s spellings; a value never starts with one (argparse would have read it as
    a flag and failed).
    """
    spellings = flag_spellings(cls)
    return frozenset(spellings[name] for name in (token.partition("=")[0] for token in argv)
                     if name in spellings) - {"config"}


def _mark(obj: T, given) -> T:
    object.__setattr__(obj, GIVEN_ATTRIBUTE, frozenset(given))
    return obj


def given_flags(args) -> frozenset[str] | None:
    """The options set explicitly when ``args`` was built from flags, a config file or a dict (a value equal to its
    default included), or None for an instance built in Python, where only values differing from the defaults
    show a choice."""
    return getattr(args, GIVEN_ATTRIBUTE, None)


def parse_args(cls: type[T], argv: Sequence[str], prog: str = "swiftcls") -> T:
    """Parse ``argv`` (flags, optionally ``--config x.yaml``) into an instance of ``cls``.

    Raises:
        ConfigError: unknown or malformed flags / config keys, or values ``cls`` rejects.
    """
    values = parse_values(cls, argv, prog)
    given = values.pop(_GIVEN)
    return _mark(cls(**values), given)


def from_dict(cls: type[T], values: dict[str, Any]) -> T:
    """``cls(**values)``, with unknown names reported like unknown flags (with a suggestion)."""
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in values:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=3)
            raise ConfigError(f"{cls.__name__} has no option '{key}'." +
                              (f" Did you mean {', '.join(close)}?" if close else ""))
    return _mark(cls(**values), values)


def to_arguments(cls: type[T], args: T | Sequence[str] | dict | None, prog: str = "swiftcls") -> T:
    """``args`` as an instance of ``cls``: an instance already, command-line flags (``None``: this process's own),
    or a dict of option values."""
    if isinstance(args, cls):
        return args
    if isinstance(args, dict):
        return from_dict(cls, args)
    if args is None:
        args = sys.argv[1:]
    if isinstance(args, str):
        raise ConfigError(f"{prog}: pass a list of flags, a dict or a {cls.__name__}, not one string.")
    return parse_args(cls, args, prog)
