"""Checks of ``sft``'s ``--output_dir`` that run before anything heavy (model, tokenizer, data) is loaded."""

from __future__ import annotations

import json
import os
import tempfile

from ..core.errors import ConfigError

_FIX = "choose a new or empty --output_dir"


def _unfinished_run(folder: str) -> bool:
    """Whether ``folder`` holds a swiftcls run that has not finished: its ``args.json`` and no ``summary.json``."""
    try:
        with open(os.path.join(folder, "args.json"), encoding="utf-8") as f:
            args = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(args, dict) and "swiftcls_version" in args and not os.path.exists(
        os.path.join(folder, "summary.json"))


def _nearest_existing(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


def check_output_dir(output_dir: str, resume: str | None = None) -> None:
    """Refuse an ``--output_dir`` that ``sft`` could not write, or whose files it would overwrite.

    Accepted: a folder that does not exist yet (its nearest existing parent must be a writable folder), an empty
    folder (hidden files such as ``.gitkeep`` aside), a swiftcls run that has not finished (re-running the same
    command, e.g. after a crash before the first checkpoint; checkpoints in it still need
    ``--resume_from_checkpoint``), or any folder with ``--resume_from_checkpoint``.

    Raises:
        ConfigError: ``output_dir`` (or a parent) is a file, is not writable, or holds other files or a
            finished run.
    """
    existing = _nearest_existing(output_dir)
    if not os.path.isdir(existing):
        what = "is a file" if existing == os.path.abspath(output_dir) else f"cannot be created: {existing} is a file"
        raise ConfigError(f"--output_dir {output_dir} {what}. Fix: {_FIX}.")
    try:  # a real write: os.access ignores read-only mounts for root and ACLs
        fd, probe = tempfile.mkstemp(prefix=".swiftcls-write-test-", dir=existing)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise ConfigError(f"--output_dir {output_dir} is not writable ({existing}: {err.strerror}). Fix: {_FIX}, "
                          "or fix its permissions.") from None
    if existing != os.path.abspath(output_dir) or resume:
        return
    entries = sorted(name for name in os.listdir(output_dir) if not name.startswith("."))
    if not entries or _unfinished_run(output_dir):
        return
    what = "a finished swiftcls run" if "summary.json" in entries else "other files"
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    raise ConfigError(f"--output_dir {output_dir} already holds {what} ({shown}); swiftcls never overwrites them. "
                      f"Fix: {_FIX}, or pass --resume_from_checkpoint to continue a run there.")
