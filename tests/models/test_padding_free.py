"""Padding-free (packed) batches: same logits, losses and gradients as padded batches; fallbacks are logged."""

import json
import logging

import pytest
import torch
from helpers import assert_same_logits_loss_grads, make_rows, mixed_rows, packed_and_padded, sft, write

from swiftcls import infer_main
from swiftcls.core.compat import attn_implementation
from swiftcls.core.labels import MULTI, REGRESSION, SINGLE, LabelSpace
from swiftcls.core.spec import ModelSpec, spec_for_config
from swiftcls.data.collators import Collator, PackingCollator
from swiftcls.data.encode import PromptEncoder
from swiftcls.inference import predict as predict_module
from swiftcls.models.loading import load_classifier
from swiftcls.models.packing import padding_free_reason, use_padding_free
from swiftcls.models.pooling import classifier_logits

SPACES = {SINGLE: LabelSpace(SINGLE, ["a", "b", "c"]), MULTI: LabelSpace(MULTI, ["x", "y"]),
          REGRESSION: LabelSpace(REGRESSION, ["score"])}


@pytest.mark.parametrize("family, problem_type, lora, attn", [
    ("qwen2", SINGLE, False, "sdpa"), ("qwen3", MULTI, False, None), ("llama", REGRESSION, False, None),
    ("qwen2", SINGLE, True, None), ("llama", SINGLE, False, "eager"),
    # Mixture-of-Experts: full fine-tuning also compares the router's and the fused experts' gradients.
    ("qwen3_moe", SINGLE, False, None), ("qwen2_moe", MULTI, False, "sdpa"), ("qwen2_moe", REGRESSION, True, None),
    # BERT encoders: bidirectional attention within each packed row, the model's own pooler + head.
    ("bert", SINGLE, False, None), ("bert", MULTI, True, None),
])
def test_packed_equals_padded(tiny_model_dir, family, problem_type, lora, attn):
    """fp32 on CPU: sdpa's/eager's block-diagonal mask, or the default swiftcls_varlen (sdpa on padded rows on CPU)."""
    spec, space = spec_for_config(family), SPACES[problem_type]
    packed, padded = packed_and_padded(tiny_model_dir(family), spec, space, lora, attn)
    assert_same_logits_loss_grads(packed, padded)
    if family.endswith("_moe") and not lora:
        assert {"mlp.gate.weight", "mlp.experts.gate_up_proj", "mlp.experts.down_proj"} <= {
            n.split("layers.0.", 1)[-1] for n in padded[2]}


def test_fallbacks_are_logged(tiny_model_dir, caplog):
    bert = spec_for_config("bert")
    assert padding_free_reason(bert, None) is None
    assert "encoders pack only with a varlen attention" in padding_free_reason(bert, "sdpa")
    assert "encoder whose template does not say 'padding_free: true'" in padding_free_reason(
        spec_for_config("roberta"), None)
    assert "image+text" in padding_free_reason(spec_for_config("qwen2_vl"), "sdpa")
    unverified = ModelSpec(name="mistral", model_types=["mistral"])  # a decoder template without padding_free
    assert "the 'mistral' template does not say 'padding_free: true'" in padding_free_reason(unverified, "sdpa")
    assert padding_free_reason(spec_for_config("qwen2"), "flash_attention_2") is None
    model, _, _ = load_classifier(str(tiny_model_dir("bert")), bert, SPACES[SINGLE])
    with caplog.at_level(logging.INFO, logger="swiftcls.models.packing"):
        assert not use_padding_free(True, bert, model, "sdpa")
    assert "using padded batches because encoders pack only with a varlen attention" in caplog.text
    assert attn_implementation(model.config) == "sdpa"  # fallbacks keep their attention
    assert not use_padding_free(False, spec_for_config("qwen2"), model)


def test_padding_free_sft_then_infer_matches_padded(tiny_model_dir, tmp_path, caplog, monkeypatch):
    train = write(tmp_path / "train.jsonl", make_rows(64, "single"))
    val = write(tmp_path / "val.jsonl", make_rows(24, "single", seed=3))
    out = tmp_path / "out"
    unlabelled_batches = []  # prediction batches (labels stripped): the end-of-training evaluation's
    call = PackingCollator.__call__
    monkeypatch.setattr(PackingCollator, "__call__",
                        lambda self, rows: unlabelled_batches.append(len(rows)) or call(self, rows)
                        if "labels" not in rows[0] else call(self, rows))
    with caplog.at_level(logging.INFO, logger="swiftcls.models.packing"):
        summary = sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--val_dataset", val,
                       "--tuner_type", "full", "--learning_rate", "3e-3", "--num_train_epochs", "2",
                       "--per_device_train_batch_size", "8", "--output_dir", str(out), "--use_cpu", "true",
                       "--gradient_checkpointing", "true"])
    assert "Padding-free batches (attention: swiftcls_varlen)" in caplog.text
    assert sum(unlabelled_batches) == 24  # the final evaluation packed all 24 validation rows
    config = json.loads((out / summary["last_model_checkpoint"].split("/")[-1] / "config.json").read_text())
    assert "swiftcls_varlen" not in json.dumps(config)  # checkpoints stay loadable without swiftcls
    assert json.loads((out / "args.json").read_text())["padding_free"] is True
    ckpt = summary["last_model_checkpoint"]
    # Inference streams: at most STREAM_ROWS rows are encoded and predicted at a time.
    monkeypatch.setattr(predict_module, "STREAM_ROWS", 10)
    sizes = []
    encode = PromptEncoder.encode_kept
    monkeypatch.setattr(PromptEncoder, "encode_kept",
                        lambda self, ex, *a, **k: sizes.append(len(ex)) or encode(self, ex, *a, **k))
    preds = {}
    for flag in ("true", "false"):
        path = tmp_path / f"pred_{flag}.jsonl"
        result = infer_main(["--model", ckpt, "--dataset", val, "--result_path", str(path), "--padding_free", flag,
                             "--batch_size", "5"])
        preds[flag] = [json.loads(line) for line in path.read_text().splitlines()]
        assert result["metrics"]["accuracy"] == pytest.approx(summary["metrics"]["accuracy"])
        assert sizes[-3:] == [10, 10, 4] and not (tmp_path / f"pred_{flag}.jsonl.tmp").exists()
    for packed, padded in zip(preds["true"], preds["false"], strict=True):
        assert packed["text"] == padded["text"] and packed["pred"] == padded["pred"]
        for name in packed["probs"]:
            assert packed["probs"][name] == pytest.approx(padded["probs"][name], abs=1e-4)
    # The Python API batches the same way as the CLI, and packed == padded there too.
    from swiftcls import Classifier

    texts = [row["text"] for row in preds["true"]]
    probs = {}
    for flag in (True, False):
        clf = Classifier.from_pretrained(ckpt, device="cpu", padding_free=flag)
        assert isinstance(clf.collator, PackingCollator) is flag
        probs[flag] = clf.predict_proba(texts, batch_size=5)
    assert probs[True] == pytest.approx(probs[False], abs=1e-4)
    assert [max(p, key=p.get) for p in (r["probs"] for r in preds["true"])] == clf.predict(texts)


@pytest.mark.gpu
def test_varlen_kernel_on_cuda_matches_padded(tiny_model_dir):
    """torch's varlen flash kernel (bf16, CUDA): packed logits match padded sdpa logits."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    spec, space = spec_for_config("qwen2"), SPACES[SINGLE]
    model, tokenizer, _ = load_classifier(str(tiny_model_dir("qwen2")), spec, space, torch_dtype="bfloat16",
                                          device="cuda")
    model = model.cuda()
    assert use_padding_free(True, spec, model, None, "cuda")
    assert attn_implementation(model.config) in ("swiftcls_varlen", "flash_attention_2")
    rows = mixed_rows(SINGLE)
    padded_batch = Collator(tokenizer.pad_token_id, "right")(rows)
    packed_batch = PackingCollator()(rows)
    on_gpu = {k: v.cuda() if isinstance(v, torch.Tensor) else v for k, v in packed_batch.items() if k != "labels"}
    packed = classifier_logits(model, on_gpu).float()
    padded = classifier_logits(model, {k: v.cuda() for k, v in padded_batch.items() if k != "labels"}).float()
    torch.testing.assert_close(packed, padded, atol=2e-2, rtol=2e-2)
    packed.sum().backward()  # the kernel's backward runs


@pytest.mark.parametrize("lengths", [[3, 1, 6, 4], [1, 1, 1, 1, 1, 1, 1, 1, 16], [1, 1, 1, 1, 1, 1, 1, 1, 80]],
                         ids=["one-padded-call", "short-unequal-padded-call", "per-sequence-loop"])
def test_varlen_attention_layouts(monkeypatch, lengths):
    """Every branch of swiftcls_varlen (CUDA kernel call with a CPU stand-in; on CPU one padded call for similar
    lengths, a per-sequence loop for very different ones) equals a dense block-diagonal sdpa, causal and
    bidirectional, with GQA (4 query heads, 2 KV heads), and so do the gradients."""
    import torch.nn.attention.varlen as torch_varlen
    import torch.nn.functional as F

    from swiftcls.models import varlen

    torch.manual_seed(0)
    heads, kv_heads, dim = 4, 2, 8
    total = sum(lengths)
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    q, k, v = (torch.randn(1, h, total, dim, requires_grad=True) for h in (heads, kv_heads, kv_heads))
    seq = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    allowed = (seq[:, None] == seq[None, :]) & torch.ones(total, total, dtype=torch.bool).tril()
    dense = F.scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), allowed)
    dense = dense.transpose(1, 2)  # [1, T, H, D] as transformers expects
    kwargs = dict(cu_seq_lens_q=cu, cu_seq_lens_k=cu, max_length_q=max(lengths), max_length_k=max(lengths),
                  scaling=dim ** -0.5)
    cpu, _ = varlen.varlen_attention_forward(None, q, k, v, None, **kwargs)
    torch.testing.assert_close(cpu, dense)
    weights = torch.randn_like(dense)
    expected = torch.autograd.grad((dense * weights).sum(), (q, k, v))
    for got, want in zip(torch.autograd.grad((cpu * weights).sum(), (q, k, v)), expected):
        torch.testing.assert_close(got, want)

    def fake_kernel(q, k, v, cu_q, cu_k, max_q, max_k, scale=None, window_size=(-1, -1)):
        """CPU stand-in with varlen_attn's contract: [T, H, D] inputs, equal head counts, causal by window."""
        assert q.is_contiguous() and k.is_contiguous() and k.shape[1] == q.shape[1] and window_size == (-1, 0)
        assert cu_q.dtype == torch.int32 and max_q == max(lengths)
        out = [F.scaled_dot_product_attention(*(x[a:b].transpose(0, 1) for x in (q, k, v)), is_causal=True,
                                              scale=scale).transpose(0, 1) for a, b in zip(cu_q[:-1], cu_q[1:])]
        return torch.cat(out)

    # Encoders (the module says is_causal=False): bidirectional within each sequence, never across sequences.
    encoder = type("SelfAttention", (), {"is_causal": False, "training": False})()
    bidirectional = F.scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1),
                                                   seq[:, None] == seq[None, :]).transpose(1, 2)
    torch.testing.assert_close(varlen.varlen_attention_forward(encoder, q, k, v, None, **kwargs)[0], bidirectional)

    monkeypatch.setattr(varlen, "varlen_kernel_available", lambda query: True)
    monkeypatch.setattr(torch_varlen, "varlen_attn", fake_kernel)
    kernel, _ = varlen.varlen_attention_forward(None, q, k, v, None, **kwargs)
    torch.testing.assert_close(kernel, dense)


def test_infer_reads_the_file_as_it_predicts(tiny_model_dir, tmp_path, monkeypatch):
    """Inference parses rows chunk by chunk: when a chunk is predicted, the reader has gone no further."""
    import numpy as np

    from swiftcls.data import dataset
    from swiftcls.data.encode import PromptEncoder
    from swiftcls.data.readers import ReadOptions
    from swiftcls.models.loading import load_tokenizer

    path = write(tmp_path / "d.jsonl", make_rows(50, "single"))
    read = []
    records = dataset.iter_records

    def counting(*args, **kwargs):
        for record in records(*args, **kwargs):
            read.append(record.row)
            yield record
    monkeypatch.setattr(dataset, "iter_records", counting)
    spec = spec_for_config("qwen2")
    encoder = PromptEncoder(load_tokenizer(str(tiny_model_dir("qwen2")), spec), spec)
    seen = []

    def predict(chunk, rows):
        seen.append((len(read), len(chunk), len(rows)))
        return np.zeros((len(chunk), 2))
    examples = dataset.iter_examples([path], ReadOptions(), {})
    chunks = list(predict_module.stream_logits(encoder, examples, predict, chunk_rows=8))
    assert seen == [(8 * (i + 1), 8, 8) for i in range(6)] + [(50, 2, 2)]
    assert [ex.row for chunk, _, _ in chunks for ex in chunk] == list(range(1, 51))


def test_varlen_cpu_branch_and_one_layout_per_batch(monkeypatch):
    """Short rows of unequal lengths take the one padded call (a per-row loop cost 12 small ops per row and layer);
    a long row among short ones takes the loop; the padded layout is built once per batch and shared by every layer
    (the same ``cu_seq_lens`` tensor), and rebuilt for the next batch."""
    from swiftcls.models import varlen

    calls = {"segments": 0, "layouts": 0}
    segments, layout = varlen._segments_sdpa, getattr(varlen, "_Layout", object)

    def count_segments(*args, **kwargs):
        calls["segments"] += 1
        return segments(*args, **kwargs)

    class CountedLayout(layout):
        def __init__(self, *args):
            calls["layouts"] += 1
            super().__init__(*args)

    monkeypatch.setattr(varlen, "_segments_sdpa", count_segments)
    monkeypatch.setattr(varlen, "_Layout", CountedLayout, raising=False)
    encoder = type("SelfAttention", (), {"is_causal": False, "training": False})()

    def run(lengths, layers=3):
        cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
        q, k, v = (torch.randn(1, 2, sum(lengths), 4) for _ in range(3))
        outs = [varlen.varlen_attention_forward(encoder, q, k, v, None, cu_seq_lens_q=cu, cu_seq_lens_k=cu,
                                                max_length_q=max(lengths))[0] for _ in range(layers)]
        seq = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
        dense = torch.nn.functional.scaled_dot_product_attention(q, k, v, seq[:, None] == seq[None, :])
        for out in outs:
            torch.testing.assert_close(out, dense.transpose(1, 2))

    run([2] * 10 + [40])  # the 4x rule alone would loop: 11 * 40^2 > 4 * sum(l^2)
    assert calls == {"segments": 0, "layouts": 1}
    run([5, 40, 12, 3])  # the next batch: a new layout
    assert calls == {"segments": 0, "layouts": 2}
    run([1, 1, 1, 1, 1, 1, 1, 1, 80])
    assert calls["segments"] == 3
