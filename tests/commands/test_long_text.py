"""--long_text chunk through sft -> infer/eval -> export -> deploy -> Classifier: one training setting, the same
pooled scores everywhere."""

import json

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from helpers import sft, write

from swiftcls import Classifier, DeployArguments, export_main, infer_main
from swiftcls.core.errors import ConfigError
from swiftcls.data.dataset import Example
from swiftcls.serve.app import create_app

LONG = [" ".join(f"{'good' if i % 2 else 'bad'}{j} filler words here" for j in range(40 + 7 * i)) for i in range(6)]
TEXTS = ["short and sweet", *LONG[:3]]


@pytest.fixture(scope="module")
def run(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    rows = [{"text": t, "label": "ab"[i % 2]} for i, t in enumerate(LONG + ["tiny", "small one"])]
    # Validation rows, chunked too: Trainer's evaluation (length-grouped by default) and the final report.
    summary = sft(["--model", str(tiny_model_dir("bert")), "--dataset", write(root / "t.jsonl", rows),
                   "--val_dataset", write(root / "v.jsonl", rows[::-1]), "--eval_strategy", "steps", "--eval_steps",
                   "1",
                   "--max_length", "32", "--long_text", "chunk", "--chunk_stride", "4", "--chunk_pooling", "max",
                   "--max_chunks", "8", "--max_steps", "2", "--tuner_type", "full", "--per_device_train_batch_size",
                   "4", "--use_cpu", "true", "--learning_rate", "1e-3", "--output_dir", str(root / "run")])
    assert summary["metrics"]["accuracy"] is not None
    state = json.loads((root / "run" / "checkpoint-2" / "trainer_state.json").read_text())
    assert [e["eval_accuracy"] for e in state["log_history"] if "eval_accuracy" in e]
    return root, summary["last_model_checkpoint"]


def window_logits_pooled(clf, text):
    """The row's logits by hand: every window scored alone, the max taken."""
    row = clf.encode([Example(text)])[0]
    windows = row.get("windows", [row])
    with torch.no_grad():
        logits = torch.cat([clf.model(**clf.collator([w])).logits for w in windows])
    return logits.max(0).values.numpy(), len(windows)


def test_sft_saves_the_setting_and_classifier_pools_the_windows(run):
    root, ckpt = run
    saved = json.loads((root / "run" / "args.json").read_text())
    assert {k: saved[k] for k in ("long_text", "chunk_stride", "chunk_pooling", "max_chunks", "max_length")} == {
        "long_text": "chunk", "chunk_stride": 4, "chunk_pooling": "max", "max_chunks": 8, "max_length": 32}
    clf = Classifier.from_pretrained(ckpt, device="cpu")
    expected = [window_logits_pooled(clf, t) for t in TEXTS]
    assert [n for _, n in expected] == [1, 8, 8, 8]  # capped at --max_chunks
    np.testing.assert_allclose(clf.logits_rows(clf.encode([Example(t) for t in TEXTS]), batch_size=3),
                               [e for e, _ in expected], atol=1e-5)


def test_infer_deploy_and_export_score_like_classifier(run, tmp_path):
    root, ckpt = run
    clf = Classifier.from_pretrained(ckpt, device="cpu")
    probs = clf.predict_proba(TEXTS)
    data = write(tmp_path / "d.jsonl", [{"text": t} for t in TEXTS])
    infer_main(["--model", ckpt, "--dataset", data, "--batch_size", "5", "--result_path", str(tmp_path / "r.jsonl"),
                "--device", "cpu"])
    got = [json.loads(line)["probs"] for line in open(tmp_path / "r.jsonl")]
    np.testing.assert_allclose([[p["a"], p["b"]] for p in got], probs, atol=1e-5)

    args = DeployArguments(port=0, device="cpu", model=ckpt)
    with TestClient(create_app(Classifier.from_args(args), args, "long")) as client:
        out = client.post("/classify", json={"input": TEXTS}).json()
    np.testing.assert_allclose([d["probs"] for d in out["data"]], probs, atol=1e-5)
    windows = [r.get("windows", [r]) for r in clf.encode([Example(t) for t in TEXTS])]
    assert out["usage"]["prompt_tokens"] == sum(len(w["input_ids"]) for ws in windows for w in ws)

    exported = export_main(["--model", ckpt, "--output_dir", str(tmp_path / "exported")])
    assert "## Long texts" in (tmp_path / "exported" / "README.md").read_text()
    np.testing.assert_allclose(Classifier.from_pretrained(exported, device="cpu").predict_proba(TEXTS), probs,
                               atol=1e-5)


def test_truncate_overrides_the_checkpoint_and_vllm_refuses_chunked_models(run, tmp_path):
    _, ckpt = run
    clf = Classifier.from_pretrained(ckpt, device="cpu")
    data = write(tmp_path / "d.jsonl", [{"text": t} for t in TEXTS])
    infer_main(["--model", ckpt, "--dataset", data, "--long_text", "truncate", "--result_path",
                str(tmp_path / "r.jsonl"), "--device", "cpu"])
    got = [json.loads(line)["probs"] for line in open(tmp_path / "r.jsonl")]
    first = [clf.encode([Example(t)])[0] for t in TEXTS]
    with torch.no_grad():
        truncated = torch.cat([clf.model(**clf.collator([r.get("windows", [r])[0]])).logits for r in first])
    np.testing.assert_allclose([[p["a"], p["b"]] for p in got], truncated.softmax(-1).numpy(), atol=1e-5)
    with pytest.raises(ConfigError, match="cannot pool the windows"):
        infer_main(["--model", ckpt, "--dataset", data, "--infer_backend", "vllm"])
