"""Chunked rows (--long_text chunk): window logits pooled per row; packed == padded; one loss per row."""

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_same_logits_loss_grads, logits_loss_grads

from swiftcls.core.labels import MULTI, SINGLE, LabelSpace
from swiftcls.core.spec import spec_for_config
from swiftcls.data.chunking import ChunkConfig
from swiftcls.data.collators import Collator, PackingCollator
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder
from swiftcls.models.aggregate import pool_windows
from swiftcls.models.loading import load_classifier
from swiftcls.models.packing import known_attn, use_padding_free
from swiftcls.models.pooling import classifier_logits
from swiftcls.training.losses import LossConfig, classification_loss

TEXTS = ["a short one", " ".join(f"long{i}" for i in range(90)), "another short text",
         " ".join(f"other{i}" for i in range(60))]


def test_pool_windows_mean_and_max_per_row():
    logits = torch.tensor([[1.0, -2.0], [3.0, 4.0], [5.0, 0.0], [-1.0, -1.0], [2.0, 8.0]])
    owner = torch.tensor([0, 0, 1, 2, 2])
    mean = pool_windows(logits, owner, "mean")
    assert torch.equal(mean, torch.tensor([[2.0, 1.0], [5.0, 0.0], [0.5, 3.5]]))
    assert torch.equal(pool_windows(logits, owner, "max"), torch.tensor([[3.0, 4.0], [5.0, 0.0], [2.0, 8.0]]))
    logits.requires_grad_(True)
    pool_windows(logits, owner, "mean").sum().backward()
    assert torch.equal(logits.grad[:, 0], torch.tensor([0.5, 0.5, 1.0, 0.5, 0.5]))


def model_and_rows(tiny_model_dir, family, space, pooling="mean"):
    spec = spec_for_config(family)
    torch.manual_seed(0)
    model, tokenizer, _ = load_classifier(str(tiny_model_dir(family)), spec, space, torch_dtype="float32",
                                          attn_impl=known_attn(None))
    encoder = PromptEncoder(tokenizer, spec, 48, long_text="chunk", chunk=ChunkConfig(8, pooling))
    rows = encoder.encode([Example(t) for t in TEXTS])
    assert [len(r.get("windows", [r])) for r in rows][1] >= 3  # the long rows really are chunked
    return model, tokenizer, spec, rows


@pytest.mark.parametrize("pooling", ["max"])  # mean: test_one_loss_per_row_from_its_pooled_windows
@pytest.mark.parametrize("family", ["qwen2", "bert"])  # bert: packed encoders (MiniLM's default) with token types
def test_packed_equals_padded_with_chunked_rows(tiny_model_dir, pooling, family):
    space = LabelSpace(MULTI, ["x", "y"])
    model, tokenizer, spec, rows = model_and_rows(tiny_model_dir, family, space, pooling)
    assert use_padding_free(True, spec, model, None, "cpu")
    rows = [{**r, "labels": [float(i % 2), 1.0]} for i, r in enumerate(rows)]
    cfg = LossConfig(MULTI)
    padded = logits_loss_grads(model, Collator(tokenizer.pad_token_id, "right", torch.float32)(rows), cfg)
    packed = logits_loss_grads(model, PackingCollator(torch.float32)(rows), cfg)
    assert padded[0].shape == (len(TEXTS), 2)
    assert_same_logits_loss_grads(packed, padded)


def test_one_loss_per_row_from_its_pooled_windows(tiny_model_dir):
    """The batch loss is the mean over rows of the loss of each row's mean window logits, each window scored alone;
    a row's logits do not depend on the other rows of its batch."""
    space = LabelSpace(SINGLE, ["a", "b", "c"])
    model, tokenizer, _, rows = model_and_rows(tiny_model_dir, "bert", space)
    labels = [0, 2, 1, 2]
    collate = Collator(tokenizer.pad_token_id, "right", torch.long)
    batch = collate([{**r, "labels": y} for r, y in zip(rows, labels)])
    assert batch["labels"].shape == (len(TEXTS),) and list(batch)[0] == "labels"
    with torch.no_grad():
        logits = classifier_logits(model, {k: v for k, v in batch.items() if k != "labels"})
        loss = classification_loss(logits, batch["labels"], LossConfig(SINGLE))
        alone = torch.stack([torch.cat([classifier_logits(model, collate([w])) for w in r.get("windows", [r])])
                             .mean(0) for r in rows])
    torch.testing.assert_close(logits, alone, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(loss, F.cross_entropy(alone, torch.tensor(labels)), atol=1e-6, rtol=1e-5)
