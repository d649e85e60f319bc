"""``swiftcls infer --zero_shot`` and ``sft --head_init label_names`` end to end, down to plain transformers."""

import json
from pathlib import Path

import pytest
import torch
from helpers import make_rows, sft, write
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from swiftcls import Classifier, export_main
from swiftcls.cli.main import main
from swiftcls.core.prompt_template import DEFAULT_PROMPT, fill_labels, fill_text

LABELS = ["bad", "good"]


def _lm_label_probs(model_dir, texts, prompt=DEFAULT_PROMPT):
    """What the LM itself answers, computed with plain transformers: the chat prompt of each text, the next-token
    logits at the first token of each label name, softmaxed over the labels."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lm = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    answer = [tokenizer(name, add_special_tokens=False)["input_ids"][0] for name in LABELS]
    out = []
    with torch.no_grad():
        for text in texts:
            content = fill_text(fill_labels(prompt, LABELS), text)
            ids = tokenizer.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                                tokenize=False)
            x = torch.tensor([tokenizer(ids, add_special_tokens=False)["input_ids"]])
            out.append(lm(x).logits[0, -1, answer])
    return torch.stack(out)


def test_zero_shot_infer_cli_answers_as_the_lm(tiny_model_dir, tmp_path):
    model = tiny_model_dir("llama")
    rows = make_rows(6, "single")
    data = write(tmp_path / "rows.jsonl", rows)
    # The command line in-process (cli.main: pre-check, parser, exit code); a subprocess would only add imports.
    assert main(["infer", "--model", str(model), "--zero_shot", "--labels", *LABELS, "--dataset", data,
                 "--result_path", str(tmp_path / "pred.jsonl")]) == 0
    preds = [json.loads(line) for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    assert [p["text"] for p in preds] == [r["text"] for r in rows]
    expected = _lm_label_probs(model, [r["text"] for r in rows]).softmax(-1)
    got = torch.tensor([[p["probs"][name] for name in LABELS] for p in preds])
    torch.testing.assert_close(got, expected, atol=2e-6, rtol=0)  # probabilities are written rounded to 6 places
    assert (tmp_path / "pred_metrics.json").is_file() and not (model / "infer_result.jsonl").exists()


@pytest.mark.parametrize("argv, message", [
    (["--zero_shot"], "--zero_shot needs --labels"),
    (["--labels", "a", "b"], "--labels is only for --zero_shot"),
    (["--zero_shot", "--labels", "a", "b", "--prompt", "no placeholder"], "holds {text} 0 times"),
])
def test_zero_shot_flag_errors(argv, message, capsys, tmp_path):
    data = write(tmp_path / "x.jsonl", make_rows(2, "single"))
    assert main(["infer", "--model", str(tmp_path), "--dataset", data, *argv]) == 2
    assert message in capsys.readouterr().err


def test_label_name_head_exports_as_an_ordinary_head(tiny_model_dir, tmp_path):
    """sft --head_init label_names (a learning rate too small to move a weight), export: plain transformers loads the
    export and reproduces the LM's label-token logits on the prompt saved in args.json."""
    model = tiny_model_dir("llama")
    rows = make_rows(8, "single")
    summary = sft(["--model", str(model), "--dataset", write(tmp_path / "t.jsonl", rows), "--labels", *LABELS,
                   "--head_init", "label_names", "--max_steps", "1", "--learning_rate", "1e-30",
                   "--output_dir", str(tmp_path / "out"), "--per_device_train_batch_size", "8"])
    export = export_main(["--adapters", summary["last_model_checkpoint"], "--output_dir", str(tmp_path / "exp")])
    saved = json.loads((Path(export) / "args.json").read_text())
    assert saved["head_init"] == "label_names" and saved["prompt"] == DEFAULT_PROMPT
    card = (Path(export) / "README.md").read_text()
    assert repr(fill_labels(DEFAULT_PROMPT, LABELS)) + ".replace('{text}', t)" in card  # the card's snippet wraps too
    tokenizer = AutoTokenizer.from_pretrained(export)
    classifier = AutoModelForSequenceClassification.from_pretrained(export, dtype=torch.float32).eval()
    texts = [r["text"] for r in rows[:3]]
    got = []
    with torch.no_grad():
        for text in texts:
            content = fill_text(fill_labels(saved["prompt"], saved["label_names"]), text)
            prompt = tokenizer.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                                   tokenize=False)
            got.append(classifier(**tokenizer(prompt, add_special_tokens=False, return_tensors="pt")).logits[0])
    expected = _lm_label_probs(model, texts)
    torch.testing.assert_close(torch.stack(got), expected, rtol=1e-4, atol=1e-4)
    probs = Classifier.from_pretrained(export, device="cpu").predict_proba(texts)  # deploy's path: args.json's prompt
    torch.testing.assert_close(torch.tensor(probs, dtype=torch.float32), expected.softmax(-1), rtol=1e-4, atol=1e-5)
