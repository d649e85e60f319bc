"""``swiftcls export`` (Hugging Face and LMDeploy layouts) and the Python API, on tiny models trained a few steps.

Tiny runs are trained once per module: single-label with LoRA (Qwen2, binary), multi-label full fine-tuning
(Qwen3), regression full fine-tuning (Qwen2, no validation set), and the Mixture-of-Experts families (Qwen2-MoE with
LoRA on attention + shared expert, Qwen3-MoE fully). Each is exported once and checked against swiftcls's own logits.
"""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import make_rows, write
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, Qwen2Model

from swiftcls import ExportArguments, ModelArguments, export_main, infer_main, sft_main
from swiftcls.cli.main import main
from swiftcls.core.errors import ConfigError
from swiftcls.data.collators import Collator
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder
from swiftcls.inference.predict import predict_logits
from swiftcls.metrics.classification import logits_to_probs
from swiftcls.models.pooling import pool_last
from swiftcls.models.trained import load_trained

# run -> (rows kind for make_rows, family, tuner, problem_type, architecture)
RUNS = {
    "single": ("single", "qwen2", "lora", "single_label_classification", "Qwen2ForSequenceClassification"),
    "multi": ("multi", "qwen3", "full", "multi_label_classification", "Qwen3ForSequenceClassification"),
    "regression": ("regression", "qwen2", "full", "regression", "Qwen2ForSequenceClassification"),
    "moe-single": ("single", "qwen2_moe", "lora", "single_label_classification", "Qwen2MoeForSequenceClassification"),
    "moe-multi": ("multi", "qwen3_moe", "full", "multi_label_classification", "Qwen3MoeForSequenceClassification"),
}
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa"]
EXTRA = ["a", "a much longer text that forces padding inside the batch: " + " ".join(WORDS * 3)]


def umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    """``get(name) -> dict``: a tiny trained run, its HF export and swiftcls's logits before export, built once."""
    cache = {}

    def get(name):
        if name not in cache:
            kind, family, tuner, _, _ = RUNS[name]
            root = tmp_path_factory.mktemp(f"export-{name}")
            val_rows = make_rows(8, kind, seed=1)
            val = write(root / "val.jsonl", val_rows)
            train = write(root / "train.jsonl", make_rows(32, kind, seed=0))
            ckpt = sft_main([
                "--model", str(tiny_model_dir(family)), "--dataset", train, "--tuner_type", tuner,
                *(["--val_dataset", val] if kind != "regression" else []), "--lora_rank", "4",
                "--learning_rate", "5e-3", "--max_steps", "2", "--per_device_train_batch_size", "16",
                "--output_dir", str(root / "run"), "--use_cpu", "true", "--warmup_ratio", "0", "--logging_steps", "1",
            ])["last_model_checkpoint"]
            source = ["--adapters", ckpt] if tuner == "lora" else ["--model", ckpt]
            run = {"ckpt": ckpt, "source": source, "base": str(tiny_model_dir(family)), "val": val,
                   "texts": [r["text"] for r in val_rows] + EXTRA, "export": root / "exported"}
            run.update(swiftcls_logits(run))
            if name == "single":  # through the command line once
                assert main(["export", *source, "--output_dir", str(run["export"])]) == 0
            else:
                export_main([*source, "--output_dir", str(run["export"])])
            cache[name] = run
        return cache[name]

    return get


def swiftcls_logits(run):
    """Logits of the checkpoint before export, through swiftcls (LoRA attached, pooled forward)."""
    lora = run["source"][0] == "--adapters"
    model, tokenizer, spec, _, train = load_trained(None if lora else run["ckpt"], run["ckpt"] if lora else None,
                                                    ModelArguments(torch_dtype="float32"), "cpu")
    encoder = PromptEncoder(tokenizer, spec, train["max_length"], train["chat_template_applied"], train["system"],
                            train["truncation_side"])
    rows = encoder.encode([Example(t) for t in run["texts"]])
    logits = torch.from_numpy(predict_logits(model, rows, Collator(tokenizer.pad_token_id)))
    return {"logits": logits, "rows": rows, "spec": spec, "train": train}


@pytest.mark.parametrize("name", list(RUNS))
def test_hf_export_round_trip(runs, name):
    run = runs(name)
    kind, family, tuner, problem_type, architecture = RUNS[name]
    export, train = run["export"], run["train"]
    names = {p.name for p in export.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "args.json", "README.md"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl"))], names
    if family.endswith("_moe"):  # written in the hub's per-expert layout (what vLLM and older transformers read)
        assert "model.layers.0.mlp.experts.3.down_proj.weight" in load_file(export / "model.safetensors")
    config = json.loads((export / "config.json").read_text())
    labels = {"single": ["bad", "good"], "multi": ["blue", "red"], "regression": ["score"]}[kind]
    assert config["architectures"] == [architecture] and config["problem_type"] == problem_type
    assert config["num_labels"] == len(labels) and config["dtype"] == "float32"
    assert config["id2label"] == {str(i): n for i, n in enumerate(labels)}
    assert config["label2id"] == {n: i for i, n in enumerate(labels)}

    tokenizer = AutoTokenizer.from_pretrained(export)  # plain transformers from here on
    assert config["pad_token_id"] == tokenizer.pad_token_id is not None
    encoder = PromptEncoder(tokenizer, run["spec"], train["max_length"], train["chat_template_applied"])
    rows = encoder.encode([Example(t) for t in run["texts"]])
    assert encoder.chat and [r["input_ids"] for r in rows] == [r["input_ids"] for r in run["rows"]]
    model = AutoModelForSequenceClassification.from_pretrained(export).eval()  # its own forward and pooling
    with torch.no_grad():
        after = model(**Collator(tokenizer.pad_token_id, "right")(rows)).logits
    assert after.shape == (len(run["texts"]), len(labels))
    torch.testing.assert_close(after, run["logits"], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(after[0], after[-1])

    args = json.loads((export / "args.json").read_text())
    assert args["chat_template_applied"] is True and args["label_names"] == labels
    assert args["export"]["lora_merged"] == (tuner == "lora")
    card = (export / "README.md").read_text()
    assert problem_type.replace("_", " ") in card and "--runner pooling" in card
    # no absolute local paths (the run, the base model, the data were all under absolute tmp folders)
    assert str(export.parent) not in card and run["base"] not in card and str(Path(run["base"]).parent) not in card
    assert "exported from `run/checkpoint-2`" in card, card
    # the weights get the mode of the files beside them (safetensors alone writes 0600), in the export and the run
    mode = 0o666 & ~umask()
    for folder in (export, Path(run["ckpt"])):
        files = [p for p in folder.iterdir() if p.suffix in (".safetensors", ".json")]
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: mode for p in files}
    assert ("## Evaluation" in card) == (kind != "regression")  # the regression run had no validation set
    assert all(f"| {n} |" in card for n in labels)
    if tuner == "lora":  # the adapters really were merged into the backbone weights
        merged, base = load_file(export / "model.safetensors"), load_file(f"{run['base']}/model.safetensors")
        key = "model.layers.0.self_attn.q_proj.weight"
        assert (merged[key] - base[key].float()).abs().max() > 1e-5


@pytest.mark.parametrize("name", list(RUNS))
def test_infer_and_python_api_agree_after_export(runs, name, tmp_path):
    from swiftcls import Classifier

    run = runs(name)
    kind, problem_type = RUNS[name][0], RUNS[name][3]
    n = len(run["texts"]) - len(EXTRA)  # the validation rows
    path = tmp_path / "after.jsonl"
    infer_main(["--model", str(run["export"]), "--dataset", run["val"], "--result_path", str(path)])
    after = [json.loads(line) for line in path.read_text().splitlines()]
    if name == "single":  # the real command on the LoRA checkpoint
        infer_main([*run["source"], "--dataset", run["val"], "--result_path", str(path)])
        before = [json.loads(line) for line in path.read_text().splitlines()]
        assert [r["pred"] for r in after] == [r["pred"] for r in before]
        for a, b in zip(after, before):
            assert a["probs"] == pytest.approx(b["probs"], abs=1e-4)
    probs_before = logits_to_probs(run["logits"][:n].numpy(), problem_type)
    clf = Classifier.from_pretrained(str(run["export"]), device="cpu")
    assert clf.problem_type == problem_type and len(clf.labels) == (1 if kind == "regression" else 2)
    texts = run["texts"][:n]
    preds, probs = clf.predict(texts, batch_size=3), clf.predict_proba(texts)
    assert probs.shape == (n, len(clf.labels))
    np.testing.assert_allclose(probs, probs_before, atol=1e-4)
    if kind == "regression":
        assert preds == pytest.approx([r["pred"] for r in after], abs=1e-5) and isinstance(preds[0], float)
    else:
        assert preds == [r["pred"] for r in after]
        np.testing.assert_allclose(probs, [[r["probs"][name] for name in clf.labels] for r in after], atol=1e-5)
    if kind == "multi":
        # each label at its own threshold (tuned on the validation rows when it had enough positives)
        assert preds == [[name for name, p in zip(clf.labels, row) if p >= clf.thresholds[name]] for row in probs]
    one = clf.predict(texts[0])  # a batch of one: no padding, so floats may differ in the last bits
    assert one == (pytest.approx(preds[:1], abs=1e-5) if kind == "regression" else preds[:1])
    if name == "single":  # straight from the LoRA checkpoint too
        lora = Classifier.from_pretrained(adapters=run["ckpt"], device="cpu")
        assert lora.predict(texts) == preds
        np.testing.assert_allclose(lora.predict_proba(texts), probs, atol=1e-4)
        with pytest.raises(ConfigError, match="text_pairs"):
            clf.predict(["a", "b"], text_pairs=["only one"])


def test_refuses_to_overwrite_and_a_crash_leaves_no_folder(runs, tmp_path, monkeypatch):
    run = runs("regression")
    with pytest.raises(ConfigError, match="never overwrites"):
        export_main(ExportArguments(model=run["ckpt"], output_dir=str(run["export"])))
    with pytest.raises(ConfigError, match="--output_dir is required"):
        ExportArguments(model=run["ckpt"])
    with pytest.raises(ConfigError, match="merge_lora"):
        export_main(["--adapters", run["ckpt"], "--output_dir", str(tmp_path / "x"), "--merge_lora", "false"])

    def crash(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("swiftcls.commands.export.model_card", crash)  # fails after the weights were written
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="disk full"):
        export_main({"model": run["ckpt"], "output_dir": str(out)})
    assert list(tmp_path.iterdir()) == []  # neither the output folder nor the temporary one is left


def reward_scalar(folder, rows, pad_token_id):
    """LMDeploy's Qwen2ForRewardModel re-implemented: Qwen2 backbone, last-token pooling, Linear -> ReLU -> Linear."""
    weights = load_file(f"{folder}/model.safetensors")
    backbone = Qwen2Model(AutoConfig.from_pretrained(folder))
    backbone.load_state_dict({k[len("model."):]: v for k, v in weights.items() if k.startswith("model.")})
    batch = Collator(pad_token_id, "right")(rows)
    with torch.no_grad():
        hidden = pool_last(backbone.eval()(**batch).last_hidden_state, batch["attention_mask"])
        first = torch.relu(hidden @ weights["score.0.weight"].T + weights["score.0.bias"])
        return (first @ weights["score.2.weight"].T + weights["score.2.bias"])[:, 0]


@pytest.mark.parametrize("kind", ["single", "regression"])
def test_lmdeploy_layout_reproduces_the_scalar(runs, kind, tmp_path):
    run = runs(kind)
    out = tmp_path / "rm"
    export_main([*run["source"], "--output_dir", str(out), "--to", "lmdeploy"])
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForRewardModel"] and config["num_labels"] == 1
    weights = load_file(str(out / "model.safetensors"))
    hidden = config["hidden_size"]
    shapes = {k: tuple(v.shape) for k, v in weights.items() if k.startswith("score")}
    assert shapes == {"score.0.weight": (hidden, hidden), "score.0.bias": (hidden,),
                      "score.2.weight": (1, hidden), "score.2.bias": (1,)}
    logits, rows = run["logits"], run["rows"]
    expected = logits[:, 0] if kind == "regression" else logits[:, 1] - logits[:, 0]
    scalar = reward_scalar(out, rows, config["pad_token_id"])
    torch.testing.assert_close(scalar, expected, atol=1e-4, rtol=1e-4)
    if kind == "single":  # sigmoid(margin) is the probability of the second label
        probs = logits_to_probs(logits.numpy(), "single_label_classification")[:, 1].astype(np.float32)
        torch.testing.assert_close(torch.sigmoid(scalar), torch.from_numpy(probs), atol=1e-5, rtol=1e-4)
    assert "Qwen2ForRewardModel" in (out / "README.md").read_text()


def test_lmdeploy_refuses_what_it_cannot_serve(runs, tiny_model_dir, tmp_path):
    run = runs("multi")  # a Qwen3 model, and multi-label
    with pytest.raises(ConfigError, match="'qwen3' template names no LMDeploy reward architecture.*single-scalar"):
        export_main([*run["source"], "--output_dir", str(tmp_path / "a"), "--to", "lmdeploy"])
    for problem_type, labels in (("single_label_classification", ["neg", "neu", "pos"]),
                                 ("multi_label_classification", ["x", "y"])):
        fake = tmp_path / f"fake-{problem_type}"  # only config.json: refused before any weights are read
        fake.mkdir()
        config = json.loads((tiny_model_dir("qwen2") / "config.json").read_text())
        config.update(problem_type=problem_type, id2label=dict(enumerate(labels)),
                      label2id={n: i for i, n in enumerate(labels)})
        (fake / "config.json").write_text(json.dumps(config))
        with pytest.raises(ConfigError, match=f"{problem_type} model with {len(labels)} outputs has no single scalar"):
            export_main(ExportArguments(model=str(fake), output_dir=str(tmp_path / "b"), to="lmdeploy"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_errors_and_import_stays_light(capsys):
    import swiftcls
    from swiftcls.inference.classifier import Classifier

    assert main(["export"]) == 2
    assert "--output_dir is required" in capsys.readouterr().err
    assert swiftcls.Classifier is Classifier and "Classifier" in swiftcls.__all__
    with pytest.raises(AttributeError):
        swiftcls.NoSuchThing  # noqa: B018
    code = "import sys, swiftcls; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


PROMPT = [{"role": "system", "content": "rate the answer"}, {"role": "user", "content": "alpha beta?"}]
CHATS = [PROMPT + [{"role": "assistant", "content": answer}] for answer in ("up up up", "gamma", "delta omega kappa")]


def conversation_scores(run, conversations):
    """swiftcls's one-output value of whole conversations (the reward of prompt + response), before export."""
    model, tokenizer, spec, _, train = load_trained(run["ckpt"], None, ModelArguments(torch_dtype="float32"), "cpu")
    encoder = PromptEncoder(tokenizer, spec, train["max_length"], train["chat_template_applied"], train["system"],
                            train["truncation_side"])
    rows = encoder.encode([Example(None, messages=m) for m in conversations])
    assert all(encoder.tokenizer.decode(r["input_ids"]).count("<|im_start|>assistant") == 2 for r in rows)
    return predict_logits(model, rows, Collator(tokenizer.pad_token_id))[:, 0], rows


def test_infer_writes_one_score_per_pair_and_per_whole_conversation(runs, tmp_path):
    """A one-output model: ``pred`` is the head's value; a ``messages`` row with the response scores it all."""
    from swiftcls import Classifier

    run = runs("regression")
    pairs = [{"query": "alpha beta", "text_pair": doc} for doc in ("alpha up", "kappa", "up up beta")]
    data = write(tmp_path / "rows.jsonl", pairs + [{"messages": m} for m in CHATS])
    out = tmp_path / "scores.jsonl"
    infer_main(["--model", run["ckpt"], "--dataset", data, "--result_path", str(out)])
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(written) == len(pairs) + len(CHATS) and all(isinstance(r["pred"], float) for r in written)
    assert [r.get("text_pair") for r in written[:3]] == [p["text_pair"] for p in pairs]  # the row is kept
    clf = Classifier.from_pretrained(run["ckpt"], device="cpu")
    np.testing.assert_allclose([r["pred"] for r in written[:3]],
                               clf.score("alpha beta", [p["text_pair"] for p in pairs]), atol=1e-5)
    expected, _ = conversation_scores(run, CHATS)
    np.testing.assert_allclose([r["pred"] for r in written[3:]], expected, atol=1e-5)
    assert len({round(r["pred"], 5) for r in written[3:]}) == len(CHATS)  # the response changes the reward


def test_lmdeploy_reward_layout_scores_chat_rows_as_swiftcls(runs, tmp_path):
    """A reward head exported --to lmdeploy gives each (prompt, response) conversation swiftcls's score."""
    run = runs("regression")
    out = tmp_path / "rm"
    export_main([*run["source"], "--output_dir", str(out), "--to", "lmdeploy"])
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForRewardModel"] and config["problem_type"] == "regression"
    expected, rows = conversation_scores(run, CHATS)
    scalar = reward_scalar(out, rows, config["pad_token_id"])
    torch.testing.assert_close(scalar, torch.from_numpy(expected), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(scalar[0], scalar[1], atol=1e-4)


def test_one_output_export_is_vllm_cross_encoder_layout_with_its_score_template(runs, tmp_path):
    """vLLM layout (num_labels 1, regression) plus score_template.jinja: rendered as vLLM renders a (query,
    document) pair and tokenized as vLLM tokenizes it, it gives swiftcls's token ids; swiftcls_task survives."""
    import shutil

    from swiftcls.inference.prompts import score_template, training_encoder

    run = runs("regression")
    ckpt = tmp_path / "ckpt"
    shutil.copytree(run["ckpt"], ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, "swiftcls_task": "reranker"}))  # as --task reranker
    out = Path(export_main(["--model", str(ckpt), "--output_dir", str(tmp_path / "out")]))
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForSequenceClassification"] and config["num_labels"] == 1
    assert config["problem_type"] == "regression" and config["swiftcls_task"] == "reranker"
    template = (out / "score_template.jinja").read_text()
    tokenizer = AutoTokenizer.from_pretrained(out)
    train = json.loads((out / "args.json").read_text())
    encoder = training_encoder(tokenizer, run["spec"], train)
    for query, doc in (("alpha beta", "gamma up"), ('a "quoted" {{ x }} \\ query', "  two\nlines  ")):
        rendered = tokenizer.apply_chat_template([{"role": "query", "content": query},
                                                  {"role": "document", "content": doc}],
                                                 chat_template=template, tokenize=False)  # what vLLM does
        assert tokenizer(rendered)["input_ids"] == encoder.encode([Example(query, doc)])[0]["input_ids"]
    assert score_template(training_encoder(tokenizer, run["spec"], {**train, "chat_template_applied": False})) == (
        "{{ messages[0]['content'] }}{{ \"\\n\" }}{{ messages[1]['content'] }}")  # no chat template: query\ndoc
