"""``swiftcls infer`` / ``swiftcls eval``: predict with a trained classifier and score it."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from contextlib import nullcontext, suppress
from dataclasses import fields
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoConfig

from .arguments import DataArguments, InferArguments, ModelArguments
from .data.dataset import check_usable, encode_labels, iter_examples, parse_columns, write_skipped
from .data.encode import Collator, PromptEncoder
from .data.labels import MULTI, REGRESSION, SINGLE, LabelSpace
from .errors import ConfigError
from .metrics import compute_metrics, format_report, logits_to_probs, save_metrics
from .model import load_adapters, load_classifier
from .modeling import classifier_logits
from .packing import known_attn, make_collator, use_padding_free
from .registry import read_model_type, resolve_model, spec_for_config

logger = logging.getLogger(__name__)


def read_args_json(folder: str | None) -> dict:
    """``args.json`` of a swiftcls checkpoint (or its run folder); empty for foreign checkpoints."""
    for candidate in (Path(folder), Path(folder).parent) if folder else ():
        if (candidate / "args.json").is_file():
            return json.loads((candidate / "args.json").read_text(encoding="utf-8"))
    return {}


def load_trained(model: str | None, adapters: str | None, model_args: ModelArguments, device: str | None = None):
    """Load a trained classifier for prediction.

    Args:
        model: Full checkpoint folder (or the base model when ``adapters`` is given).
        adapters: LoRA checkpoint folder; its base model is read from ``args.json`` when ``model`` is None.
        model_args: dtype / attention / trust_remote_code settings.
        device: Target device.

    Returns:
        ``(model, tokenizer, spec, label_space, training_args_dict)``.
    """
    payload = read_args_json(adapters or model)
    if adapters:
        base = model or payload.get("model_dir") or payload.get("model")
        if not base or not payload.get("label_names"):
            raise ConfigError(f"--adapters {adapters}: no args.json with the base model and labels; pass --model "
                              "and make sure the checkpoint was written by swiftcls sft.")
        model_dir = resolve_model(base, model_args.use_hf, model_args.model_revision)
        space = LabelSpace(payload["problem_type"], payload["label_names"])
    elif model:
        model_dir = resolve_model(model, model_args.use_hf, model_args.model_revision)
        space = LabelSpace.from_config(AutoConfig.from_pretrained(
            model_dir, trust_remote_code=model_args.trust_remote_code))
    else:
        raise ConfigError("pass --model (a trained checkpoint) or --adapters (a LoRA checkpoint).")
    spec = spec_for_config(read_model_type(model_dir))
    net, tokenizer, new = load_classifier(model_dir, spec, space, torch_dtype=model_args.torch_dtype,
                                          attn_impl=model_args.attn_impl,
                                          trust_remote_code=model_args.trust_remote_code, device=device)
    untrained = [m for m in new if m.split(".")[-1] in spec.head or m in spec.head]
    if untrained and not adapters:
        # Predicting with a random head would look like it works; refuse instead.
        raise ConfigError(f"--model {model}: the checkpoint has no trained classification head ({untrained} missing). "
                          "Pass a checkpoint written by swiftcls sft/export (for LoRA runs use --adapters); an "
                          "LMDeploy reward export is for LMDeploy only.")
    if adapters:
        net = load_adapters(net, adapters)
    return net.eval(), tokenizer, spec, space, payload


# Prompt settings saved in args.json (name there) that decide how rows are tokenized.
PROMPT_FIELDS = {"max_length": "max_length", "use_chat_template": "chat_template_applied", "system": "system",
                 "truncation_side": "truncation_side", "min_pixels": "min_pixels", "max_pixels": "max_pixels"}


def training_encoder(tokenizer, spec, train: dict, data_args: DataArguments | None = None) -> PromptEncoder:
    """The prompt formatting a checkpoint was trained with (its ``args.json``), so inference formats rows as in
    training by default.

    A flag in ``data_args`` that differs from its default is an explicit choice and wins over ``args.json`` (as in
    SWIFT), with a warning when the values differ; ``data_args`` also fills what a foreign checkpoint lacks.
    """
    defaults = {f.name: f.default for f in fields(DataArguments)}
    chosen = {}
    for name, saved_as in PROMPT_FIELDS.items():
        given = getattr(data_args, name) if data_args else defaults[name]
        if saved_as not in train or given != defaults[name]:
            chosen[name] = given
            if saved_as in train and given != train[saved_as]:
                logger.warning("--%s %r differs from the value the checkpoint was trained with (%r, args.json); "
                               "using %r, so rows are formatted differently from training.",
                               name, given, train[saved_as], given)
        else:
            chosen[name] = train[saved_as]
    return PromptEncoder(tokenizer, spec, chosen["max_length"], chosen["use_chat_template"], chosen["system"],
                         chosen["truncation_side"], chosen["min_pixels"], chosen["max_pixels"])


@torch.no_grad()
def predict_logits(model, spec, rows: list[dict], collator: Collator, batch_size: int = 32,
                   device: str | torch.device = "cpu", desc: str = "Predicting", progress: bool = True) -> np.ndarray:
    """Logits for ``rows`` in their original order; batches are formed from length-sorted rows (less padding)."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    out = [None] * len(rows)
    model.to(device)
    steps = range(0, len(order), batch_size)
    for start in tqdm(steps, desc=desc, unit="batch", disable=not progress or len(order) <= batch_size):
        idx = order[start:start + batch_size]
        batch = collator([{k: v for k, v in rows[i].items() if k != "labels"} for i in idx])
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        logits = classifier_logits(model, spec, batch).float().cpu().numpy()
        for i, row_logits in zip(idx, logits):
            out[i] = row_logits
    return np.stack(out)


STREAM_ROWS = 4096


def stream_logits(encoder: PromptEncoder, examples: Iterable, predict, skipped: list | None = None,
                  chunk_rows: int | None = None):
    """Yield ``(examples, encoded rows, logits)`` chunk by chunk, with one progress bar over all rows.

    ``examples`` may be a lazy iterator (:func:`~swiftcls.data.dataset.iter_examples`): only one chunk's rows,
    token ids and logits are alive at a time, so files larger than memory are predicted in bounded memory.
    ``predict(examples, rows) -> logits`` runs the backend on a chunk. With ``skipped`` (``--skip_bad_rows``),
    rows the encoder rejects (bad images) are recorded there and left out.
    """
    total = len(examples) if hasattr(examples, "__len__") else None
    bar = tqdm(total=total, desc="Predicting", unit="row", disable=total is not None and total <= 32)
    rows_in = iter(examples)
    while chunk := list(islice(rows_in, chunk_rows or STREAM_ROWS)):
        kept, rows = encoder.encode_kept(chunk, skipped=skipped)
        chunk = [chunk[i] for i in kept]
        if chunk:
            yield chunk, rows, predict(chunk, rows)
        bar.update(len(chunk))
    bar.close()


def _label_matrix(encoded: list, problem_type: str) -> np.ndarray:
    return np.asarray(encoded, dtype=np.float32 if problem_type != SINGLE else np.int64)


def evaluate_rows(trainer, rows: list[dict], space: LabelSpace, threshold: float = 0.5) -> dict:
    """Full metrics (per class, confusion matrix) of ``trainer.model`` on encoded, labelled rows, batched by the
    training collator (packed rows when training was padding-free)."""
    logits = predict_logits(trainer.model, trainer.spec, rows, trainer.data_collator,
                            trainer.args.per_device_eval_batch_size, trainer.args.device, desc="Evaluating")
    labels = _label_matrix([r["labels"] for r in rows], space.problem_type)
    return compute_metrics(space.problem_type, logits, labels, space.id2label, threshold)


def _prediction(probs: np.ndarray, space: LabelSpace, threshold: float):
    if space.problem_type == REGRESSION:
        return float(probs[0]) if len(probs) == 1 else [float(p) for p in probs]
    if space.problem_type == MULTI:
        return [space.names[i] for i, p in enumerate(probs) if p >= threshold]
    return space.names[int(np.argmax(probs))]


def run_infer(model_args: ModelArguments, data_args: DataArguments, infer_args: InferArguments,
              metrics_only: bool = False) -> dict:
    """Predict every row of ``--dataset``; write results (JSONL) and, when rows carry labels, metrics.

    Rows are read, predicted and written chunk by chunk (see :func:`stream_logits`); the result file appears
    (atomically) only when every row is done, and a failure part-way leaves nothing behind.
    """
    if not data_args.dataset:
        raise ConfigError("--dataset is required.")
    device = infer_args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    attn_impl = known_attn(model_args.attn_impl)
    if infer_args.infer_backend == "vllm":  # checked before reading data: a LoRA checkpoint or no vllm fails fast
        from .vllm_backend import VllmScorer, load_for_vllm

        model_dir, tokenizer, spec, space, train = load_for_vllm(model_args, infer_args)
        encoder = training_encoder(tokenizer, spec, train, data_args)
        predict = VllmScorer(model_dir, encoder, space.problem_type, model_args.torch_dtype, device)
    else:
        model, tokenizer, spec, space, train = load_trained(model_args.model, infer_args.adapters, model_args, device)
        encoder = training_encoder(tokenizer, spec, train, data_args)
        packed = use_padding_free(infer_args.padding_free, spec, model, attn_impl, device)
        collator = make_collator(packed, tokenizer, spec, encoder.image_processor)

        def predict(chunk, rows):
            return predict_logits(model, spec, rows, collator, infer_args.batch_size, device, progress=False)
    threshold = infer_args.threshold if infer_args.threshold is not None else train.get("threshold", 0.5)
    from .sft import read_options

    skipped = []
    examples = iter_examples(data_args.dataset, read_options(data_args), parse_columns(data_args.columns),
                             require_label=metrics_only, skipped=skipped if data_args.skip_bad_rows else None,
                             seed=data_args.data_seed)
    result_path = infer_args.result_path or os.path.join(infer_args.adapters or model_args.model,
                                                         "infer_result.jsonl")
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
        check_usable(scores.rows, skipped, data_args.dataset)
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
        metrics = compute_metrics(space.problem_type, np.concatenate(scores.logits),
                                  _label_matrix(scores.labels, space.problem_type), space.id2label, threshold)
        metrics_path = infer_args.metrics_path or (os.path.splitext(result_path)[0] + "_metrics.json")
        save_metrics(metrics, metrics_path)
        print(format_report(metrics, space.problem_type))
        summary.update(metrics=metrics, metrics_path=metrics_path)
    elif metrics_only:
        raise ConfigError("swiftcls eval needs a label on every row.")
    return summary


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
                       threshold: float) -> None:
    for ex, row, p in zip(chunk, rows, logits_to_probs(logits, space.problem_type)):
        record = {**ex.raw, "pred": _prediction(p, space, threshold)}
        if "images" in row:  # the resolved paths of the images the prediction saw
            record["images"] = row["images"]
        if space.problem_type != REGRESSION:
            record["probs"] = {name: round(float(v), 6) for name, v in zip(space.names, p)}
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
