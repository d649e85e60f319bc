"""Every private or internal transformers name swiftcls relies on, behind one small public surface.

transformers is pinned to the minor range the suite was run with (requirements/base.txt). Its private
methods and internal modules change between minor releases without notice, so no other swiftcls module
touches them (tests/core/test_compat.py scans the package and fails otherwise). Each name below has a test
in tests/core/test_compat.py that exercises it against the installed transformers: after an upgrade, run
that file first and it names exactly which internal moved. DEVELOPERS.md describes the upgrade steps.

Public transformers API (names exported by ``transformers`` itself, the model classes under
``transformers.models``, ``transformers.modeling_outputs``) is used directly everywhere else.

Not here on purpose: ``models/pooling.install_pooled_forward`` replaces ``forward`` on a model instance. That
uses no transformers internal; it relies on ``Module.__call__`` and PEFT calling the instance's ``forward``,
which tests/models/test_modeling.py checks with a spy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from transformers import AttentionInterface, AttentionMaskInterface, PretrainedConfig, Trainer
from transformers import conversion_mapping as _conversion
from transformers.trainer_pt_utils import get_length_grouped_indices as _length_grouped_indices
from transformers.trainer_utils import rotate_checkpoints as _rotate_checkpoints

# ---------------------------------------------------------------------------------------------------------------
# Trainer: checkpoint saving and input preparation


class HookedTrainer(Trainer):
    """``transformers.Trainer`` with public names for the private hooks swiftcls needs.

    Subclasses override :meth:`write_checkpoint` instead of the private ``Trainer._save_checkpoint``,
    :meth:`train_sampler` instead of ``Trainer._get_train_sampler`` and :meth:`eval_sampler` instead of
    ``Trainer._get_eval_sampler``, and call :meth:`hf_save_checkpoint`, :meth:`hf_train_sampler`,
    :meth:`hf_eval_sampler`, :meth:`run_output_dir`, :meth:`output_dir_redirected` and :meth:`prepare_inputs`
    instead of the private methods they wrap.
    """

    def write_checkpoint(self, model: torch.nn.Module, trial: Any) -> None:
        """Write ``checkpoint-N`` for the current step; Trainer calls this at every save.

        The default is transformers' own save (:meth:`hf_save_checkpoint`).
        """
        self.hf_save_checkpoint(model, trial)

    def hf_save_checkpoint(self, model: torch.nn.Module, trial: Any) -> None:
        """transformers' ``Trainer._save_checkpoint``: ``<run dir>/checkpoint-N`` with weights, optimizer,
        scheduler, RNG and trainer state, then rotation of old checkpoints in the run dir."""
        super()._save_checkpoint(model, trial)

    def _save_checkpoint(self, model, trial):  # the private hook Trainer calls at every save
        self.write_checkpoint(model, trial)

    def train_sampler(self, train_dataset: Any) -> torch.utils.data.Sampler | None:
        """The sampler that orders the training rows; Trainer calls this when it builds the train dataloader.

        The default is transformers' own choice (:meth:`hf_train_sampler`).
        """
        return self.hf_train_sampler(train_dataset)

    def hf_train_sampler(self, train_dataset: Any) -> torch.utils.data.Sampler | None:
        """transformers' ``Trainer._get_train_sampler``: the sampler ``--train_sampling_strategy`` names."""
        return super()._get_train_sampler(train_dataset)

    def _get_train_sampler(self, train_dataset=None):  # the private hook Trainer calls for the train dataloader
        return self.train_sampler(self.train_dataset if train_dataset is None else train_dataset)

    def eval_sampler(self, eval_dataset: Any) -> torch.utils.data.Sampler | None:
        """The sampler that orders evaluation rows; Trainer calls this when it builds an eval dataloader.

        The default is transformers' own choice (:meth:`hf_eval_sampler`).
        """
        return self.hf_eval_sampler(eval_dataset)

    def hf_eval_sampler(self, eval_dataset: Any) -> torch.utils.data.Sampler | None:
        """transformers' ``Trainer._get_eval_sampler`` (length-grouped with ``group_by_length``, else in order)."""
        return super()._get_eval_sampler(eval_dataset)

    def _get_eval_sampler(self, eval_dataset):  # the private hook Trainer calls for eval dataloaders
        return self.eval_sampler(eval_dataset)

    def run_output_dir(self, trial: Any = None) -> str:
        """The folder this run's ``checkpoint-N`` folders go to (``output_dir``; per trial in a search)."""
        return self._get_output_dir(trial=trial)

    @contextlib.contextmanager
    def output_dir_redirected(self, folder: str) -> Iterator[None]:
        """While open, :meth:`hf_save_checkpoint` writes ``<folder>/checkpoint-N`` instead of the run dir."""
        self._get_output_dir = lambda trial=None: folder  # an instance attribute shadows the method
        try:
            yield
        finally:
            del self._get_output_dir

    def prepare_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Trainer's ``_prepare_inputs``: tensors moved to the training device (and DeepSpeed's dtype)."""
        return self._prepare_inputs(inputs)


def rotate_checkpoints(run_dir: str, save_total_limit: int | None, best_model_checkpoint: str | None) -> None:
    """Delete the oldest ``checkpoint-N`` folders in ``run_dir`` beyond ``save_total_limit`` (by mtime).

    The best checkpoint is always kept; ``save_total_limit`` None keeps everything.
    """
    _rotate_checkpoints(run_dir, save_total_limit, best_model_checkpoint, use_mtime=True)


def length_grouped_indices(lengths: list[int], batch_size: int, generator: torch.Generator) -> list[int]:
    """transformers' ``group_by_length`` order: a random permutation (drawn from ``generator``) cut into
    mega-batches, each sorted by length, longest batch first. Same generator state, same order."""
    return _length_grouped_indices(lengths, batch_size, generator=generator)


# ---------------------------------------------------------------------------------------------------------------
# Attention: the implementation a model runs, and transformers' own sdpa functions


def attn_implementation(config: PretrainedConfig) -> str | None:
    """The attention implementation a loaded model runs (``sdpa``, ``eager``, ``flash_attention_2``, ...).

    ``from_pretrained``/``set_attn_implementation`` set it; transformers exposes it only as
    ``config._attn_implementation``.
    """
    return getattr(config, "_attn_implementation", None) or None


def sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs) -> tuple[torch.Tensor, None]:
    """transformers' ``sdpa`` attention function (``[B, H, T, D]`` in, ``([B, T, H, D], None)`` out, GQA aware)."""
    return AttentionInterface()["sdpa"](module, query, key, value, attention_mask, **kwargs)


def sdpa_mask(*args, **kwargs) -> torch.Tensor | None:
    """transformers' mask builder for ``sdpa`` (boolean ``[B, 1, Q, KV]``, None when causality alone suffices).

    Takes whatever transformers' ``create_causal_mask`` passes to a registered mask function.
    """
    return AttentionMaskInterface()["sdpa"](*args, **kwargs)


def register_attention(name: str, forward: Callable, mask: Callable) -> None:
    """Make ``attn_implementation=name`` usable: ``forward`` computes attention, ``mask`` builds its mask."""
    AttentionInterface.register(name, forward)
    AttentionMaskInterface.register(name, mask)


# ---------------------------------------------------------------------------------------------------------------
# Checkpoint key conversions (renamed weights in older or foreign checkpoint layouts)


def key_renaming(source_pattern: str, target_pattern: str):
    """A rule renaming checkpoint keys that match the regex ``source_pattern`` (``target_pattern`` replaces it)."""
    return _conversion.WeightRenaming(source_patterns=source_pattern, target_patterns=target_pattern)


def checkpoint_key_renames(class_name: str) -> list | None:
    """The key conversions transformers applies when loading a checkpoint into ``class_name`` (None: none)."""
    return _conversion.get_checkpoint_conversion_mapping(class_name)


def register_checkpoint_key_renames(class_name: str, renames: list) -> None:
    """Apply ``renames`` (from :func:`key_renaming` or :func:`checkpoint_key_renames`) when loading ``class_name``."""
    _conversion.register_checkpoint_conversion_mapping(class_name, renames)
