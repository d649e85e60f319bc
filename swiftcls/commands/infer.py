"""``swiftcls infer`` / ``swiftcls eval``: predict with a trained classifier and score it."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from contextlib import nullcontext, suppress
from pathlib import Path

import numpy as np
import torch

from ..config.infer import EvalArguments, InferArguments
from ..config.parser import to_arguments
from ..core.decisions import THRESHOLDS_KEY, decisions_file, thresholds_for, write_decisions
from ..core.errors import ConfigError
from ..core.labels import MULTI, REGRESSION, SCORING_TASKS, LabelSpace
from ..data.collators import make_collator
from ..data.dataset import check_usable, encode_labels, iter_examples, parse_columns, write_skipped
from ..inference.decide import decisions_report, score_with
from ..inference.predict import label_matrix, predict_logits, prediction, stream_logits
from ..inference.prompts import training_encoder
from ..inference.vllm_backend import VllmScorer, load_for_vllm
from ..inference.zero_shot import load_zero_shot
from ..metrics.classification import format_report, logits_to_probs, save_metrics
from ..models.packing import known_attn, use_padding_free
from ..models.trained import load_trained, read_args_json
from .common import read_options
from .scoring import eval_groups

logger = logging.getLogger(__name__)


def infer_main(args: InferArguments | Sequence[str] | dict | None = None) -> dict:
    """Predict every row of ``--dataset`` (``swiftcls infer``); write results (JSONL) and, when every row carries a
    label, metrics.

    Args:
        args: An :class:`InferArguments`, the command-line flags, or a dict of option values; ``None`` reads this
            process's command line.

    Returns:
        A summary: ``rows``, ``skipped``, ``result_path`` and, for labelled data, ``metrics`` and ``metrics_path``.
    """
    return run_infer(to_arguments(InferArguments, args, "swiftcls infer"))


def eval_main(args: EvalArguments | Sequence[str] | dict | None = None) -> dict:
    """Score a trained classifier on labelled rows (``swiftcls eval``): metrics only, every row needs a label.

    Args:
        args: An :class:`EvalArguments`, the command-line flags, or a dict of option values.

    Returns:
        A summary with ``metrics`` and ``metrics_path``.
    """
    return run_infer(to_arguments(EvalArguments, args, "swiftcls eval"), metrics_only=True)


def run_infer(args: InferArguments, metrics_only: bool = False) -> dict:
    """Predict every row of ``args.dataset``; write results and metrics (see :func:`infer_main`).

    Rows are read, predicted and written chunk by chunk (see :func:`stream_logits`); the result file appears
    (atomically) only when every row is done, and a failure part-way leaves nothing behind.
    """
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    attn_impl = known_attn(args.attn_impl)
    if args.infer_backend == "vllm":  # checked before reading data: a LoRA checkpoint or no vllm fails fast
        if (args.long_text or read_args_json(args.adapters or args.model).get("long_text")) == "chunk":
            raise ConfigError("--infer_backend vllm scores one input per row and cannot pool the windows of "
                              "--long_text chunk (this model's setting, args.json). Use --infer_backend pt (the "
                              "default), which pools them, or --long_text truncate to score truncated rows with "
                              "vLLM; see docs/long_text.md.")
        model_dir, tokenizer, spec, space, train = load_for_vllm(args)
        encoder = training_encoder(tokenizer, spec, train, args, space.names)
        predict = VllmScorer(model_dir, encoder, space.problem_type, args.torch_dtype, device)
        task = train.get("task")
    elif args.zero_shot:  # a base LLM, its head built from the label names
        model, tokenizer, spec, space, train, encoder = load_zero_shot(args, device)
    else:
        model, tokenizer, spec, space, train = load_trained(args.model, args.adapters, args, device)
        encoder = training_encoder(tokenizer, spec, train, args, space.names)
    if args.infer_backend != "vllm":
        packed = use_padding_free(args.padding_free, spec, model, attn_impl, device)
        collator = make_collator(packed, tokenizer.pad_token_id, spec.padding_side, encoder.image_processor)

        def predict(chunk, rows):
            return predict_logits(model, rows, collator, args.batch_size, device, progress=False)
        task = train.get("task") or getattr(model.config, "swiftcls_task", None)
    if metrics_only and task in SCORING_TASKS:  # rm pairs / reranker queries: scored and ranked group by group
        return eval_groups(args, task, encoder, predict)
    # Per-label thresholds tuned at training (or saved by eval --save_thresholds); --threshold overrides them all.
    threshold = thresholds_for(train, space.names, args.threshold)
    tune = getattr(args, "tune_thresholds", False)
    if tune and space.problem_type != MULTI:
        raise ConfigError(f"--tune_thresholds is for multi-label models; this one is {space.problem_type}.")
    if tune and args.save_thresholds:
        decisions_file(args.adapters or args.model)  # a folder swiftcls can write to, checked before predicting
    skipped = []
    examples = iter_examples(args.dataset, read_options(args), parse_columns(args.columns),
                             require_label=metrics_only, skipped=skipped if args.skip_bad_rows else None,
                             seed=args.data_seed)
    # Zero-shot: --model is someone's base LLM, so results go to the working folder, never into the model's.
    result_path = args.result_path or ("zero_shot_result.jsonl" if args.zero_shot else
                                       os.path.join(args.adapters or args.model, "infer_result.jsonl"))
    tmp = None if metrics_only else result_path + ".tmp"
    made = [] if metrics_only else [p for p in (Path(result_path).parent, *Path(result_path).parent.parents)
                                     if not p.exists()]
    scores = _Scores(space)
    try:
        if tmp:
            Path(result_path).parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") if tmp else nullcontext() as f:
            for chunk, rows, logits in stream_logits(encoder, examples, predict, skipped):
                scores.add(chunk, logits)  # labels are checked against the model's as each chunk arrives
                if f is not None:
                    _write_predictions(f, chunk, rows, logits, space, threshold)
        check_usable(scores.rows, skipped, args.dataset)
    except BaseException:
        if tmp and os.path.exists(tmp):
            os.remove(tmp)  # never a half-written result file, nor folders made for it
        for folder in made:
            with suppress(OSError):  # not empty: something else wrote there meanwhile
                folder.rmdir()
        raise
    summary = {"rows": scores.rows, "skipped": len(skipped)}
    if skipped:  # never dropped silently: each skipped row, with file, row, field and reason
        summary["skipped_path"] = os.path.splitext(result_path)[0] + "_skipped.jsonl"
        write_skipped(skipped, summary["skipped_path"])
        print(f"Skipped {len(skipped)} rows, listed in {summary['skipped_path']}")
    if tmp:
        os.replace(tmp, result_path)
        summary["result_path"] = result_path
        print(f"Wrote {scores.rows} predictions to {result_path}")
    if scores.complete:
        metrics = score_with(np.concatenate(scores.logits), label_matrix(scores.labels, space.problem_type), space,
                             threshold, tune)
        metrics_path = args.metrics_path or (os.path.splitext(result_path)[0] + "_metrics.json")
        save_metrics(metrics, metrics_path)
        print(format_report(metrics, space.problem_type))
        if report := decisions_report(metrics):
            print(report)
        summary.update(metrics=metrics, metrics_path=metrics_path)
        if tune and args.save_thresholds:
            summary["thresholds_path"] = _save_thresholds(args.adapters or args.model, metrics["thresholds"])
    elif metrics_only:
        raise ConfigError("swiftcls eval needs a label on every row.")
    return summary


def _save_thresholds(checkpoint: str, block: dict) -> str:
    """Write the thresholds tuned by eval into the checkpoint (only its swiftcls_thresholds field changes)."""
    kept = set(block["thresholds_kept_default"])
    tuned = {n: t for n, t in block["thresholds"].items() if n not in kept}
    path = write_decisions(checkpoint, {THRESHOLDS_KEY: tuned})
    print(f"Saved {len(tuned)} tuned thresholds in {path} (field {THRESHOLDS_KEY}; the previous ones are in the "
          "metrics file under thresholds.model_thresholds).")
    return str(path)


class _Scores:
    """Logits and encoded labels kept for metrics while every row so far carries a label."""

    def __init__(self, space: LabelSpace):
        self.space, self.rows, self.complete, self.logits, self.labels = space, 0, True, [], []

    def add(self, chunk: list, logits: np.ndarray) -> None:
        self.rows += len(chunk)
        if self.complete and any(ex.label is None for ex in chunk):
            self.complete, self.logits, self.labels = False, [], []  # metrics need every label: free the rest
        if self.complete:
            self.labels.extend(encode_labels(chunk, self.space)[1])
            self.logits.append(logits)


def _write_predictions(f, chunk: list, rows: list[dict], logits: np.ndarray, space: LabelSpace,
                       threshold: list[float]) -> None:
    for ex, row, p in zip(chunk, rows, logits_to_probs(logits, space.problem_type)):
        record = {**ex.raw, "pred": prediction(p, space, threshold)}
        if "images" in row:  # the resolved paths of the images the prediction saw
            record["images"] = row["images"]
        if space.problem_type != REGRESSION:
            record["probs"] = {name: round(float(v), 6) for name, v in zip(space.names, p)}
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
