"""``swiftcls sft``'s classification rows on Arrow: read and validated once into memory-mapped files, labels encoded
and rows tokenized with ``datasets.map(batched=True, num_proc=--dataset_num_proc)``, all of it cached.

Two cached stages, each a folder under ``--dataset_cache_dir`` (default ``$HF_DATASETS_CACHE/swiftcls``):

- ``rows-<key>``: the validated rows with encoded labels (train and validation), the label space and the rows
  skipped while reading. The key covers the data files (path, size, modification time), the reading options,
  ``--columns``, the labels flags, the split and the swiftcls version.
- ``tokens-<key>``: the token ids (int32 columns) and a length column. The key adds the tokenizer's files, the family
  spec and every prompt setting (``--max_length``, template, ``--system``, ``--prompt``, ``--long_text`` and chunking).

Under torchrun, the caller runs each stage inside ``main_process_first(local=True)``: one process per node builds,
the others find the finished folder and only open it.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from datasets import Dataset

from ..config.sft import SftArguments
from ..core.errors import ConfigError, DataError
from ..core.labels import REGRESSION, LabelSpace, read_label_names
from ..core.version import __version__
from ..data.arrow import ERROR, ArrowRows, error_from, error_json, has_images, write_examples
from ..data.cache import Prepared, data_signature, default_root, digest, files_of, open_files, tokenizer_signature
from ..data.dataset import check_usable, parse_columns
from ..data.fast_jsonl import write_rows
from ..data.prepare import LabelSummary, encode_labels, split_indices, take_errors, tokenize
from .common import read_options

logger = logging.getLogger(__name__)


def _root(args: SftArguments) -> str:
    return args.dataset_cache_dir or default_root()


def rows_key(args: SftArguments) -> str | None:
    """The cache key of the validated rows, or None when they cannot be fingerprinted (hub data) or caching is off."""
    files = data_signature(list(args.dataset) + list(args.val_dataset))
    if files is None or not args.load_from_cache_file:
        return None
    return digest({"files": files, "options": dataclasses.asdict(read_options(args)), "columns": args.columns,
                   "skip_bad_rows": args.skip_bad_rows, "seed": args.data_seed, "split": args.split_dataset_ratio,
                   "problem_type": args.problem_type, "num_labels": args.num_labels,
                   "labels": read_label_names(args.labels), "n_val": len(args.val_dataset), "version": __version__})


def read_rows(args: SftArguments) -> tuple[LabelSpace, Dataset, Dataset | None, list[DataError], str | None]:
    """The label space, the training and validation rows with encoded labels (Arrow), the rows skipped so far, and
    the stage's key (for :func:`tokenized_rows`). Raises the first bad row's error unless ``--skip_bad_rows``."""
    key = rows_key(args)
    stage = Prepared(_root(args), "rows", key)
    meta = stage.load()
    if meta is not None:
        logger.info("data cache hit: %s", meta["path"])
        check_usable(meta["count"], [error_from(e) for e in meta["read_skipped"]], list(args.dataset))  # the warning
    else:
        start = time.perf_counter()
        work = stage.workdir()
        try:
            meta = stage.publish(work, _build_rows(args, work))
        except BaseException:
            stage.discard(work)
            raise
        logger.info("read %d rows in %.1f s (cached at %s)", meta["count"], time.perf_counter() - start,
                    meta["path"] if key else "a temporary folder: the data is not a local file, or caching is off")
    skipped = [error_from(e) for e in meta["read_skipped"]]
    row_errors = skipped if args.skip_bad_rows else None
    space = LabelSpace(meta["problem_type"], meta["names"])
    train = take_errors(open_files(meta["path"], meta["train"]), row_errors)
    val = take_errors(open_files(meta["path"], meta["val"]), row_errors) if meta["val"] else None
    return space, train, val, skipped, key


def _read(specs: list[str], args: SftArguments, path: str, summary: LabelSummary) -> tuple:
    skipped: list[DataError] = []
    common = {"options": read_options(args), "columns": parse_columns(args.columns), "seed": args.data_seed,
              "skipped": skipped if args.skip_bad_rows else None}
    rows, _ = write_rows(specs, path=path, on_example=summary.add, write=write_examples, **common)
    check_usable(len(rows), skipped, specs)
    return rows, skipped


def _build_rows(args: SftArguments, work: str) -> dict:
    summary = LabelSummary(float_as_one=args.problem_type == REGRESSION)
    train, skipped = _read(args.dataset, args, f"{work}/train-read.arrow", summary)
    val = None
    if args.val_dataset:
        val, val_skipped = _read(args.val_dataset, args, f"{work}/val-read.arrow", summary)
        skipped += val_skipped
    space = LabelSpace.infer(summary.parsed, args.problem_type, args.num_labels, read_label_names(args.labels))
    parts = {"train": (train, None), "val": (val, None)}
    if val is None and args.split_dataset_ratio > 0:  # both parts taken from the read rows by index
        train_idx, val_idx = split_indices(train, args.split_dataset_ratio, space, args.data_seed)
        parts = {"train": (train, train_idx), "val": (train, val_idx)}
    train, val = (None if data is None else encode_labels(data, space, f"{work}/{name}.arrow", digest([work, name]),
                                                          rows=rows)
                  for name, (data, rows) in parts.items())
    # Raise now (first bad label in row order) rather than cache rows that can never be used without the flag.
    for part in (train, val):
        if part is not None and not args.skip_bad_rows:
            take_errors(part, None)
    return {"problem_type": space.problem_type, "names": space.names, "count": len(train) + len(val or []),
            "read_skipped": [error_json(e) for e in skipped], "train": files_of(train, work),
            "val": files_of(val, work) if val is not None else None}


def tokenized_rows(args: SftArguments, encoder, rows: Dataset | None, key: str | None, desc: str,
                   skipped: list[DataError] | None, split: str, images: bool | None = None) -> ArrowRows | list:
    """The rows' token ids (int32 Arrow columns) with their labels, as :class:`ArrowRows` (``[]`` without rows);
    rows the encoder rejects (images) go to ``skipped`` when it collects them, else the first raises. ``images``:
    whether any row has an image (:func:`~swiftcls.data.arrow.has_images`, computed here when None)."""
    if rows is None or not len(rows):
        return []
    tok_key = _tokens_key(args, encoder, key, split, has_images(rows) if images is None else images)
    stage = Prepared(_root(args), "tokens", tok_key)
    meta = stage.load()
    if meta is not None:
        logger.info("data cache hit: %s", meta["path"])
    else:
        start = time.perf_counter()
        work = stage.workdir()
        try:
            data = tokenize(rows, encoder, f"{work}/{split}.arrow", digest([work, split]), args.dataset_num_proc,
                            desc)
            take_errors(data, [] if args.skip_bad_rows else None)  # the first bad row raises before it is cached
            meta = stage.publish(work, {"count": len(data), "files": files_of(data, work)})
        except BaseException:
            stage.discard(work)
            raise
        logger.info("tokenized %d rows in %.1f s (cached at %s)", meta["count"], time.perf_counter() - start,
                    meta["path"] if tok_key else "a temporary folder: not cacheable")
    data = take_errors(open_files(meta["path"], meta["files"]), skipped)
    if not len(data):
        raise ConfigError(f"{desc}: every row was skipped ({len(skipped or [])} skipped in all).")
    return ArrowRows(data)


def _tokens_key(args: SftArguments, encoder, key: str | None, split: str, images: bool) -> str | None:
    tokenizer = tokenizer_signature(encoder.tokenizer)
    # Image rows are never reused: their token counts depend on the image files, which are not fingerprinted.
    if key is None or tokenizer is None or images:
        return None
    return digest({"rows": key, "split": split, "tokenizer": tokenizer, "spec": repr(encoder.spec),
                   "settings": [encoder.max_length, encoder.chat, encoder.system, encoder.truncation_side,
                                encoder.min_pixels, encoder.max_pixels, encoder.long_text,
                                dataclasses.asdict(encoder.chunk), encoder.prompt],
                   "version": __version__, "error_column": ERROR})
