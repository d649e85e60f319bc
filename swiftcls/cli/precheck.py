"""Checks of a command line that answer before torch and transformers are imported (which takes 30-60 s).

Unknown flags and ``--config`` keys, missing local data files and ``--model`` values that cannot resolve are reported
here, in the words and with the exit code (2) of the full checks, which run anyway afterwards: this is a fast path
for the common mistakes, not a second authority. The flags each command accepts come from ``flags.json``, generated
from the arguments classes (``python -m swiftcls.cli.precheck`` rewrites it; ``tests/cli/test_precheck.py`` fails
when it is stale).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

from ..core.errors import DataError
from ..core.flags import read_config, unknown_flag, unknown_key
from ..data.readers import SUPPORTED_SUFFIXES
from ..models.registry import check_model

FLAGS_FILE = Path(__file__).with_name("flags.json")
REGENERATE = "python -m swiftcls.cli.precheck"


@functools.cache
def known_flags() -> dict[str, dict[str, str]]:
    """Command -> every flag spelling it accepts -> the option it sets (the committed ``flags.json``)."""
    return json.loads(FLAGS_FILE.read_text(encoding="utf-8"))


def precheck(command: str, argv: list[str]) -> None:
    """Raise the error the full parser and loaders would raise for the first cheap-to-find mistake in ``argv``.

    Raises:
        ConfigError: an unknown flag or config key, an unreadable config, a ``--model`` that cannot resolve.
        DataError: a ``--dataset`` / ``--val_dataset`` file that does not exist.
    """
    if "-h" in argv or "--help" in argv:
        return  # the full parser prints the help
    prog, spellings = f"swiftcls {command}", known_flags()[command]
    values = _config_values(argv, spellings, prog)
    values.update(_flag_values(argv, spellings, prog))  # flags override the config, as in the full parser
    if values.get("model"):  # the model before the data, in the order the commands check them
        check_model(str(values["model"][0]))
    for option in ("dataset", "val_dataset"):
        for spec in values.get(option, []):
            _check_data_file(str(spec))


def _flag_values(argv: list[str], spellings: dict[str, str], prog: str) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = {}
    current: list[Any] | None = None
    for token in argv:
        if token.startswith("--"):
            name, eq, value = token.partition("=")
            if name not in spellings:
                raise unknown_flag(token, spellings, prog)
            current = values[spellings[name]] = [value] if eq else []
        elif current is not None:
            current.append(token)
    return values


def _config_values(argv: list[str], spellings: dict[str, str], prog: str) -> dict[str, list[Any]]:
    path = next((argv[i + 1] for i, token in enumerate(argv[:-1]) if token == "--config"), None)
    path = path or next((token.partition("=")[2] for token in argv if token.startswith("--config=")), None)
    if not path:
        return {}
    loaded = read_config(path)
    values = {}
    for key, value in loaded.items():
        option = "--" + str(key).lstrip("-")
        if option not in spellings:
            raise unknown_key(f"--config {path}", str(key), spellings, prog)
        if value is not None:
            values[spellings[option]] = value if isinstance(value, list) else [value]
    return values


def _check_data_file(spec: str) -> None:
    """A local data file (a supported suffix, as the readers decide) must exist; hub names are left alone."""
    name, _, count = spec.rpartition("#")
    name = name if name and count.isdigit() else spec
    if Path(name).suffix.lower() in SUPPORTED_SUFFIXES and not Path(name).expanduser().exists():
        raise DataError("file not found.", file=name, fix="check the path (relative paths start at the "
                        "current directory).")


def generate() -> dict[str, dict[str, str]]:
    """What ``flags.json`` must hold, read from the arguments classes (imports transformers)."""
    from ..config.parser import flag_spellings  # heavy: only to (re)generate the file
    from .table import COMMANDS, command_entry

    return {name: dict(sorted(flag_spellings(command_entry(name)[0]).items())) for name in COMMANDS}


if __name__ == "__main__":
    FLAGS_FILE.write_text(json.dumps(generate(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {FLAGS_FILE}", file=sys.stderr)
