"""rm and reranker metrics against hand-computed values."""

import math

import pytest

from swiftcls.metrics.ranking import pair_metrics, rank_metrics


def test_pair_metrics_by_hand():
    # pairs (chosen, rejected): (2, 1) right, (0, 0.5) wrong, (3, -1) right; rows out of order
    scores = [1.0, 2.0, 0.0, 0.5, -1.0, 3.0]
    labels = [[0, 5, 0], [1, 5, 0], [1, 6, 0], [0, 6, 0], [0, 8, 0], [1, 8, 0]]
    metrics = pair_metrics([[s] for s in scores], labels)
    rewards_mean = sum(scores) / 6
    assert metrics == pytest.approx({
        "pairwise_accuracy": 2 / 3, "mean_margin": (1 - 0.5 + 4) / 3, "reward_mean": rewards_mean,
        "reward_std": math.sqrt(sum((s - rewards_mean) ** 2 for s in scores) / 6), "pairs": 3})


def test_rank_metrics_by_hand():
    # query 0: relevant doc ranked 2nd of 3 -> RR 1/2, NDCG (1/log2 3) / 1
    # query 1: relevant docs ranked 1st and 3rd of 3 -> RR 1, NDCG (1 + 1/2) / (1 + 1/log2 3)
    # query 2: a tie between the relevant doc and an irrelevant one counts against the relevant one -> RR 1/2
    scores = [0.2, 0.9, 0.1, 5.0, 4.0, 3.0, 1.0, 1.0]
    labels = [[1, 0, 0], [0, 0, 0], [0, 0, 0], [1, 1, 0], [0, 1, 0], [1, 1, 0], [1, 2, 0], [0, 2, 0]]
    metrics = rank_metrics([[s] for s in scores], labels)
    ndcg = [1 / math.log2(3), 1.5 / (1 + 1 / math.log2(3)), 1 / math.log2(3)]
    assert metrics == pytest.approx({"mrr@10": (0.5 + 1 + 0.5) / 3, "ndcg@10": sum(ndcg) / 3, "queries": 3})


def test_rank_metrics_cut_at_ten():
    scores = list(range(11, -1, -1))  # 12 documents, the relevant one scored last (rank 12)
    labels = [[0, 0, 0]] * 11 + [[1, 0, 0]]
    assert rank_metrics([[s] for s in scores], labels) == {"mrr@10": 0.0, "ndcg@10": 0.0, "queries": 1}
