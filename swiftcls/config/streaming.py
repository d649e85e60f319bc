"""``swiftcls sft`` options for data that should not be encoded up front: ``--streaming`` and ``--lazy_tokenize``
(ms-swift's names; see docs/data.md)."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import ConfigError
from .fields import arg


@dataclass
class StreamingArguments:
    """How training rows are read and encoded: all up front (the default), streamed, or encoded per item."""

    _argument_group_name = "Streaming and lazy tokenization"

    streaming: bool = arg(False, "Read the training files as training consumes them (a torch IterableDataset): "
                                 "rows are validated, label-encoded and tokenized on the fly, so memory does not grow "
                                 "with the data. Needs --max_steps; validation rows come from --val_dataset.")
    shuffle_buffer_size: int = arg(1000, "--streaming: rows are shuffled within a buffer of this many rows (1: file "
                                         "order, as with --train_sampling_strategy sequential).")
    lazy_tokenize: bool | None = arg(None, "Keep the validated training rows unencoded and tokenize each one when the "
                                           "trainer asks for it, so training starts at once. Default: true when the "
                                           "training rows have images, false otherwise.")

    def __post_init__(self):
        if self.shuffle_buffer_size < 1:
            raise ConfigError(f"--shuffle_buffer_size must be >= 1 row, got {self.shuffle_buffer_size}.")
        parent = getattr(super(), "__post_init__", None)
        if parent:
            parent()

    def check_streaming(self) -> None:
        """What ``--streaming`` and ``--lazy_tokenize`` cannot do, said before any data is read. Called by
        ``SftArguments`` once the training flags are settled."""
        if self.lazy_tokenize and self.train_sampling_strategy == "group_by_length":
            raise ConfigError("--train_sampling_strategy group_by_length needs every row's token count up front, "
                              "which --lazy_tokenize true does not compute; use random or sequential, or drop "
                              "--lazy_tokenize.")
        if not self.streaming:
            return
        if self.max_steps is None or self.max_steps <= 0:
            raise ConfigError("--streaming true reads the data as training goes, so the number of steps is not known "
                              "up front: pass --max_steps N.")
        if self.split_dataset_ratio > 0:
            raise ConfigError("--split_dataset_ratio cannot hold rows out of a stream (a stratified split needs every "
                              "row); pass the validation rows as --val_dataset FILE.")
        if self.class_weights == "auto":
            raise ConfigError("--class_weights auto counts every training row's label, which --streaming does not "
                              "hold; pass the weights, e.g. --class_weights 1.0,3.5.")
        if self.train_sampling_strategy == "group_by_length":
            raise ConfigError("--train_sampling_strategy group_by_length needs every row's length up front; with "
                              "--streaming use random (a --shuffle_buffer_size buffer) or sequential.")
        if self.lazy_tokenize:
            raise ConfigError("--streaming already tokenizes rows as they are used; drop --lazy_tokenize.")
        if self.task != "seq_cls":
            raise ConfigError(f"--streaming reads single rows; --task {self.task} needs whole groups (pairs, "
                              "queries) read up front. Drop --streaming.")
