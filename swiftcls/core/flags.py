"""The words of flag and config-key errors, shared by the full parser (``swiftcls.config.parser``) and the CLI's
light pre-check (``swiftcls.cli.precheck``), so that both say the same thing with the same suggestion; and the
rewording of errors for Python callers (:func:`in_python_words`), who pass arguments, not ``--flags``."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

import yaml

from .errors import ConfigError, SwiftClsError


def suggest(name: str, spellings: Iterable[str], prog: str) -> str:
    """`` Did you mean --a, --b?`` for the flags closest to ``name`` (one spelling per flag: the dash-free one),
    else a pointer to ``--help``."""
    candidates = [option for option in spellings if "-" not in option[2:]]
    close = difflib.get_close_matches("--" + name.lstrip("-").replace("-", "_"), candidates, n=3)
    return f" Did you mean {', '.join(close)}?" if close else f" See {prog} --help."


def unknown_flag(flag: str, spellings: Iterable[str], prog: str) -> ConfigError:
    """The error for a command-line flag ``prog`` does not have."""
    return ConfigError(f"unknown flag {flag} for '{prog}'.{suggest(flag, spellings, prog)}")


def unknown_key(source: str, key: str, spellings: Iterable[str], prog: str) -> ConfigError:
    """The error for a config key (``source``: ``--config x.yaml``) that is no flag of ``prog``."""
    return ConfigError(f"{source}: unknown key '{key}'.{suggest(key, spellings, prog)}")


def unreadable_config(path: str, err: Exception) -> ConfigError:
    """The error for a ``--config`` file that cannot be read or parsed."""
    return ConfigError(f"--config {path}: cannot read it ({err}). Fix: pass an existing YAML file.")


def not_a_mapping(path: str, loaded: object) -> ConfigError:
    """The error for a ``--config`` file whose YAML is not a mapping of flag: value."""
    return ConfigError(f"--config {path}: expected a mapping of flag: value, got {type(loaded).__name__}. Fix: "
                       "write one 'flag: value' per line.")


def read_config(path: str) -> dict:
    """The mapping a ``--config`` YAML file holds (empty for an empty file).

    Raises:
        ConfigError: the file cannot be read or parsed, or does not hold a mapping.
    """
    try:
        with open(path, encoding="utf-8") as f:
            loaded = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as err:
        raise unreadable_config(path, err) from err
    if not isinstance(loaded, dict):
        raise not_a_mapping(path, loaded)
    return loaded


def in_python_words(err: SwiftClsError, values: dict[str, Any], names: dict[str, str] | None = None) -> SwiftClsError:
    """``err`` reworded for a Python caller, who passed ``values`` as arguments, not flags: ``--model ./x`` becomes
    ``model='./x'`` (``names`` renames an option to the caller's parameter, e.g. ``{"model": "path"}``), any other
    ``--option`` of ``values`` becomes ``option``. The exception is changed in place (type and attributes kept,
    so the caller re-raises it) and returned.
    """
    names = names or {}
    message = str(err)
    for option, value in values.items():
        shown = names.get(option, option)
        if value is not None and not isinstance(value, (list, dict)):
            message = message.replace(f"--{option} {value}", f"{shown}={value!r}")
        message = re.sub(rf"--{re.escape(option)}\b(?![-\w])", shown, message)
    err.args = (message, *err.args[1:])
    return err
