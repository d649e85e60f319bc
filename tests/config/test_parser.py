"""Flags and YAML configs into argument dataclasses: every Trainer option, defaults in --help, typos caught."""

import dataclasses
import warnings

import pytest
from transformers import TrainingArguments

from swiftcls import DeployArguments, EvalArguments, ExportArguments, InferArguments, SftArguments
from swiftcls.config.parser import (
    build_parser,
    from_dict,
    given_flags,
    help_groups,
    parse_args,
    parse_values,
    to_arguments,
)
from swiftcls.core.errors import ConfigError

BASE = ["--model", "m", "--dataset", "d.jsonl"]
COMMANDS = [SftArguments, InferArguments, EvalArguments, ExportArguments, DeployArguments]


def test_every_trainer_option_is_a_flag_with_its_default_in_help():
    help_text = build_parser(SftArguments, "swiftcls sft").format_help()
    ours = {f.name: f for f in dataclasses.fields(SftArguments)}
    for f in dataclasses.fields(TrainingArguments):
        if f.init:
            assert f"--{f.name} " in help_text or f"--{f.name}\n" in help_text, f.name
            assert ours[f.name].init
    # Every flag shows its default; swiftcls's own defaults where they differ from transformers'.
    assert help_text.count("(default:") >= len([f for f in ours.values() if f.init])
    assert "--lr_scheduler_type LR_SCHEDULER_TYPE" in help_text and "(default: linear)" in help_text
    assert "Training (transformers.TrainingArguments)" in help_text and "Tuner:" in help_text


@pytest.mark.parametrize("cls", COMMANDS, ids=lambda c: c.__name__)
def test_each_option_is_declared_once_per_command(cls):
    flags = [f.name for group in help_groups(cls) for f in dataclasses.fields(group)]
    assert len(flags) == len(set(flags)) == len([f for f in dataclasses.fields(cls) if f.init])
    build_parser(cls)  # argparse refuses two options with one name


def test_shared_options_are_one_declaration():
    """padding_free, threshold and adapters: one field each, the same object in every command that offers it."""
    for name in ("padding_free", "threshold", "adapters", "model", "torch_dtype"):
        owners = {c.__dataclass_fields__[name].metadata["help"] for c in COMMANDS if name in c.__dataclass_fields__}
        assert len(owners) == 1, name


def test_swift_aliases_dashes_and_typed_values():
    args = parse_args(SftArguments, [*BASE, "--train_type", "full", "--task_type", "seq_cls", "--batch_size", "4",
                                     "--warmup_ratio", "0.1", "--lora-rank", "16", "--labels", "neg", "pos",
                                     "--use_cpu", "--no_padding_free"])
    assert (args.tuner_type, args.per_device_train_batch_size, args.warmup_steps) == ("full", 4, 0.1)
    assert args.lora_rank == 16
    assert args.labels == ["neg", "pos"] and args.use_cpu is True and args.padding_free is False
    infer = parse_args(InferArguments, ["--adapters", "a", "--dataset", "x.jsonl", "--result-path", "p.jsonl"])
    assert infer.result_path == "p.jsonl" and infer.dataset == ["x.jsonl"]


@pytest.mark.parametrize("argv, match", [
    (["--num_train_epoch", "1"], "unknown flag --num_train_epoch .*Did you mean --num_train_epochs"),
    (["--lerning_rate", "1e-4"], "Did you mean --learning_rate"),
    (["--num_train", "1"], "unknown flag --num_train"),  # no abbreviations: a prefix is not a flag
    (["--tuner_type", "qlora"], "invalid choice"),
    (["--lora_rank", "eight"], "invalid int value"),
    (["--max_length", "64", "stray"], "unexpected value 'stray'"),
])
def test_flag_mistakes_are_config_errors_with_a_hint(argv, match):
    with pytest.raises(ConfigError, match=match):
        parse_values(SftArguments, [*BASE, *argv], "swiftcls sft")


def test_yaml_config_keys_are_checked_like_flags_and_flags_override(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("model: m\ndataset: [a.jsonl]\nlabels: [neg, pos]\ncolumns: {SMS: text}\nlearning_rate: 1.0e-3\n"
                    "use_cpu: true\nsystem: null\nmax-length: 64\n")
    args = parse_args(SftArguments, ["--config", str(good), "--learning_rate", "5e-4"])
    assert args.learning_rate == 5e-4 and args.labels == ["neg", "pos"] and args.columns == '{"SMS": "text"}'
    assert args.use_cpu is True and args.system is None and args.max_length == 64
    typo = tmp_path / "typo.yaml"
    typo.write_text("model: m\ndataset: [a.jsonl]\nnum_train_epoch: 1\n")
    with pytest.raises(ConfigError, match=r"--config .*typo.yaml: unknown key 'num_train_epoch'\. Did you mean "
                                          r"--num_train_epochs"):
        parse_args(SftArguments, ["--config", str(typo)])
    with pytest.raises(ConfigError, match="unknown key 'optim'"):  # a Trainer option is not an infer option
        typo.write_text("optim: adamw_torch\n")
        parse_values(InferArguments, ["--config", str(typo)])


def test_python_forms_instance_dict_and_flags_agree():
    from_flags = to_arguments(InferArguments, ["--model", "m", "--dataset", "x.jsonl", "--batch_size", "4"])
    from_dict_ = to_arguments(InferArguments, {"model": "m", "dataset": "x.jsonl", "batch_size": 4})
    assert from_flags == from_dict_ and to_arguments(InferArguments, from_flags) is from_flags
    with pytest.raises(ConfigError, match="no option 'batchsize'. Did you mean batch_size"):
        from_dict(InferArguments, {"model": "m", "dataset": ["x"], "batchsize": 4})
    with pytest.raises(ConfigError, match="not one string"):
        to_arguments(InferArguments, "--model m")


def test_sft_defaults_follow_the_run():
    lora = SftArguments(model="m", dataset=["d"])
    assert lora.learning_rate == 1e-4 and lora.threshold == 0.5 and lora.data_seed == lora.seed == 42
    assert lora.eval_strategy == "no" and lora.save_strategy == "epoch" and not lora.load_best_model_at_end
    full = SftArguments(model="m", dataset=["d"], tuner_type="full", val_dataset=["v"], seed=7)
    assert full.learning_rate == 2e-5 and full.data_seed == 7
    assert full.eval_strategy == "epoch" == full.save_strategy and full.load_best_model_at_end
    full.set_problem_type("regression")
    assert (full.metric_for_best_model, full.greater_is_better) == ("pearson", True)
    for problem_type, metric in (("single_label_classification", "f1_macro"),
                                 ("multi_label_classification", "f1_micro")):
        auto = SftArguments(model="m", dataset=["d"], val_dataset=["v"])
        auto.set_problem_type(problem_type)
        assert (auto.metric_for_best_model, auto.greater_is_better) == (metric, True)
    mine = SftArguments(model="m", dataset=["d"], val_dataset=["v"], metric_for_best_model="mae")
    mine.set_problem_type("single_label_classification")  # the user's metric stays, and lower mae is better
    assert (mine.metric_for_best_model, mine.greater_is_better) == ("mae", False)
    assert isinstance(mine, TrainingArguments) and mine.report_to == [] and mine.remove_unused_columns is False


def test_max_negative_samples_defaults_to_ms_swift_env(monkeypatch):
    assert parse_args(SftArguments, [*BASE, "--task", "reranker"]).max_negative_samples == 7
    monkeypatch.setenv("MAX_NEGATIVE_SAMPLES", "3")
    assert parse_args(SftArguments, [*BASE, "--task", "reranker"]).max_negative_samples == 3
    assert parse_args(SftArguments, [*BASE, "--max_negative_samples", "5"]).max_negative_samples == 5


def test_early_stopping_settles_the_best_checkpoint_flags():
    args = parse_args(SftArguments, [*BASE, "--val_dataset", "v", "--early_stopping_patience", "3",
                                     "--early_stopping_threshold", "0.01"])
    assert (args.early_stopping_patience, args.early_stopping_threshold) == (3, 0.01)
    assert args.load_best_model_at_end and args.save_strategy == args.eval_strategy == "epoch"
    best = parse_args(SftArguments, [*BASE, "--val_dataset", "v", "--early_stopping_patience", "1",
                                     "--save_strategy", "best"])  # saves only improvements: still loadable
    assert best.load_best_model_at_end
    assert parse_args(SftArguments, [*BASE, "--val_dataset", "v", "--save_strategy", "best"]).load_best_model_at_end


def test_swift_gradient_checkpointing_name_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        args = parse_args(SftArguments, [*BASE, "--gradient_checkpointing", "true"])
    assert args.activation_checkpointing is True


def test_label_name_heads_default_to_a_prompt_listing_the_labels():
    from swiftcls.core.prompt_template import DEFAULT_PROMPT

    assert parse_args(SftArguments, BASE).prompt is None
    assert parse_args(SftArguments, [*BASE, "--head_init", "label_names"]).prompt == DEFAULT_PROMPT
    mine = parse_args(SftArguments, [*BASE, "--head_init", "label_names", "--prompt", "{labels}? {text}"])
    assert mine.prompt == "{labels}? {text}"
    assert parse_args(InferArguments, [*BASE, "--zero_shot", "--labels", "a", "b"]).prompt == DEFAULT_PROMPT
    with pytest.raises(ConfigError, match="drop --adapters"):
        parse_args(InferArguments, [*BASE, "--zero_shot", "--labels", "a", "--adapters", "x"])
    with pytest.raises(ConfigError, match="runs on --infer_backend pt"):
        parse_args(InferArguments, [*BASE, "--zero_shot", "--labels", "a", "--infer_backend", "vllm"])


@pytest.mark.parametrize("cls, argv, match", [
    (SftArguments, ["--dataset", "d"], "--model is required"),
    (SftArguments, ["--model", "m"], "--dataset is required"),
    (SftArguments, [*BASE, "--val_dataset", "v", "--split_dataset_ratio", "0.1"], "not both"),
    (SftArguments, [*BASE, "--max_length", "0"], "--max_length must be a positive"),
    (SftArguments, [*BASE, "--long_text", "chunk", "--chunk_stride", "-1"], "--chunk_stride must be >= 0"),
    (InferArguments, ["--model", "m", "--dataset", "d", "--max_chunks", "0"], "--max_chunks >= 1"),
    (SftArguments, [*BASE, "--long_text", "split"], "long_text"),
    (SftArguments, [*BASE, "--eval_strategy", "steps", "--val_dataset", "v", "--save_strategy", "epoch",
                    "--load_best_model_at_end", "true"], "load_best_model_at_end"),  # transformers' own check
    (SftArguments, [*BASE, "--task", "rm", "--num_labels", "2"], "--task rm trains a one-output regression head"),
    (SftArguments, [*BASE, "--task", "reranker", "--class_weights", "auto"], "--class_weights: classification"),
    (SftArguments, [*BASE, "--task", "reranker", "--max_negative_samples", "0"], "--max_negative_samples must be"),
    (SftArguments, [*BASE, "--early_stopping_patience", "2"], "needs validation rows.*--val_dataset"),
    (SftArguments, [*BASE, "--early_stopping_patience", "2", "--val_dataset", "v", "--eval_strategy", "no"],
     "needs evaluations: use --eval_strategy epoch"),
    (SftArguments, [*BASE, "--early_stopping_patience", "2", "--val_dataset", "v", "--load_best_model_at_end",
                    "false"], "drop --load_best_model_at_end false"),
    (SftArguments, [*BASE, "--early_stopping_patience", "2", "--val_dataset", "v", "--eval_strategy", "steps",
                    "--save_strategy", "epoch"], "--save_strategy epoch differs from --eval_strategy steps"),
    (SftArguments, [*BASE, "--early_stopping_patience", "0", "--val_dataset", "v"], "must be a number of evaluat"),
    (SftArguments, [*BASE, "--early_stopping_threshold", "0.01", "--val_dataset", "v"], "pass both"),
    (SftArguments, [*BASE, "--early_stopping_patience", "1", "--early_stopping_threshold", "-1", "--val_dataset",
                    "v"], "--early_stopping_threshold must be >= 0"),
    (InferArguments, ["--model", "m"], "--dataset is required"),
    (ExportArguments, ["--model", "m"], "--output_dir is required"),
    (DeployArguments, ["--model", "m", "--max_queue", "0"], "--max_queue must be at least 1"),
])
def test_contradicting_or_missing_options(cls, argv, match):
    with pytest.raises(ConfigError, match=match):
        parse_args(cls, argv)


@pytest.mark.parametrize("cls", COMMANDS, ids=lambda c: c.__name__)
def test_every_command_shows_each_default_and_takes_dashes(cls, tmp_path):
    """Each option's --help entry ends with its default, and ``--x-y`` (flag or config key) works like ``--x_y``."""
    help_text = build_parser(cls, "swiftcls x").format_help()
    entries = help_text.split("\n  --")[1:]  # one entry per option, up to the next option
    assert len(entries) >= len([f for f in dataclasses.fields(cls) if f.init])
    assert all("(default:" in entry for entry in entries if not entry.startswith(("help", "config"))), [
        entry.split()[0] for entry in entries if "(default:" not in entry]
    dashed = next(f.name for f in dataclasses.fields(cls) if "_" in f.name and f.type in ("str | None", "str"))
    config = tmp_path / "c.yaml"
    config.write_text(f"{dashed.replace('_', '-')}: v1\n")
    assert parse_values(cls, ["--config", str(config)])[dashed] == "v1"
    assert parse_values(cls, ["--" + dashed.replace("_", "-"), "v2"])[dashed] == "v2"


def test_given_flags_are_the_options_typed_in_any_spelling(tmp_path):
    """infer/eval let a typed flag win over args.json even at its default value: every spelling counts (``=`` form,
    dashes, aliases, ``--no_x``, config keys), and a value that merely looks like a flag does not."""
    config = tmp_path / "c.yaml"
    config.write_text("max_length: 512\n")  # the default value, still a choice
    argv = ["--model=m", "--dataset", "d.jsonl", "--truncation-side", "right", "--batch_size", "8", "--no_freeze_vit",
            "--system", "--model x", "--config", str(config)]
    assert given_flags(parse_args(SftArguments, argv)) == {"model", "dataset", "truncation_side",
                                                            "per_device_train_batch_size", "freeze_vit", "system",
                                                            "max_length"}
    assert given_flags(parse_args(InferArguments, BASE)) == {"model", "dataset"}
    assert given_flags(SftArguments(model="m", dataset=["d.jsonl"])) is None  # built in Python: no record
