"""Data options: where rows come from and how they become model inputs (sft, infer, eval)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from ..core.errors import ConfigError
from .fields import arg


@dataclass
class DataArguments:
    """Where the data comes from and how rows become model inputs."""

    _argument_group_name = "Data"

    dataset: list[str] = arg([], "Data files (.jsonl/.json/.csv/.tsv/.parquet), dataset folders or hub datasets "
                                 "'name[:subset][@split][#N]' (split default train, e.g. glue:sst2@validation#500, "
                                 "data_dir@validation); 'file#N' samples N rows. Several are concatenated.")
    columns: str | None = arg(None, "JSON map from your column names to text/text_pair/label/messages/images/ignore, "
                                    "e.g. '{\"SMS\": \"text\", \"Label\": \"label\"}'. Header-less files use indices.")
    delimiter: str | None = arg(None, "CSV/TSV delimiter (default: ',' for .csv, tab for .tsv).")
    header: bool = arg(True, "Whether CSV/TSV files have a header row; false keys columns by index 0,1,...")
    quoting: Literal["auto", "csv", "none"] = arg("auto", "CSV quoting: auto (none for TSV, standard for CSV), csv "
                                                          "or none.")
    encoding: str = arg("utf-8-sig", "File encoding (utf-8-sig strips a BOM).")
    max_row_chars: int = arg(16_000_000, "A row with more characters of text than this is a bad row (an error, or "
                                         "skipped with --skip_bad_rows); below it, over-long rows are truncated to "
                                         "--max_length.")
    label_sep: str = arg("auto", "What separates several labels in one string label: auto (a comma in CSV/TSV "
                                 "cells; in JSON/JSONL/parquet a string with a comma is an error, write a list), "
                                 "none (never split), or the separator, e.g. '|'.")
    max_length: int = arg(512, "Maximum tokens per row (per window with --long_text chunk); longer rows are "
                               "truncated or chunked.")
    truncation_side: Literal["left", "right"] = arg("right", "Which side to cut when a row is too long (chunked "
                                                             "rows: which end the windows start from).")
    long_text: Literal["truncate", "chunk"] | None = arg(None, "Rows longer than --max_length: truncate them, or "
                                                               "chunk them into overlapping windows whose logits are "
                                                               "pooled per row (text and text_pair rows; see "
                                                               "docs/long_text.md). Default: truncate in sft, the "
                                                               "checkpoint's setting (args.json) in infer/eval.")
    chunk_stride: int = arg(32, "--long_text chunk: tokens consecutive windows share (overlap).")
    chunk_pooling: Literal["mean", "max"] = arg("mean", "--long_text chunk: how the windows' logits become the row's.")
    max_chunks: int = arg(32, "--long_text chunk: the most windows one row keeps; the rest of a longer row is cut "
                              "(with a warning), which bounds memory per row.")
    use_chat_template: bool | None = arg(None, "Wrap text in the tokenizer's chat template (default: the family "
                                               "template's setting, and only if the tokenizer has one).")
    system: str | None = arg(None, "System prompt added to chat-template prompts. Default: none, and a template "
                                   "that would insert its own default system prompt (SmolLM2, Qwen2.5) gets an "
                                   "empty system turn instead (lean prompts); 'default' keeps the template's "
                                   "default system prompt (what swiftcls did before). infer/eval: the training choice.")
    skip_bad_rows: bool = arg(False, "Skip bad rows and write a report of each, instead of stopping at the first.")
    max_pixels: int | None = arg(None, "Image pixel budget (multimodal models): larger images are downscaled to at "
                                       "most this many pixels (Qwen2-VL: one token per 28x28 pixels), e.g. 200704 = "
                                       "256 tokens. Default: $MAX_PIXELS (SWIFT's convention), else the checkpoint's "
                                       "image processor setting.")
    min_pixels: int | None = arg(None, "Smaller images are upscaled to at least this many pixels (multimodal models). "
                                       "Default: $MIN_PIXELS, else the checkpoint's image processor setting.")
    data_seed: int | None = arg(None, "Seed for 'file#N' sampling, the validation split and the order of training "
                                      "rows (default: --seed in sft, 42 in infer/eval).")

    def __post_init__(self):
        if isinstance(self.dataset, str):  # one file given in Python: dataset="train.jsonl"
            self.dataset = [self.dataset]
        if self.data_seed is None:
            self.data_seed = getattr(self, "seed", 42)  # sft has a --seed (TrainingArguments); infer/eval do not
        if self.max_length < 1:
            raise ConfigError(f"--max_length must be a positive number of tokens, got {self.max_length}.")
        if self.chunk_stride < 0 or self.max_chunks < 1:
            raise ConfigError(f"--chunk_stride must be >= 0 and --max_chunks >= 1, got {self.chunk_stride} and "
                              f"{self.max_chunks}.")
        if self.max_row_chars < 1:
            raise ConfigError(f"--max_row_chars must be a positive number of characters, got {self.max_row_chars}.")
        if not self.label_sep:
            raise ConfigError("--label_sep is empty; pass auto, none or a separator such as ','.")
        # SWIFT and qwen-vl-utils users set the pixel budget through the environment.
        for name in ("max_pixels", "min_pixels"):
            value = os.environ.get(name.upper())
            if getattr(self, name) is None and value:
                if not value.isdigit():
                    raise ConfigError(f"${name.upper()}={value!r}: expected a whole number of pixels, e.g. 200704.")
                setattr(self, name, int(value))
        parent = getattr(super(), "__post_init__", None)
        if parent:
            parent()


@dataclass
class DataPreparationArguments:
    """How ``swiftcls sft`` prepares its rows: processes, and the cache of prepared (Arrow) data."""

    _argument_group_name = "Data preparation"

    dataset_num_proc: int = arg(1, "Processes that tokenize the rows (datasets.map num_proc, as in "
                                   "ms-swift). Under torchrun one process per node prepares; the others wait and "
                                   "open its result.")
    load_from_cache_file: bool = arg(True, "Reuse prepared (validated, tokenized) rows from an earlier run on the same "
                                           "data files and settings; false prepares them afresh.")
    dataset_cache_dir: str | None = arg(None, "Where prepared rows are cached (Arrow files). Default: "
                                              "$HF_DATASETS_CACHE/swiftcls (~/.cache/huggingface/datasets/swiftcls).")

    def __post_init__(self):
        if self.dataset_num_proc < 1:
            raise ConfigError(f"--dataset_num_proc must be >= 1, got {self.dataset_num_proc}.")
        parent = getattr(super(), "__post_init__", None)
        if parent:
            parent()
