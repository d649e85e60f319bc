"""``swiftcls sft``: read and check the data, build the classifier, train, evaluate, save (``--task rm|reranker``:
see swiftcls/commands/scoring.py)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from transformers import EarlyStoppingCallback, set_seed

from ..config.deepspeed import zero_stage
from ..config.output import check_output_dir
from ..config.parser import to_arguments
from ..config.sft import SftArguments
from ..core.decisions import write_decisions
from ..core.errors import ConfigError
from ..core.labels import REGRESSION, SCORING_TASKS, LabelSpace
from ..core.prompt_template import fill_labels
from ..core.spec import ModelSpec, spec_for_config
from ..core.version import __version__
from ..data.chunking import ChunkConfig
from ..data.collators import label_dtype, make_collator
from ..data.dataset import write_skipped
from ..data.encode import PromptEncoder
from ..inference.decide import decide, decisions_report
from ..inference.predict import evaluate_groups, label_matrix, predict_logits
from ..inference.prompts import lean_fields
from ..inference.zero_shot import check_label_head, label_name_head
from ..metrics.classification import format_report, make_compute_metrics, save_metrics
from ..metrics.curve_plots import plot_pr_roc
from ..metrics.plots import plot_confusion_matrix, plot_curves, plot_reliability
from ..metrics.ranking import make_scoring_metrics
from ..models.loading import load_classifier
from ..models.packing import known_attn, use_padding_free
from ..models.registry import read_model_type, resolve_model
from ..models.tuners import apply_lora, freeze_vision
from ..training.checkpoints import publish, remove_stale, resumable, resume_path, staging_dir
from ..training.deepspeed import log_partitioning
from ..training.losses import LossConfig, resolve_class_weights
from ..training.storage import disk_full_reported, state_sizes
from ..training.trainer import ArgsSaver, SeqClsTrainer, write_args, write_checkpoint_extras
from .row_modes import read_prepared, read_streaming, wrap_collator
from .scoring import encode_groups, read_groups

logger = logging.getLogger(__name__)


def sft_main(args: SftArguments | Sequence[str] | dict | None = None) -> dict:
    """Train a classifier end to end (``swiftcls sft``).

    Args:
        args: An :class:`SftArguments`, the command-line flags (``["--model", ..., "--dataset", ...]``, ``--config``
            included), or a dict of option values; ``None`` reads this process's command line.

    Returns:
        A summary: ``last_model_checkpoint``, ``best_model_checkpoint`` and, with validation rows, ``metrics``.

    Raises:
        SwiftClsError: bad flags, data or model (nothing is written then).
    """
    args = to_arguments(SftArguments, args, "swiftcls sft")
    check_output_dir(args.output_dir, args.resume_from_checkpoint)
    resume = resume_path(args.output_dir, args.resume_from_checkpoint)
    set_seed(args.seed)
    model_dir = resolve_model(args.model, args.use_hf, args.model_revision)
    spec = spec_for_config(read_model_type(model_dir))
    scoring = args.task in SCORING_TASKS
    if scoring:  # rm / reranker: rows come in whole groups (pairs, queries); the loss decides how queries are cut
        loss_config = LossConfig(REGRESSION, None, args.label_smoothing, args.focal_gamma, args.loss, args.task,
                                 args.center_rewards_coefficient)
        space, train_ex, val_ex, skipped = read_groups(args, loss_config.loss)
    else:
        # --streaming: training rows are read as training consumes them (swiftcls/data/streaming.py); else they are
        # prepared on Arrow (swiftcls/commands/prepared.py). Both give the same interface (row_modes.py).
        data = read_streaming(args) if args.streaming else read_prepared(args)
        space, skipped = data.space, data.skipped
        train_y = data.train_labels() if args.class_weights == "auto" else []
        loss_config = LossConfig(space.problem_type, resolve_class_weights(
            args.class_weights, train_y, space.problem_type, space.num_labels), args.label_smoothing,
            args.focal_gamma, args.loss)
    if args.head_init == "label_names":  # before the model loads: a wrong family or task fails fast
        check_label_head(spec, space)
        if zero_stage(args.deepspeed) == 3:
            raise ConfigError("--head_init label_names with ZeRO-3: the head is partitioned at load and cannot be "
                              "copied from the LM head; use zero2 (or no DeepSpeed) for label-name heads.")
    args.set_problem_type(space.problem_type)
    args.long_text = args.long_text or "truncate"  # saved resolved: infer/eval/deploy read it from args.json

    device = "cpu" if args.use_cpu else None
    model, tokenizer, new_modules = load_classifier(
        model_dir, spec, space, torch_dtype=args.torch_dtype, attn_impl=known_attn(args.attn_impl),
        trust_remote_code=args.trust_remote_code, device=device, task=args.task)
    _announce_new_modules(new_modules, spec, space)
    packed = use_padding_free(args.padding_free, spec, model, args.attn_impl, device)
    encoder = PromptEncoder(tokenizer, spec, args.max_length, args.use_chat_template,
                            fill_labels(args.system, space.names), args.truncation_side, args.min_pixels,
                            args.max_pixels, long_text=args.long_text,
                            chunk=ChunkConfig(args.chunk_stride, args.chunk_pooling, args.max_chunks),
                            prompt=fill_labels(args.prompt, space.names))
    if args.head_init == "label_names":  # before LoRA copies the head into its modules_to_save
        label_name_head(model, spec, model_dir, encoder, space)
    model = _tune(model, spec, new_modules, args)
    row_errors = skipped if args.skip_bad_rows else None  # image rows can still fail here
    if scoring:
        train_rows = encode_groups(encoder, train_ex, "Tokenizing train", row_errors)
        val_rows = encode_groups(encoder, val_ex, "Tokenizing val", row_errors)
    else:
        train_rows, val_rows = data.rows(args, encoder, spec, row_errors)
    logger.info("Task %s with %d labels; %s train / %d validation rows; %d skipped; world size %s.",
                space.problem_type, space.num_labels,
                len(train_rows) if hasattr(train_rows, "__len__") else "streamed", len(val_rows), len(skipped),
                os.environ.get("WORLD_SIZE", "1"))

    payload = {**args.to_dict(), "model_dir": os.path.abspath(model_dir), "model_type": spec.name,
               "problem_type": space.problem_type, "label_names": space.names,
               "chat_template_applied": encoder.chat, "swiftcls_version": __version__, "loss": loss_config.loss,
               "focal_gamma": loss_config.focal_gamma, **lean_fields(args.system)}
    # Every row is validated and encoded and the model loaded: only now is anything written.
    if int(os.environ.get("RANK", "0")) == 0:
        os.makedirs(args.output_dir, exist_ok=True)
        remove_stale(args.output_dir)
        if skipped:
            write_skipped(skipped, os.path.join(args.output_dir, "skipped_rows.jsonl"))
        write_args(args.output_dir, payload)
    if zero_stage(args.deepspeed) == 3:
        log_partitioning(model)
    trainer = SeqClsTrainer(
        model=model, args=args, train_dataset=train_rows, eval_dataset=val_rows or None, processing_class=tokenizer,
        data_collator=wrap_collator(make_collator(packed, tokenizer.pad_token_id, spec.padding_side,
                                                  encoder.image_processor, label_dtype(space.problem_type, scoring),
                                                  groups=scoring), train_rows),
        compute_metrics=(make_scoring_metrics(args.task) if scoring else
                         make_compute_metrics(space.problem_type, space.id2label, args.threshold)),
        callbacks=_callbacks(args, payload, encoder.image_processor), spec=spec, head_lr=args.head_lr,
        vit_lr=args.vit_lr, loss_config=loss_config)
    trainer.train(resume_from_checkpoint=resume)
    return _finish(trainer, payload, space, val_rows, args)


def _callbacks(args: SftArguments, payload: dict, image_processor) -> list:
    """``args.json`` in every checkpoint, and early stopping when asked for (its flags were checked in
    ``SftArguments``)."""
    callbacks = [ArgsSaver(payload, image_processor)]
    if args.early_stopping_patience is not None:
        callbacks.append(EarlyStoppingCallback(args.early_stopping_patience, args.early_stopping_threshold))
    return callbacks


def _announce_new_modules(new_modules: list[str], spec: ModelSpec, space: LabelSpace) -> None:
    """Say once, in swiftcls's words, what starts from scratch (transformers' load report is silenced)."""
    head = [m for m in new_modules if m in spec.head or m.split(".")[-1] in spec.head]
    if head:
        count = space.num_labels
        logger.info("new classification head: %s (%d label%s)", ", ".join(head), count, "" if count == 1 else "s")
    others = [m for m in new_modules if m not in head]
    if others:
        logger.info("also new (not in the checkpoint), trained and saved in full: %s", ", ".join(others))


def _tune(model, spec: ModelSpec, new_modules: list[str], args: SftArguments):
    """LoRA adapters (the head and new modules trained in full), or full fine-tuning with frozen vision parts."""
    if args.tuner_type == "lora":
        model = apply_lora(model, spec, new_modules, args.lora_rank, args.lora_alpha, args.lora_dropout,
                           args.target_modules, args.modules_to_save, args.freeze_vit, args.freeze_aligner,
                           autocast_adapter_dtype=not args.deepspeed)
        model.print_trainable_parameters()
    else:
        freeze_vision(model, spec, args.freeze_vit, args.freeze_aligner)
    if args.activation_checkpointing and hasattr(model, "enable_input_require_grads"):
        model.enable_input_require_grads()
    return model


def _finish(trainer: SeqClsTrainer, payload: dict, space: LabelSpace, val_rows: list, args: SftArguments) -> dict:
    """Save the last model if no checkpoint holds it, evaluate, calibrate and tune thresholds, and write metrics
    and plots."""
    out = trainer.args.output_dir
    state = trainer.state
    last = os.path.join(out, f"checkpoint-{state.global_step}")
    if not os.path.isdir(last) and trainer.args.load_best_model_at_end and state.best_model_checkpoint:
        # --save_strategy best saves only improvements, so the newest checkpoint is the best one; the model in memory
        # was loaded back from it and is not the last step's: saving it as checkpoint-<last step> would mislabel it.
        last = state.best_model_checkpoint
    if not os.path.isdir(last):
        staged = staging_dir(last)
        with disk_full_reported(out, os.path.basename(last), lambda: state_sizes(trainer.model),
                                lambda: resumable(out), partial=staged):
            trainer.save_model(staged)
            trainer.accelerator.wait_for_everyone()
            if trainer.is_world_process_zero():
                write_checkpoint_extras(staged, payload, getattr(trainer.processing_class, "image_processor", None))
                publish(staged, last)
    summary = {"last_model_checkpoint": last, "best_model_checkpoint": state.best_model_checkpoint or last}
    if trainer.is_world_process_zero():
        plot_curves(state.log_history, os.path.join(out, "curves.png"))
    if val_rows:
        if args.task in SCORING_TASKS:  # rm pairs / reranker groups: ranked, no calibration or thresholds
            decided = None
            metrics = summary["metrics"] = evaluate_groups(
                trainer.model, val_rows, args.task, trainer.data_collator, trainer.args.per_device_eval_batch_size,
                trainer.args.device)
        else:
            logits = predict_logits(trainer.model, val_rows, trainer.data_collator,
                                    trainer.args.per_device_eval_batch_size, trainer.args.device, desc="Evaluating")
            labels = label_matrix([r["labels"] for r in val_rows], space.problem_type)
            decided = decide(logits, labels, space, args.calibrate, args.threshold_strategy, args.threshold)
            metrics = summary["metrics"] = decided.metrics
        if trainer.is_world_process_zero():
            if decided is not None:
                _save_decisions(decided, summary, args.load_best_model_at_end and state.best_model_checkpoint or last)
            save_metrics(metrics, os.path.join(out, "eval_metrics.json"))
            if "confusion_matrix" in metrics:
                plot_confusion_matrix(metrics["confusion_matrix"], space.names,
                                      os.path.join(out, "confusion_matrix.png"))
            if decided is not None and decided.diagrams:
                plot_reliability(decided.diagrams, os.path.join(out, "reliability.png"))
            if "curves" in metrics:
                plot_pr_roc(metrics["curves"], os.path.join(out, "pr_roc.png"))
            print(format_report(metrics, space.problem_type))
            if report := decisions_report(metrics):
                print(report)
    if trainer.is_world_process_zero():
        save_metrics(summary, os.path.join(out, "summary.json"))
        print(f"best_model_checkpoint: {summary['best_model_checkpoint']}\n"
              f"last_model_checkpoint: {summary['last_model_checkpoint']}")
    return summary


def _save_decisions(decided, summary: dict, checkpoint: str) -> None:
    """Store the temperature and thresholds in the checkpoint whose weights were evaluated (the best one when
    training loaded it at the end, else the last): they belong to those weights only."""
    if decided.fields:
        path = write_decisions(checkpoint, decided.fields)
        summary["decisions_checkpoint"] = checkpoint
        logger.info("saved %s in %s", ", ".join(sorted(decided.fields)), path)
