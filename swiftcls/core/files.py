"""File helpers shared by checkpoints and exports."""

from __future__ import annotations

import os
from pathlib import Path


def umask_mode() -> int:
    """The mode a new file gets here: 0o666 less the process umask (read by setting it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def normal_file_modes(folder: str | os.PathLike) -> None:
    """Give the ``*.safetensors`` files in ``folder`` the mode of any other file written here.

    ``safetensors`` writes its files with mode 0600 (through a private temporary file), so without this the weights
    of a checkpoint or an export are unreadable to the group and others while ``config.json`` beside them is not.
    """
    mode = umask_mode()
    for path in Path(folder).glob("*.safetensors"):
        if path.is_file() and not path.is_symlink():
            os.chmod(path, mode)
