"""The rm and reranker paths of ``swiftcls sft`` and ``swiftcls eval``: rows read as whole groups (pairs, queries),
encoded row by row, batched and scored group by group (docs/reward_rerank.md)."""

from __future__ import annotations

import logging
import os

import numpy as np

from ..config.infer import InferArguments
from ..config.sft import SftArguments
from ..core.errors import ConfigError, DataError
from ..core.labels import REGRESSION, RM, LabelSpace
from ..data.dataset import parse_columns, write_skipped
from ..data.encode import PromptEncoder
from ..data.groups import load_units, make_groups, row_label, split_units
from ..metrics.classification import format_report, save_metrics
from ..metrics.ranking import scoring_metrics
from .common import read_options

logger = logging.getLogger(__name__)
SCORE_SPACE = LabelSpace(REGRESSION, ["score"])  # what an rm/reranker checkpoint's config.json says


def read_groups(args: SftArguments, loss: str) -> tuple[LabelSpace, list, list, list[DataError]]:
    """Training and validation groups of an rm/reranker run, and the rows skipped (``--skip_bad_rows``).

    Training queries are cut into groups as ``loss`` needs (listwise: one positive per group); validation queries
    keep all their documents, and a validation split never cuts a pair or a query.
    """
    common = {"options": read_options(args), "columns": parse_columns(args.columns),
              "skip_bad_rows": args.skip_bad_rows, "seed": args.data_seed}
    train, skipped = load_units(args.task, args.dataset, **common)
    val = []
    if args.val_dataset:
        val, val_skipped = load_units(args.task, args.val_dataset, **common)
        skipped += val_skipped
    elif args.split_dataset_ratio > 0:
        train, val = split_units(train, args.split_dataset_ratio, args.data_seed)
    errors = skipped if args.skip_bad_rows else None
    train_groups = make_groups(args.task, train, loss, args.max_negative_samples, args.data_seed, 0, errors)
    val_groups = make_groups(args.task, val, "eval", args.max_negative_samples, args.data_seed, len(train_groups),
                             errors)
    if not train_groups:
        raise DataError(f"no usable {args.task} rows ({len(skipped)} skipped).", file=", ".join(args.dataset),
                        fix="check the files and --columns (docs/reward_rerank.md lists the row formats).")
    return SCORE_SPACE, train_groups, val_groups, skipped


def encode_groups(encoder: PromptEncoder, groups: list[list], desc: str, skipped: list | None) -> list[dict]:
    """One ``{"rows": [...]}`` item per group, each row with its ``[target, group, margin]`` label. A group whose
    row the encoder rejects is left out whole (its error, recorded in ``skipped``, names that row)."""
    flat = [ex for group in groups for ex in group]
    kept, rows = encoder.encode_kept(flat, desc, skipped)
    encoded = {i: {**row, "labels": row_label(flat[i])} for i, row in zip(kept, rows)}
    items, start = [], 0
    for group in groups:
        members = range(start, start + len(group))
        start += len(group)
        if all(i in encoded for i in members):
            items.append({"rows": [encoded[i] for i in members]})
    if groups and not items:
        raise ConfigError(f"{desc}: every group was skipped ({len(skipped or [])} rows skipped in all).")
    return items


def eval_groups(args: InferArguments, task: str, encoder: PromptEncoder, predict) -> dict:
    """``swiftcls eval`` of an rm/reranker checkpoint: every pair, or every query with all its documents, scored
    with ``predict(examples, rows) -> logits`` and ranked; writes the metrics file."""
    skipped: list[DataError] = []
    errors = skipped if args.skip_bad_rows else None
    units, read_skipped = load_units(task, args.dataset, read_options(args), parse_columns(args.columns),
                                     args.skip_bad_rows, args.data_seed)
    skipped += read_skipped
    groups = make_groups(task, units, "eval", skipped=errors)
    items = encode_groups(encoder, groups, "Tokenizing", errors)
    flat_rows = [row for item in items for row in item["rows"]]
    kept = {int(row["labels"][1]) for row in flat_rows}
    examples = [ex for group in groups if group[0].group in kept for ex in group]
    logits = np.asarray(predict(examples, flat_rows), dtype=np.float64)
    metrics = scoring_metrics(task, logits, np.asarray([row["labels"] for row in flat_rows], dtype=np.float64))
    base = args.result_path or os.path.join(args.adapters or args.model, "infer_result.jsonl")
    metrics_path = args.metrics_path or (os.path.splitext(base)[0] + "_metrics.json")
    save_metrics(metrics, metrics_path)
    summary = {"rows": len(flat_rows), "skipped": len(skipped), "metrics": metrics, "metrics_path": metrics_path}
    if skipped:
        summary["skipped_path"] = os.path.splitext(base)[0] + "_skipped.jsonl"
        write_skipped(skipped, summary["skipped_path"])
        print(f"Skipped {len(skipped)} rows, listed in {summary['skipped_path']}")
    print(format_report(metrics, REGRESSION))
    logger.info("%s eval: %d %s.", task, len(items), "pairs" if task == RM else "queries")
    return summary
