"""A full disk while writing a checkpoint: one clear error instead of torch's ``unexpected pos``.

torch reports a full disk during ``torch.save`` as ``RuntimeError: [enforce fail at inline_container.cc:672]
unexpected pos ...`` (or ``file write failed``), safetensors as ``SafetensorError: ... No space left on device (os
error 28)``, plain writes as ``OSError(ENOSPC)``. :func:`disk_full_reported` turns each of them into a
:class:`~swiftcls.core.errors.StorageError` that names the folder, how much the write needs, and the last good
checkpoint, after removing the half-written staging folder (which frees its space too).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable, Iterator

from ..core.errors import StorageError, SwiftClsError

_FULL = (errno.ENOSPC, errno.EDQUOT)
# Lower-cased texts of a failed write: the OS's, Rust's (safetensors), and torch's zip stream writer.
_FULL_TEXTS = ("no space left on device", "os error 28", "disk quota exceeded", "os error 122")
_TORCH_WRITE_TEXTS = ("unexpected pos", "file write failed")


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` (or an exception it was raised from) is a write that failed for lack of space."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        text = str(err).lower()
        if isinstance(err, OSError) and err.errno in _FULL or any(t in text for t in _FULL_TEXTS):
            return True
        if isinstance(err, RuntimeError) and any(t in text for t in _TORCH_WRITE_TEXTS):
            return True
        err = err.__cause__ or err.__context__
    return False


def _numel(param) -> int:
    return getattr(param, "ds_numel", None) or param.numel()  # ZeRO-3 partitions hold the full size in ds_numel


def state_sizes(model, optimizer=None) -> dict[str, int]:
    """Bytes a checkpoint of ``model`` (and ``optimizer``) takes: the saved weights and the optimizer state.

    LoRA checkpoints hold only the trainable weights; full ones every weight. The optimizer state is the size of
    its tensors, or two float32 moments per trainable weight (Adam) when it holds none yet or is sharded away.
    """
    params = list(model.parameters())
    trainable = [p for p in params if p.requires_grad]
    saved = trainable if hasattr(model, "peft_config") else params
    sizes = {"weights": sum(_numel(p) * p.element_size() for p in saved)}
    if optimizer is not None:
        state = getattr(optimizer, "state", None) or {}
        held = sum(t.numel() * t.element_size() for s in state.values() for t in s.values()
                   if hasattr(t, "element_size"))
        sizes["optimizer state"] = held or 8 * sum(_numel(p) for p in trainable)
    return sizes


def _folder_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(root, name)) for root, _dirs, files in os.walk(folder) for name in files)


def human(size: float) -> str:
    """``1536`` -> ``1.5 KB``."""
    units = ["B", "KB", "MB", "GB"]
    while size >= 1024 and len(units) > 1:
        size, units = size / 1024, units[1:]
    return f"{size:.0f} B" if units[0] == "B" else f"{size:.1f} {units[0]}"


@contextlib.contextmanager
def disk_full_reported(folder: str, what: str, sizes: Callable[[], dict[str, int]], last_good: Callable[[], str | None],
                       partial: str | None = None) -> Iterator[None]:
    """Re-raise a failed write of ``what`` into ``folder`` for lack of space as a one-line :class:`StorageError`.

    Args:
        folder: The output folder (its filesystem is the full one).
        what: What was being written (``checkpoint-8``).
        sizes: Returns the bytes the write needs, by part (:func:`state_sizes`); the files beyond those (tokenizer,
            config, ...) are counted as the last good checkpoint has them.
        last_good: Returns the newest complete checkpoint, or None.
        partial: The staging folder of the failed write; it is removed, so nothing half-written is left.
    """
    try:
        yield
    except SwiftClsError:
        raise
    except Exception as err:
        if not is_disk_full(err):
            raise
        if partial:
            shutil.rmtree(partial, ignore_errors=True)
        parts, last = sizes(), last_good()
        if last and (extra := _folder_bytes(last) - sum(parts.values())) > 0:
            parts["other files"] = extra  # tokenizer, config, RNG and trainer state: as much as the last checkpoint
        try:
            free = f"{human(shutil.disk_usage(folder).free)} free"
        except OSError:
            free = "free space unknown"
        intact = (f"the last good checkpoint {last} is intact; free some space (or lower --save_total_limit) and "
                  "rerun with --resume_from_checkpoint true" if last else
                  "no checkpoint was saved before this one; free some space and rerun")
        cause = " ".join(str(err).split())[:120]  # one line, whatever the library put in its message
        raise StorageError(
            f"no space left on {folder} while writing {what}: it needs about {human(sum(parts.values()))} ("
            + " + ".join(f"{name} {human(n)}" for name, n in parts.items())
            + f"), {free}; {intact}. ({type(err).__name__}: {cause})") from err
