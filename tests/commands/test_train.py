"""End-to-end training on tiny models: every problem type learns, checkpoints, resume, infer/eval agree."""

import json

import pytest
import torch
from helpers import logged_losses, make_rows, sft, write

from swiftcls import InferArguments, SftArguments, eval_main, infer_main
from swiftcls.cli.main import main
from swiftcls.config.parser import parse_args
from swiftcls.core.errors import ConfigError


@pytest.mark.parametrize("kind, problem_type, family", [
    ("single", "single_label_classification", "qwen2"),
    ("multi", "multi_label_classification", "qwen3"),
    ("regression", "regression", "llama"),
    ("single", "single_label_classification", "qwen3_moe"),  # Mixture-of-Experts: experts and routers train too
    ("regression", "regression", "qwen2_moe"),
])
def test_every_problem_type_trains_and_loss_falls(tiny_model_dir, tmp_path, kind, problem_type, family):
    train = write(tmp_path / "train.jsonl", make_rows(192, kind))
    val = write(tmp_path / "val.jsonl", make_rows(48, kind, seed=1))
    out = tmp_path / "out"
    summary = sft(["--model", str(tiny_model_dir(family)), "--dataset", train, "--val_dataset", val,
                   "--tuner_type", "full", "--learning_rate", "3e-3", "--num_train_epochs", "3",
                   "--per_device_train_batch_size", "16", "--logging_steps", "4", "--output_dir", str(out),
                   "--use_cpu", "true", "--warmup_ratio", "0"])
    losses = logged_losses(out)
    assert len(losses) >= 5
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:2]) / 2, losses
    config = json.loads((out / summary["best_model_checkpoint"].split("/")[-1] / "config.json").read_text())
    assert config["problem_type"] == problem_type
    assert (out / "eval_metrics.json").is_file() and (out / "curves.png").is_file()
    metrics = summary["metrics"]
    if kind == "single":
        assert metrics["accuracy"] > 0.8 and (out / "confusion_matrix.png").is_file()
        assert metrics["roc_auc"] > 0.8 and (out / "pr_roc.png").is_file()
    elif kind == "multi":
        assert metrics["f1_micro"] > 0.7
        assert metrics["roc_auc_macro"] > 0.7 and (out / "pr_roc.png").is_file()
    else:
        assert metrics["pearson"] > 0.7


def test_early_stopping_stops_and_the_best_checkpoint_is_the_final_model(tiny_model_dir, tmp_path):
    train = write(tmp_path / "train.jsonl", make_rows(32, "single"))
    val = write(tmp_path / "val.jsonl", make_rows(16, "single", seed=1))
    out = tmp_path / "out"
    # No evaluation can improve f1_macro by more than 1, so the second one runs out the patience of 1.
    summary = sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--val_dataset", val,
                   "--tuner_type", "full", "--learning_rate", "3e-3", "--num_train_epochs", "8",
                   "--per_device_train_batch_size", "16", "--output_dir", str(out), "--use_cpu", "true",
                   "--save_only_model", "true", "--early_stopping_patience", "1", "--early_stopping_threshold", "1"])
    assert summary["last_model_checkpoint"].endswith("checkpoint-4")  # 2 of 8 epochs of 2 steps
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    evals = {e["step"]: e["eval_f1_macro"] for e in state["log_history"] if "eval_f1_macro" in e}
    assert sorted(evals) == [2, 4] and state["best_metric"] == max(evals.values())
    best_step = int(summary["best_model_checkpoint"].rsplit("-", 1)[1])
    assert evals[best_step] == state["best_metric"]
    # The final evaluation scores the model loaded from the best checkpoint, not the last one.
    assert summary["metrics"]["f1_macro"] == pytest.approx(state["best_metric"])


def test_save_strategy_best_never_saves_the_best_model_as_the_last_step(tiny_model_dir, tmp_path):
    train = write(tmp_path / "train.jsonl", make_rows(32, "single"))
    val = write(tmp_path / "val.jsonl", make_rows(16, "single", seed=1))
    out = tmp_path / "out"
    # "Best" = the highest eval loss: the first epoch, as the loss falls; later epochs are not saved.
    summary = sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--val_dataset", val,
                   "--tuner_type", "full", "--learning_rate", "3e-3", "--num_train_epochs", "3",
                   "--per_device_train_batch_size", "16", "--output_dir", str(out), "--use_cpu", "true",
                   "--save_only_model", "true", "--save_strategy", "best", "--metric_for_best_model", "loss",
                   "--greater_is_better", "true"])
    best = summary["best_model_checkpoint"]
    assert best.endswith("checkpoint-2")
    # The model in memory at the end is the best one (loaded back), so no checkpoint-6 may be written from it.
    assert not (out / "checkpoint-6").exists() and summary["last_model_checkpoint"] == best


def test_lora_sft_then_infer_and_eval_agree(tiny_model_dir, tmp_path):
    train = write(tmp_path / "train.jsonl", make_rows(96, "single"))
    val_rows = make_rows(32, "single", seed=2)
    val = write(tmp_path / "val.jsonl", val_rows)
    out = tmp_path / "out"
    summary = sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--val_dataset", val,
                   "--train_type", "lora", "--lora_rank", "4", "--learning_rate", "5e-3", "--num_train_epochs", "2",
                   "--output_dir", str(out), "--head_lr", "1e-2", "--class_weights", "auto"])
    ckpt = summary["best_model_checkpoint"]
    args = json.loads((tmp_path / "out" / ckpt.split("/")[-1] / "args.json").read_text())
    assert args["label_names"] == ["bad", "good"] and args["tuner_type"] == "lora"
    result = infer_main(["--adapters", ckpt, "--dataset", val, "--result_path", str(tmp_path / "pred.jsonl")])
    preds = [json.loads(line) for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    assert len(preds) == 32 and preds[0]["text"] == val_rows[0]["text"]
    assert set(preds[0]["probs"]) == {"bad", "good"} and abs(sum(preds[0]["probs"].values()) - 1) < 1e-4
    assert result["metrics"]["accuracy"] == pytest.approx(summary["metrics"]["accuracy"])
    scored = eval_main(["--adapters", ckpt, "--dataset", val, "--metrics_path", str(tmp_path / "m.json")])
    assert scored["metrics"]["confusion_matrix"] == summary["metrics"]["confusion_matrix"]
    assert json.loads((tmp_path / "m.json").read_text())["accuracy"] == scored["metrics"]["accuracy"]


def test_resume_and_never_overwrite(tiny_model_dir, tmp_path):
    train = write(tmp_path / "train.jsonl", make_rows(64, "single"))
    out = str(tmp_path / "out")
    base = ["--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--tuner_type", "full",
            "--per_device_train_batch_size", "8", "--output_dir", out, "--save_strategy", "steps",
            "--save_steps", "4", "--save_total_limit", "5", "--learning_rate", "1e-3"]
    sft(base + ["--max_steps", "4"])
    with pytest.raises(ConfigError, match="never overwrites"):
        sft(base + ["--max_steps", "8"])
    summary = sft(base + ["--max_steps", "8", "--resume_from_checkpoint", "true"])
    assert summary["last_model_checkpoint"].endswith("checkpoint-8")
    state = json.loads((tmp_path / "out" / "checkpoint-8" / "trainer_state.json").read_text())
    assert state["global_step"] == 8


def test_head_lr_gets_its_own_param_group(tiny_model_dir, tmp_path):
    from transformers import TrainingArguments

    from swiftcls.core.labels import LabelSpace
    from swiftcls.core.spec import spec_for_config
    from swiftcls.models.loading import load_classifier
    from swiftcls.training.losses import LossConfig
    from swiftcls.training.trainer import SeqClsTrainer

    spec = spec_for_config("qwen2")
    model, _, _ = load_classifier(str(tiny_model_dir("qwen2")), spec, LabelSpace("regression", ["score"]))
    trainer = SeqClsTrainer(model=model, args=TrainingArguments(str(tmp_path), learning_rate=1e-5, use_cpu=True),
                            spec=spec, loss_config=LossConfig("regression"), head_lr=1e-2)
    optimizer = trainer.create_optimizer()
    head = {id(p) for p in model.score.parameters()}
    for group in optimizer.param_groups:
        is_head = {id(p) in head for p in group["params"]}
        assert len(is_head) == 1
        assert group["lr"] == (1e-2 if is_head == {True} else 1e-5)


def test_skipped_rows_are_reported_in_output_dir(tiny_model_dir, tmp_path):
    rows = make_rows(32, "single") + [{"text": "", "label": "good"}, {"text": "no label"}]
    out = tmp_path / "out"
    sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", write(tmp_path / "t.jsonl", rows),
         "--tuner_type", "full", "--max_steps", "1", "--output_dir", str(out), "--skip_bad_rows", "true"])
    skipped = [json.loads(line) for line in (out / "skipped_rows.jsonl").read_text().splitlines()]
    assert [(s["row"], s["field"]) for s in skipped] == [(33, "text"), (34, "label")]
    # infer lists the rows it skipped next to its results (an unlabelled row is fine there; an empty text is not).
    ckpt = str(max(out.glob("checkpoint-*")))
    result = infer_main(["--model", ckpt, "--dataset", str(tmp_path / "t.jsonl"), "--skip_bad_rows", "true",
                         "--result_path", str(tmp_path / "pred.jsonl")])
    listed = [json.loads(line) for line in (tmp_path / "pred_skipped.jsonl").read_text().splitlines()]
    assert result["rows"] == 33 and result["skipped"] == 1 and result["skipped_path"].endswith("pred_skipped.jsonl")
    assert [(s["row"], s["field"]) for s in listed] == [(33, "text")] and "t.jsonl" in listed[0]["file"]


def test_cli_exit_codes_and_messages(tmp_path, capsys):
    assert main(["deploy"]) == 2
    assert "pass --model" in capsys.readouterr().err
    assert main(["sft", "--model", "Qwen2.5-7B-Instrct", "--dataset", "x.jsonl",
                 "--output_dir", str(tmp_path / "o")]) == 2
    assert "Did you mean" in capsys.readouterr().err


def test_cli_config_overrides_aliases_and_trainer_flags(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: m\ndataset: [a.jsonl, b.jsonl]\nlearning_rate: 0.001\nlora_rank: 4\n")
    args = parse_args(SftArguments, ["--config", str(cfg), "--lora_rank", "16", "--train_type", "full",
                                     "--task_type", "seq_cls", "--optim", "adamw_torch", "--max_grad_norm=0.5"])
    assert args.model == "m" and args.dataset == ["a.jsonl", "b.jsonl"]
    assert args.lora_rank == 16 and args.tuner_type == "full" and args.learning_rate == 0.001
    assert args.optim == "adamw_torch" and args.max_grad_norm == 0.5  # any Trainer option is a flag
    with pytest.raises(ConfigError, match="Did you mean --max_grad_norm"):
        parse_args(SftArguments, ["--max_grad_nrm", "1"])
    with pytest.raises(ConfigError, match="unknown flag --optim"):
        parse_args(InferArguments, ["--optim", "adamw_torch"])


def test_loss_functions():
    from swiftcls.training.losses import LossConfig, classification_loss, resolve_class_weights

    logits, labels = torch.tensor([[2.0, 0.5], [0.1, 1.0], [0.3, 0.2]]), torch.tensor([0, 1, 1])
    plain = torch.nn.functional.cross_entropy(logits, labels)
    assert torch.isclose(classification_loss(logits, labels, LossConfig("single_label_classification")), plain)
    focal = classification_loss(logits, labels, LossConfig("single_label_classification", focal_gamma=2.0))
    assert focal < plain  # focal down-weights easy examples
    assert resolve_class_weights("auto", [0, 0, 0, 1], "single_label_classification", 2) == [4 / 6, 2.0]
    assert resolve_class_weights("auto", [[1, 0], [1, 1]], "multi_label_classification", 2) == [0.0, 1.0]
    with pytest.raises(ConfigError, match="3 values for 2 labels"):
        resolve_class_weights("1,2,3", [0, 1], "single_label_classification", 2)


def test_infer_flags_override_args_json_with_a_warning(tiny_model_dir, caplog):
    from swiftcls.config.data import DataArguments
    from swiftcls.core.spec import spec_for_config
    from swiftcls.inference.prompts import training_encoder
    from swiftcls.models.loading import load_tokenizer

    spec = spec_for_config("qwen2")
    tokenizer = load_tokenizer(str(tiny_model_dir("qwen2")), spec)
    train = {"max_length": 128, "chat_template_applied": True, "system": "be brief", "truncation_side": "left"}
    with caplog.at_level("WARNING", logger="swiftcls.inference.prompts"):
        for data_args in (None, DataArguments(), DataArguments(max_length=128)):  # defaults, or the same value
            enc = training_encoder(tokenizer, spec, train, data_args)
            assert (enc.max_length, enc.chat, enc.system, enc.truncation_side) == (128, True, "be brief", "left")
        assert not caplog.records
        enc = training_encoder(tokenizer, spec, train, DataArguments(max_length=64, system="be verbose"))
    assert (enc.max_length, enc.system, enc.truncation_side) == (64, "be verbose", "left")
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "--max_length 64 differs" in warned and "(128, args.json)" in warned and "--system 'be verbose'" in warned
    # A foreign checkpoint (no args.json) takes the flags as given.
    assert training_encoder(tokenizer, spec, {}, DataArguments(max_length=32)).max_length == 32
