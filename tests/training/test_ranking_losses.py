"""rm and reranker losses against their formulas written out by hand, and packed == padded on a tiny decoder."""

import math

import pytest
import torch
from helpers import logits_loss_grads

from swiftcls.core.errors import ConfigError
from swiftcls.core.labels import REGRESSION, LabelSpace
from swiftcls.core.spec import spec_for_config
from swiftcls.data.collators import Collator, GroupCollator, PackingCollator
from swiftcls.models.loading import load_classifier
from swiftcls.models.packing import use_padding_free
from swiftcls.training.losses import LossConfig, classification_loss

# Three pairs, rows out of order (rejected first in pair 7): [target, group, margin].
REWARDS = [0.5, -1.0, 2.0, 0.3, -0.2, 1.5]
PAIRS = [[1, 4, 0.0], [0, 4, 0.0], [0, 7, 0.0], [1, 7, 0.0], [1, 9, 1.0], [0, 9, 1.0]]


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def rm_loss(coefficient=0.0):
    chosen_rejected_margin = [(0.5, -1.0, 0.0), (0.3, 2.0, 0.0), (-0.2, 1.5, 1.0)]
    bt = sum(-math.log(sigmoid(c - r - m)) for c, r, m in chosen_rejected_margin) / 3
    return bt + coefficient * sum((c + r) ** 2 for c, r, _ in chosen_rejected_margin) / 3


@pytest.mark.parametrize("coefficient", [0.0, 0.01])
def test_pairwise_is_bradley_terry_with_margin_and_centring(coefficient):
    cfg = LossConfig(REGRESSION, task="rm", center_rewards_coefficient=coefficient)
    assert cfg.loss == "pairwise"
    loss = classification_loss(torch.tensor(REWARDS)[:, None], torch.tensor(PAIRS, dtype=torch.float64), cfg)
    assert loss.item() == pytest.approx(rm_loss(coefficient), rel=1e-6)


# Two queries: group 0 = 1 positive + 2 negatives, group 3 = 1 positive + 1 negative.
SCORES = [1.0, 0.2, -0.5, 0.4, 2.0]
QUERIES = [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 3, 0], [1, 3, 0]]


def test_listwise_is_softmax_cross_entropy_per_group():
    cfg = LossConfig(REGRESSION, task="reranker", loss="listwise")
    loss = classification_loss(torch.tensor(SCORES)[:, None], torch.tensor(QUERIES, dtype=torch.float64), cfg)
    first = -math.log(math.exp(1.0) / (math.exp(1.0) + math.exp(0.2) + math.exp(-0.5)))
    second = -math.log(math.exp(2.0) / (math.exp(2.0) + math.exp(0.4)))
    assert loss.item() == pytest.approx((first + second) / 2, rel=1e-6)


def test_pointwise_is_binary_cross_entropy_per_document():
    cfg = LossConfig(REGRESSION, task="reranker")
    assert cfg.loss == "pointwise"
    loss = classification_loss(torch.tensor(SCORES)[:, None], torch.tensor(QUERIES, dtype=torch.float64), cfg)
    expected = sum(-math.log(sigmoid(s) if t[0] else 1 - sigmoid(s)) for s, t in zip(SCORES, QUERIES)) / 5
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_a_split_pair_is_refused_not_scored():
    cfg = LossConfig(REGRESSION, task="rm")
    with pytest.raises(ValueError, match="exactly one chosen and one rejected"):
        classification_loss(torch.tensor(REWARDS[:3])[:, None], torch.tensor(PAIRS[:3], dtype=torch.float64), cfg)


def test_rm_and_reranker_losses_do_not_mix_with_other_tasks():
    with pytest.raises(ConfigError, match="--loss pairwise serves \\['rm'\\], not this reranker task"):
        LossConfig(REGRESSION, task="reranker", loss="pairwise")
    with pytest.raises(ConfigError, match="--loss listwise serves \\['reranker'\\], not this regression task"):
        LossConfig(REGRESSION, loss="listwise")
    with pytest.raises(ConfigError, match="--center_rewards_coefficient applies to --task rm"):
        LossConfig(REGRESSION, task="reranker", center_rewards_coefficient=0.1)


def test_packed_groups_give_the_padded_loss(tiny_model_dir):
    """Chosen and rejected (or a query's documents) of very different lengths in one packed row: same loss and
    gradients as padded, for the pairwise and the listwise loss."""
    spec = spec_for_config("qwen2")
    torch.manual_seed(0)
    model, tokenizer, _ = load_classifier(str(tiny_model_dir("qwen2")), spec, LabelSpace(REGRESSION, ["score"]),
                                          torch_dtype="float32", task="rm")
    assert use_padding_free(True, spec, model, None, "cpu")
    g = torch.Generator().manual_seed(1)
    for task, loss, lengths in [("rm", "pairwise", [[3, 29], [17, 2], [8, 8]]),
                                ("reranker", "listwise", [[5, 31, 2], [12, 7, 20, 1]])]:
        items = [{"rows": [{"input_ids": torch.randint(100, 5000, (n,), generator=g).tolist(),
                            "labels": [float(j == 0), float(gid), 0.5]} for j, n in enumerate(group)]}
                 for gid, group in enumerate(lengths)]
        cfg = LossConfig(REGRESSION, task=task, loss=loss)
        packed_batch = GroupCollator(PackingCollator(torch.float64))(items)
        assert packed_batch["input_ids"].shape == (1, sum(map(sum, lengths)))  # one row, no pad token
        padded_batch = GroupCollator(Collator(tokenizer.pad_token_id, "right", torch.float64))(items)
        packed, padded = logits_loss_grads(model, packed_batch, cfg), logits_loss_grads(model, padded_batch, cfg)
        torch.testing.assert_close(packed[1], padded[1], atol=1e-6, rtol=1e-5)
        assert padded[2].keys() == packed[2].keys() and len(padded[2]) > 4
        for name, grad in padded[2].items():
            torch.testing.assert_close(packed[2][name], grad, atol=1e-5, rtol=1e-4, msg=f"{task}: {name}")
