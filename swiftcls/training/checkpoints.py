"""Crash-safe checkpoints: write into ``tmp-checkpoint-N``, then rename to ``checkpoint-N``.

transformers' Trainer writes ``checkpoint-N`` in place, so a kill during a save leaves a folder that looks
like a checkpoint but lacks files. Here a checkpoint only gets its final name by one ``os.replace`` after
every file in it was written and flushed: a ``checkpoint-N`` folder is always complete, and a leftover
``tmp-checkpoint-N`` is a save that was interrupted and is removed on the next start.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

from ..core.compat import rotate_checkpoints
from ..core.errors import ConfigError
from ..core.files import normal_file_modes
from .storage import disk_full_reported, state_sizes

logger = logging.getLogger(__name__)

PREFIX = "checkpoint"
STAGING = "tmp-"
_NAME = re.compile(rf"^{PREFIX}-(\d+)$")


def checkpoints(output_dir: str) -> list[str]:
    """Every published ``checkpoint-N`` folder in ``output_dir``, oldest step first."""
    if not os.path.isdir(output_dir):
        return []
    found = [(int(m.group(1)), os.path.join(output_dir, name)) for name in os.listdir(output_dir)
             if (m := _NAME.match(name)) and os.path.isdir(os.path.join(output_dir, name))]
    return [path for _, path in sorted(found)]


def resumable(output_dir: str) -> str | None:
    """The newest checkpoint that training can resume from (it holds ``trainer_state.json``).

    Final model-only folders (written when training ends between saves) and checkpoints written by other
    tools in place are skipped with a warning rather than resumed from.
    """
    for path in reversed(checkpoints(output_dir)):
        if os.path.isfile(os.path.join(path, "trainer_state.json")):
            return path
        logger.warning("%s has no trainer_state.json (not a resumable checkpoint); looking at older ones.", path)
    return None


def remove_stale(output_dir: str) -> list[str]:
    """Delete ``tmp-*`` folders left by a save that was killed; returns what was removed.

    A ``tmp-old-checkpoint-N`` whose replacement never got published is the only copy of a finished
    checkpoint, so it is renamed back instead.
    """
    removed = []
    for path in sorted(Path(output_dir).glob(f"{STAGING}*{PREFIX}-*")) if os.path.isdir(output_dir) else ():
        original = path.parent / path.name[len(f"{STAGING}old-"):]
        if path.name.startswith(f"{STAGING}old-") and not original.exists():
            os.replace(path, original)
            continue
        logger.warning("Removing %s: a checkpoint save that never finished (the process was killed).", path)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(str(path))
    return removed


def _fsync_tree(folder: str) -> None:
    """Flush every file (and the folder entries) to disk so a power loss cannot publish empty files."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(root)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not every platform lets folders be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def publish(staged: str, final: str) -> None:
    """Give the fully written folder ``staged`` its final name ``final`` in one rename.

    An existing ``final`` (a resumed run saving the same step again) is first moved aside and deleted
    only after the new folder is in place.
    """
    normal_file_modes(staged)  # safetensors writes 0600
    _fsync_tree(staged)
    old = None
    if os.path.exists(final):
        old = os.path.join(os.path.dirname(final), f"{STAGING}old-{os.path.basename(final)}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(staged, final)
    _fsync_dir(os.path.dirname(final) or ".")
    if old:
        shutil.rmtree(old, ignore_errors=True)


def staging_dir(final: str) -> str:
    """The temporary sibling a checkpoint is written into before ``publish``."""
    return os.path.join(os.path.dirname(final), STAGING + os.path.basename(final))


def save_atomically(trainer, model, trial) -> None:
    """Run transformers' own checkpoint save into a staging folder, then publish it.

    ``trainer.hf_save_checkpoint`` writes ``<run dir>/checkpoint-N``; its run dir is redirected to
    ``<run dir>/tmp-checkpoint-N`` for the call, so the files land in ``tmp-checkpoint-N/checkpoint-N``.
    Afterwards the best-checkpoint path is corrected, callbacks with a ``write_into(folder)`` method add their
    files, the folder is renamed to ``<run dir>/checkpoint-N`` and old checkpoints are rotated (which the save
    could not do from inside the staging folder).

    Args:
        trainer: A :class:`~swiftcls.core.compat.HookedTrainer`.
        model: The model Trainer passes to its checkpoint hook.
        trial: The hyperparameter-search trial (None outside a search).
    """
    run_dir = trainer.run_output_dir(trial)
    name = f"{PREFIX}-{trainer.state.global_step}"
    final, root = os.path.join(run_dir, name), staging_dir(os.path.join(run_dir, name))
    staged = os.path.join(root, name)  # a stale one from a killed run was removed by remove_stale at start
    # A full disk: the staging folder goes, the published checkpoints stay, and the error says so.
    with disk_full_reported(run_dir, name, lambda: state_sizes(trainer.model, trainer.optimizer),
                            lambda: resumable(run_dir), partial=root):
        _save_staged(trainer, model, trial, run_dir, root, staged, final)


def _save_staged(trainer, model, trial, run_dir: str, root: str, staged: str, final: str) -> None:
    with trainer.output_dir_redirected(root):
        trainer.hf_save_checkpoint(model, trial)
    state = trainer.state
    if state.best_model_checkpoint and os.path.dirname(state.best_model_checkpoint) == root:
        state.best_model_checkpoint = os.path.join(run_dir, os.path.basename(state.best_model_checkpoint))
    trainer.accelerator.wait_for_everyone()  # every rank's files (RNG, optimizer shards) are in staging
    if trainer.args.should_save:
        state.save_to_json(os.path.join(staged, "trainer_state.json"))  # with the corrected best path
        for callback in trainer.callback_handler.callbacks:
            if hasattr(callback, "write_into"):
                callback.write_into(staged)
        publish(staged, final)
        shutil.rmtree(root, ignore_errors=True)
        rotate_checkpoints(run_dir, trainer.args.save_total_limit, state.best_model_checkpoint)
    trainer.accelerator.wait_for_everyone()


def resume_path(output_dir: str, resume: str | None) -> str | None:
    """The checkpoint ``--resume_from_checkpoint`` names ('true': the newest resumable one in ``output_dir``).

    Without the flag, an ``output_dir`` that already holds checkpoints is refused: training over them would
    rotate finished checkpoints away.
    """
    existing = checkpoints(output_dir)
    if resume in ("true", "True", "1"):
        latest = resumable(output_dir)
        if not latest:
            raise ConfigError(f"--resume_from_checkpoint true: no resumable checkpoint-* (one holding "
                              f"trainer_state.json) in {output_dir}; start without the flag or pass a path.")
        return latest
    if resume:
        if not os.path.isfile(os.path.join(resume, "trainer_state.json")):
            raise ConfigError(f"--resume_from_checkpoint {resume}: no such checkpoint folder (it must hold "
                              "trainer_state.json); pass a checkpoint-N folder or 'true' for the newest.")
        return resume
    if existing:
        raise ConfigError(f"{output_dir} already holds checkpoints {[os.path.basename(p) for p in existing]}; "
                          "pass --resume_from_checkpoint true to continue, or choose a new --output_dir "
                          "(swiftcls never overwrites finished checkpoints).")
    return None
