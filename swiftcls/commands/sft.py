"""``swiftcls sft --task seq_cls``: load data, build the classifier, train, evaluate, save."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, fields

import torch
from transformers import TrainingArguments, set_seed

from ..config.arguments import DataArguments, LossArguments, ModelArguments, TrainArguments, TunerArguments
from ..core.errors import ConfigError
from ..core.labels import LabelSpace, read_label_names
from ..core.spec import spec_for_config
from ..core.version import __version__
from ..data.collators import label_dtype, make_collator
from ..data.dataset import encode_labels, load_examples, parse_columns, split_validation, write_skipped
from ..data.encode import PromptEncoder
from ..inference.predict import evaluate_rows
from ..metrics.classification import default_metric_for_best, format_report, make_compute_metrics, save_metrics
from ..metrics.plots import plot_confusion_matrix, plot_curves
from ..models.loading import load_classifier
from ..models.packing import known_attn, use_padding_free
from ..models.registry import read_model_type, resolve_model
from ..models.tuners import apply_lora, freeze_vision
from ..training.checkpoints import publish, remove_stale, resume_path, staging_dir
from ..training.deepspeed import log_partitioning, prepare_deepspeed, resolve_deepspeed, zero_stage
from ..training.losses import LossConfig, resolve_class_weights
from ..training.trainer import ArgsSaver, SeqClsTrainer, write_args, write_checkpoint_extras
from .common import read_options

logger = logging.getLogger(__name__)


def _training_arguments(train: TrainArguments, tuner: TunerArguments, problem_type: str, has_val: bool,
                        extra: dict, ds_config: str | None = None) -> TrainingArguments:
    lr = train.learning_rate or (1e-4 if tuner.tuner_type == "lora" else 2e-5)
    eval_strategy = train.eval_strategy if has_val else "no"
    save_strategy = train.save_strategy or (eval_strategy if eval_strategy != "no" else "epoch")
    metric, greater = default_metric_for_best(problem_type)
    metric = train.metric_for_best_model or metric
    best = eval_strategy != "no" and save_strategy == eval_strategy
    skip = {"task", "learning_rate", "eval_strategy", "save_strategy", "metric_for_best_model",
            "resume_from_checkpoint", "save_steps", "warmup_ratio", "group_by_length", "gradient_checkpointing",
            "padding_free", "deepspeed"}
    kwargs = {f.name: getattr(train, f.name) for f in fields(train) if f.name not in skip}
    save_steps = train.save_steps or train.eval_steps
    if save_steps:
        kwargs["save_steps"] = save_steps
    if train.metric_for_best_model and train.metric_for_best_model.endswith(("loss", "mse", "mae", "rmse")):
        greater = False
    kwargs.update(learning_rate=lr, eval_strategy=eval_strategy, save_strategy=save_strategy,
                  metric_for_best_model=metric if best else None, greater_is_better=greater if best else None,
                  load_best_model_at_end=best, label_names=["labels"], remove_unused_columns=False,
                  disable_tqdm=False, logging_first_step=True, warmup_steps=train.warmup_ratio,
                  train_sampling_strategy="group_by_length" if train.group_by_length else "random",
                  deepspeed=ds_config)
    # transformers 5 renamed gradient_checkpointing; use whichever this version has.
    names = {f.name for f in fields(TrainingArguments)}
    kwargs["activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"] = \
        train.gradient_checkpointing
    kwargs["dataloader_pin_memory"] = torch.cuda.is_available() and not train.use_cpu
    kwargs.update(extra)
    return TrainingArguments(**kwargs)


def _labelled_rows(encoder: PromptEncoder, examples: list, labels: list, desc: str, skipped: list | None) -> list:
    """Encoded rows with their labels; rows the encoder rejects are left out when ``skipped`` collects them."""
    kept, rows = encoder.encode_kept(examples, desc, skipped)
    if examples and not rows:
        raise ConfigError(f"{desc}: every row was skipped ({len(skipped or [])} skipped in all).")
    return [{**r, "labels": labels[i]} for i, r in zip(kept, rows)]


def run_sft(model_args: ModelArguments, data_args: DataArguments, tuner_args: TunerArguments,
            loss_args: LossArguments, train_args: TrainArguments, extra: dict | None = None) -> dict:
    """Train a classifier end to end. Returns a summary with checkpoint paths and final metrics."""
    if not model_args.model:
        raise ConfigError("--model is required.")
    if not data_args.dataset:
        raise ConfigError("--dataset is required.")
    if data_args.val_dataset and data_args.split_dataset_ratio:
        raise ConfigError("--val_dataset and --split_dataset_ratio both choose the validation rows; pass one, "
                          "not both.")
    if data_args.max_length < 1:
        raise ConfigError(f"--max_length must be a positive number of tokens, got {data_args.max_length}.")
    resume = resume_path(train_args.output_dir, train_args.resume_from_checkpoint)
    set_seed(train_args.seed)
    model_dir = resolve_model(model_args.model, model_args.use_hf, model_args.model_revision)
    spec = spec_for_config(read_model_type(model_dir))
    options, columns = read_options(data_args), parse_columns(data_args.columns)
    common = {"options": options, "columns": columns, "skip_bad_rows": data_args.skip_bad_rows,
              "seed": data_args.data_seed}
    train_ex, skipped = load_examples(data_args.dataset, **common)
    val_ex = []
    if data_args.val_dataset:
        val_ex, val_skipped = load_examples(data_args.val_dataset, **common)
        skipped += val_skipped
    space = LabelSpace.infer([(*ex.label, ex.where) for ex in train_ex + val_ex], model_args.problem_type,
                             model_args.num_labels, read_label_names(model_args.labels))
    if not val_ex and data_args.split_dataset_ratio > 0:
        train_ex, val_ex = split_validation(train_ex, data_args.split_dataset_ratio, space, data_args.data_seed)
    train_ex, train_y = encode_labels(train_ex, space, data_args.skip_bad_rows, skipped)
    val_ex, val_y = encode_labels(val_ex, space, data_args.skip_bad_rows, skipped)
    loss_config = LossConfig(space.problem_type, resolve_class_weights(loss_args.class_weights, train_y,
                                                                       space.problem_type, space.num_labels),
                             loss_args.label_smoothing, loss_args.focal_gamma, loss_args.loss)
    main_process = int(os.environ.get("RANK", "0")) == 0

    # TrainingArguments come before the model: with ZeRO-3 they make from_pretrained load the weights sharded.
    ds_config = resolve_deepspeed(train_args.deepspeed)
    prepare_deepspeed(ds_config, train_args.use_cpu)
    hf_args = _training_arguments(train_args, tuner_args, space.problem_type, bool(val_ex), extra or {}, ds_config)
    model, tokenizer, new_modules = load_classifier(
        model_dir, spec, space, torch_dtype=model_args.torch_dtype,
        attn_impl=known_attn(model_args.attn_impl), trust_remote_code=model_args.trust_remote_code,
        device="cpu" if train_args.use_cpu else None)
    packed = use_padding_free(train_args.padding_free, spec, model, model_args.attn_impl,
                              "cpu" if train_args.use_cpu else None)
    if tuner_args.tuner_type == "lora":
        model = apply_lora(model, spec, new_modules, tuner_args.lora_rank, tuner_args.lora_alpha,
                           tuner_args.lora_dropout, tuner_args.target_modules, tuner_args.modules_to_save,
                           tuner_args.freeze_vit, tuner_args.freeze_aligner,
                           autocast_adapter_dtype=ds_config is None)
        model.print_trainable_parameters()
    else:
        freeze_vision(model, spec, tuner_args.freeze_vit, tuner_args.freeze_aligner)
    if train_args.gradient_checkpointing:
        model.enable_input_require_grads() if hasattr(model, "enable_input_require_grads") else None
    encoder = PromptEncoder(tokenizer, spec, data_args.max_length, data_args.use_chat_template, data_args.system,
                            data_args.truncation_side, data_args.min_pixels, data_args.max_pixels)
    row_errors = skipped if data_args.skip_bad_rows else None  # image rows can still fail here
    train_rows = _labelled_rows(encoder, train_ex, train_y, "Tokenizing train", row_errors)
    val_rows = _labelled_rows(encoder, val_ex, val_y, "Tokenizing val", row_errors)
    logger.info("Task %s with %d labels; %d train / %d validation rows; %d skipped; world size %s.",
                space.problem_type, space.num_labels, len(train_rows), len(val_rows), len(skipped),
                os.environ.get("WORLD_SIZE", "1"))

    payload = {**asdict(model_args), **asdict(data_args), **asdict(tuner_args), **asdict(loss_args),
               **asdict(train_args), "model_dir": os.path.abspath(model_dir), "model_type": spec.name,
               "problem_type": space.problem_type, "label_names": space.names,
               "chat_template_applied": encoder.chat, "swiftcls_version": __version__, "extra": extra or {},
               "loss": loss_config.loss, "focal_gamma": loss_config.focal_gamma}
    # Every row is validated and encoded and the model loaded: only now is anything written.
    if main_process:
        os.makedirs(train_args.output_dir, exist_ok=True)
        remove_stale(train_args.output_dir)
        if skipped:
            write_skipped(skipped, os.path.join(train_args.output_dir, "skipped_rows.jsonl"))
        write_args(train_args.output_dir, payload)
    if zero_stage(ds_config) == 3:
        log_partitioning(model)
    trainer = SeqClsTrainer(
        model=model, args=hf_args, train_dataset=train_rows, eval_dataset=val_rows or None,
        processing_class=tokenizer,
        data_collator=make_collator(packed, tokenizer.pad_token_id, spec.padding_side, encoder.image_processor,
                                    label_dtype(space.problem_type)),
        compute_metrics=make_compute_metrics(space.problem_type, space.id2label, loss_args.threshold),
        callbacks=[ArgsSaver(payload, encoder.image_processor)], spec=spec, head_lr=loss_args.head_lr,
        vit_lr=tuner_args.vit_lr, loss_config=loss_config)
    trainer.train(resume_from_checkpoint=resume)
    return _finish(trainer, payload, space, val_rows, loss_args.threshold)


def _finish(trainer: SeqClsTrainer, payload: dict, space: LabelSpace, val_rows: list, threshold: float) -> dict:
    """Save the last model if no checkpoint holds it, evaluate, and write metrics and plots."""
    out = trainer.args.output_dir
    state = trainer.state
    last = os.path.join(out, f"checkpoint-{state.global_step}")
    if not os.path.isdir(last):
        staged = staging_dir(last)
        trainer.save_model(staged)
        trainer.accelerator.wait_for_everyone()
        if trainer.is_world_process_zero():
            write_checkpoint_extras(staged, payload, getattr(trainer.processing_class, "image_processor", None))
            publish(staged, last)
    summary = {"last_model_checkpoint": last, "best_model_checkpoint": state.best_model_checkpoint or last}
    if trainer.is_world_process_zero():
        plot_curves(state.log_history, os.path.join(out, "curves.png"))
    if val_rows:
        metrics = evaluate_rows(trainer.model, val_rows, space, trainer.data_collator,
                                trainer.args.per_device_eval_batch_size, trainer.args.device, threshold)
        summary["metrics"] = metrics
        if trainer.is_world_process_zero():
            save_metrics(metrics, os.path.join(out, "eval_metrics.json"))
            if "confusion_matrix" in metrics:
                plot_confusion_matrix(metrics["confusion_matrix"], space.names,
                                      os.path.join(out, "confusion_matrix.png"))
            print(format_report(metrics, space.problem_type))
    if trainer.is_world_process_zero():
        save_metrics(summary, os.path.join(out, "summary.json"))
        print(f"best_model_checkpoint: {summary['best_model_checkpoint']}\n"
              f"last_model_checkpoint: {summary['last_model_checkpoint']}")
    return summary


