"""Argument dataclasses, one per concern. Field names follow SWIFT / transformers so flags feel familiar."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..core.errors import ConfigError


def arg(default, help: str, aliases: tuple[str, ...] = (), choices: tuple | None = None,  # noqa: A002
        only: tuple[str, ...] | None = None):
    """A dataclass field carrying its CLI help, aliases, choices and (``only``) the subcommands that offer it."""
    meta = {"help": help, "aliases": aliases, "choices": choices, "only": only}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ModelArguments:
    """Which model, and how its classification head is configured."""

    model: str | None = arg(None, "Local folder, pkg:<python package>/<folder> (a checkpoint shipped in an installed "
                                  "package), hub id (org/name) or short name such as Qwen2.5-7B-Instruct.")
    use_hf: bool = arg(True, "Download hub ids from Hugging Face (true) or ModelScope (false).")
    model_revision: str | None = arg(None, "Hub revision (branch, tag or commit).")
    torch_dtype: str = arg("auto", "float32|bfloat16|float16|auto (bf16 on GPUs that support it, else fp32).",
                           choices=("auto", "float32", "bfloat16", "float16"))
    attn_impl: str | None = arg(None, "Attention implementation (sdpa, eager, flash_attention_2).")
    trust_remote_code: bool = arg(False, "Allow custom model code from the checkpoint (off by default: security).")
    # Training-only: a trained checkpoint carries its labels, so infer/export/deploy do not offer these flags.
    num_labels: int | None = arg(None, "Number of labels; inferred from the data when omitted.", only=("sft",))
    problem_type: str | None = arg(
        None, "single_label_classification|multi_label_classification|regression; inferred when omitted.",
        choices=(None, "single_label_classification", "multi_label_classification", "regression"), only=("sft",))
    labels: list[str] = arg([], "Label names in id order, or one path to a file with one name per line.",
                            only=("sft",))


@dataclass
class DataArguments:
    """Where the data comes from and how rows become model inputs."""

    dataset: list[str] = arg([], "Data files (.jsonl/.json/.csv/.tsv/.parquet), dataset folders or hub datasets "
                                 "'name[:subset][@split][#N]' (split default train, e.g. glue:sst2@validation#500, "
                                 "data_dir@validation); 'file#N' samples N rows. Several are concatenated.")
    val_dataset: list[str] = arg([], "Validation files/datasets (same syntax as --dataset; give hub datasets and "
                                     "folders their split, e.g. glue:sst2@validation).")
    split_dataset_ratio: float = arg(0.0, "Hold out this fraction of --dataset for validation (stratified for "
                                          "single-label) when --val_dataset is not given.")
    columns: str | None = arg(None, "JSON map from your column names to text/text_pair/label/messages/images, "
                                    "e.g. '{\"SMS\": \"text\", \"Label\": \"label\"}'. Header-less files use indices.")
    delimiter: str | None = arg(None, "CSV/TSV delimiter (default: ',' for .csv, tab for .tsv).")
    header: bool = arg(True, "Whether CSV/TSV files have a header row; false keys columns by index 0,1,...")
    quoting: str = arg("auto", "CSV quoting: auto (none for TSV, standard for CSV), csv or none.",
                       choices=("auto", "csv", "none"))
    encoding: str = arg("utf-8-sig", "File encoding (utf-8-sig strips a BOM).")
    max_length: int = arg(512, "Maximum tokens per row; longer rows are truncated.")
    truncation_side: str = arg("right", "Which side to cut when a row is too long.", choices=("left", "right"))
    use_chat_template: bool | None = arg(None, "Wrap text in the tokenizer's chat template (default: the "
                                               "template's setting, and only if the tokenizer has one).")
    system: str | None = arg(None, "System prompt added to chat-template prompts.")
    skip_bad_rows: bool = arg(False, "Skip bad rows and write a report of each, instead of stopping at the first.")
    max_pixels: int | None = arg(None, "Image pixel budget (multimodal models): larger images are downscaled to at "
                                       "most this many pixels (Qwen2-VL: one token per 28x28 pixels), e.g. "
                                       "200704 = 256 tokens. Default: $MAX_PIXELS (SWIFT's convention), else "
                                       "the checkpoint's image processor setting.")
    min_pixels: int | None = arg(None, "Smaller images are upscaled to at least this many pixels (multimodal "
                                       "models). Default: $MIN_PIXELS, else the checkpoint's image processor setting.")
    data_seed: int = arg(42, "Seed for 'file#N' sampling and the validation split.")

    def __post_init__(self):
        # SWIFT and qwen-vl-utils users set the pixel budget through the environment.
        for name in ("max_pixels", "min_pixels"):
            value = os.environ.get(name.upper())
            if getattr(self, name) is None and value:
                if not value.isdigit():
                    raise ConfigError(f"${name.upper()}={value!r}: expected a whole number of pixels, e.g. 200704.")
                setattr(self, name, int(value))


@dataclass
class TunerArguments:
    """LoRA or full fine-tuning."""

    tuner_type: str = arg("lora", "lora or full.", aliases=("--train_type",), choices=("lora", "full"))
    lora_rank: int = arg(8, "LoRA rank r.")
    lora_alpha: int = arg(32, "LoRA alpha.")
    lora_dropout: float = arg(0.05, "LoRA dropout.")
    target_modules: list[str] = arg(["all-linear"], "LoRA targets: all-linear, default (the template's list), "
                                                    "or module names.")
    modules_to_save: list[str] = arg([], "Extra modules trained fully and saved with the adapter "
                                         "(the classification head always is).")
    freeze_vit: bool = arg(True, "Multimodal models: keep the vision encoder frozen (no LoRA on it, no full "
                                 "fine-tuning of it).")
    freeze_aligner: bool = arg(True, "Multimodal models: keep the vision-to-text projector (merger) frozen.")
    vit_lr: float | None = arg(None, "Learning rate of the vision encoder and projector when they train "
                                     "(default: --learning_rate).")


@dataclass
class LossArguments:
    """Loss shaping and decision rules."""

    class_weights: str | None = arg(None, "'auto' (inverse class frequency / positive weight for multi-label) "
                                          "or comma-separated weights in label-id order.")
    label_smoothing: float = arg(0.0, "Label smoothing for single-label cross-entropy.")
    focal_gamma: float = arg(0.0, "Focal loss gamma (0 = plain CE/BCE).")
    threshold: float = arg(0.5, "Probability threshold for multi-label predictions.")
    head_lr: float | None = arg(None, "Learning rate for the classification head (default: --learning_rate).")


@dataclass
class TrainArguments:
    """The usual transformers.TrainingArguments; any other TrainingArguments flag is passed through too."""

    task: str = arg("seq_cls", "Task type; swiftcls does sequence classification.", aliases=("--task_type",),
                    choices=("seq_cls",))
    output_dir: str = arg("output", "Where checkpoints, args.json, metrics and plots are written.")
    num_train_epochs: float = arg(3.0, "Epochs.")
    max_steps: int = arg(-1, "Stop after this many optimizer steps (overrides epochs when > 0).")
    per_device_train_batch_size: int = arg(8, "Training batch size per device.", aliases=("--batch_size",))
    per_device_eval_batch_size: int = arg(16, "Evaluation batch size per device.")
    gradient_accumulation_steps: int = arg(1, "Gradient accumulation steps.")
    learning_rate: float | None = arg(None, "Peak learning rate (default 1e-4 for LoRA, 2e-5 for full).")
    weight_decay: float = arg(0.0, "AdamW weight decay.")
    warmup_ratio: float = arg(0.05, "Fraction of steps used for linear warm-up.")
    lr_scheduler_type: str = arg("cosine", "Learning-rate schedule (linear, cosine, constant, ...).")
    logging_steps: int = arg(10, "Log every N steps.")
    eval_strategy: str = arg("epoch", "no|steps|epoch.", choices=("no", "steps", "epoch"))
    eval_steps: int | None = arg(None, "Evaluate every N steps with --eval_strategy steps.")
    save_strategy: str | None = arg(None, "no|steps|epoch (default: same as --eval_strategy).")
    save_steps: int | None = arg(None, "Save every N steps (default: --eval_steps).")
    save_total_limit: int | None = arg(2, "Keep at most this many checkpoints (the best one is always kept).")
    metric_for_best_model: str | None = arg(None, "Metric picking the best checkpoint (default: accuracy, "
                                                  "f1_micro for multi-label, mse for regression).")
    seed: int = arg(42, "Random seed.")
    gradient_checkpointing: bool = arg(False, "Trade compute for memory.")
    group_by_length: bool = arg(True, "Batch rows of similar length together (less padding).")
    padding_free: bool = arg(True, "Concatenate each batch's rows without pad tokens (text decoders: qwen2, qwen3, "
                                   "llama, qwen2_moe, qwen3_moe); encoders and image+text models fall back to padded "
                                   "batches with a log line. Without --attn_impl, packed models use flash_attention_2 "
                                   "(CUDA with flash-attn) or swiftcls_varlen (torch's varlen kernel); see "
                                   "docs/performance.md.")
    report_to: list[str] = arg(["none"], "tensorboard, wandb, ... or none.")
    resume_from_checkpoint: str | None = arg(None, "Checkpoint folder to resume from ('true' = the latest in "
                                                   "--output_dir).")
    dataloader_num_workers: int = arg(0, "DataLoader worker processes.")
    use_cpu: bool = arg(False, "Train on the CPU even when a GPU is present.")
    deepspeed: str | None = arg(None, "DeepSpeed ZeRO: zero2, zero3, zero2_offload, zero3_offload (configs shipped "
                                      "with swiftcls) or the path to your own DeepSpeed JSON.")


@dataclass
class InferArguments:
    """Prediction and scoring on a trained model."""

    adapters: str | None = arg(None, "LoRA checkpoint folder (its base model is read from args.json when "
                                     "--model is omitted).")
    result_path: str | None = arg(None, "JSONL file for predictions (default: <checkpoint>/infer_result.jsonl).")
    metrics_path: str | None = arg(None, "JSON file for metrics (default: next to --result_path).")
    batch_size: int = arg(32, "Rows per forward pass (rows are sorted by length first).")
    threshold: float | None = arg(None, "Multi-label probability threshold (default: the one used in training).")
    device: str | None = arg(None, "cpu, cuda, cuda:1, ... (default: cuda when available).")
    padding_free: bool = arg(True, "Pack each batch's rows without pad tokens where supported (see sft "
                                   "--padding_free); false pads length-sorted batches.")
    infer_backend: str = arg("pt", "pt: PyTorch/transformers (any swiftcls checkpoint); vllm: vLLM's pooling runner "
                                   "(exported folders only: run swiftcls export first for LoRA checkpoints).",
                             choices=("pt", "vllm"))


@dataclass
class ExportArguments:
    """Export a trained classifier as a plain Hugging Face checkpoint (LoRA merged)."""

    adapters: str | None = arg(None, "LoRA checkpoint folder (its base model is read from args.json when --model is "
                                     "omitted). Without it, --model is the full checkpoint to export.")
    output_dir: str | None = arg(None, "Folder to write (required); must not exist or be empty. Written atomically.")
    merge_lora: bool = arg(True, "Merge the LoRA weights into the base model (needed for a plain checkpoint).")
    to: str = arg("hf", "hf: transformers *ForSequenceClassification (vLLM, TEI, ...); lmdeploy: the "
                        "Qwen2ForRewardModel layout (Qwen2 regression or binary models only).",
                  choices=("hf", "lmdeploy"))


@dataclass
class DeployArguments:
    """Serve a trained classifier over HTTP (vLLM-compatible /classify); see docs/serving.md."""

    adapters: str | None = arg(None, "LoRA checkpoint folder (its base model is read from args.json when --model "
                                     "is omitted); without it --model is an exported folder or full checkpoint.")
    host: str = arg("127.0.0.1", "Interface to bind. The default accepts local connections only; 0.0.0.0 exposes "
                                 "the server to the network (then also set --api_key).")
    port: int = arg(8000, "TCP port (0 picks a free one).")
    served_model_name: str | None = arg(None, "Model name in responses and /v1/models (default: the folder name).")
    api_key: str | None = arg(None, "Require 'Authorization: Bearer KEY' on /classify and /v1/models (401 "
                                    "otherwise). Default: the SWIFTCLS_API_KEY environment variable, else no key.")
    device: str | None = arg(None, "cpu, cuda, cuda:1, ... (default: cuda when available).")
    threshold: float | None = arg(None, "Multi-label probability threshold (default: the one used in training).")
    max_batch_size: int = arg(32, "Most inputs per forward pass; concurrent requests are batched up to this.")
    padding_free: bool = arg(True, "Pack each batch's inputs without pad tokens where supported (text decoders, "
                                   "as in infer --padding_free); false pads them.")
    max_wait_ms: float = arg(5.0, "How long the batcher waits for more requests before running a partial batch.")
    max_inputs: int = arg(64, "Most inputs in one request (more: 422).")
    max_request_bytes: int = arg(1 << 20, "Largest request body in bytes (larger: 413).")
    max_text_length: int = arg(32768, "Longest input text in characters (longer: 422). Texts within it are "
                                      "still cut to the training --max_length tokens, as in training.")
    max_queue: int = arg(256, "Most requests waiting for the model; beyond it the server answers 503.")
    keep_alive_timeout: float = arg(15.0, "Seconds a connection may stay silent (idle between keep-alive requests, "
                                          "or stalled while sending one) before the server closes it. Behind a "
                                          "load balancer, set it above the balancer's idle timeout.")
    image_dir: str | None = arg(None, "Folder that image paths in requests must lie inside (VL models). Without "
                                      "it only inline data: URLs are accepted.")
    allow_remote_images: bool = arg(False, "Let requests name http(s) image URLs, which the server then fetches "
                                           "(off by default: no outbound requests on behalf of clients).")
    max_image_bytes: int = arg(10 << 20, "Largest image file, data: URL or download in bytes.")
