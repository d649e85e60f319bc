"""The loss registry: lookup and defaults, clear errors, each loss against its formula, a custom loss in training."""

import json

import pytest
import torch
from helpers import logged_losses, make_rows, sft, write

from swiftcls.core.errors import ConfigError
from swiftcls.core.labels import MULTI, REGRESSION, SINGLE
from swiftcls.training import losses
from swiftcls.training.losses import LOSSES, LossConfig, classification_loss, default_loss

LOGITS = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
CLASSES = torch.tensor([0, 2, 1, 1, 0, 2])
MULTI_HOT = torch.tensor([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0], [1, 0, 0], [0, 1, 1]], dtype=torch.float64)
TARGETS = torch.tensor([0.5, -1.0, 2.0, 0.0, 3.5, 1.0], dtype=torch.float64)
WEIGHTS = [0.5, 2.0, 1.5]


def test_registry_lookup_and_defaults():
    assert {name: loss.problem_types for name, loss in LOSSES.items()} == {
        "cross_entropy": (SINGLE,), "focal": (SINGLE, MULTI), "bce": (MULTI,), "mse": (REGRESSION,),
        "pairwise": ("rm",), "pointwise": ("reranker",), "listwise": ("reranker",)}
    assert [default_loss(p) for p in (SINGLE, MULTI, REGRESSION, "rm", "reranker")] == [
        "cross_entropy", "bce", "mse", "pairwise", "pointwise"]
    # --focal_gamma alone keeps selecting the focal loss, as before the registry existed.
    assert [LossConfig(p, focal_gamma=2.0).loss for p in (SINGLE, MULTI, REGRESSION)] == ["focal", "focal", "mse"]
    assert LossConfig(SINGLE, loss="focal").focal_gamma == losses.FOCAL_GAMMA
    assert LossConfig(MULTI, focal_gamma=0.5, loss="focal").focal_gamma == 0.5


def test_unknown_or_mismatched_loss_is_a_config_error():
    with pytest.raises(ConfigError, match=r"--loss 'focl' is not a registered loss; registered: \['bce', "
                                          r"'cross_entropy', 'focal', 'listwise', 'mse', 'pairwise', 'pointwise'\]\. "
                                          r"Did you mean --loss focal\?"):
        LossConfig(SINGLE, loss="focl")
    with pytest.raises(ConfigError, match="--loss mse serves \\['regression'\\], not this single_label_classification "
                                          "task; use --loss cross_entropy"):
        LossConfig(SINGLE, loss="mse")
    with pytest.raises(ConfigError, match="--focal_gamma 2.0 has no effect with --loss bce; use --loss focal"):
        LossConfig(MULTI, focal_gamma=2.0, loss="bce")
    with pytest.raises(ConfigError, match="unknown problem types \\['ranking'\\]"):
        losses.register_loss("x", lambda *a: None, ("ranking",))


def test_a_bad_loss_fails_before_the_model_is_loaded(tmp_path):
    model = tmp_path / "model"  # a config.json only: the error must come before any weights are read
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    train = write(tmp_path / "train.jsonl", make_rows(8, "single"))
    with pytest.raises(ConfigError, match="--loss bce serves"):
        sft(["--model", str(model), "--dataset", train, "--loss", "bce", "--output_dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def reference(problem_type, weights=None, smoothing=0.0, gamma=0.0):
    """The loss written out from its formula (float64), independent of torch.nn.functional.

    Single-label: weighted, smoothed cross-entropy times ``(1 - p_true)**gamma``, averaged with the label weights.
    Multi-label: per-label BCE with positive weights times ``(1 - p_true)**gamma``, averaged. Regression: MSE.
    """
    w = torch.tensor(weights, dtype=torch.float64) if weights else torch.ones(3, dtype=torch.float64)
    if problem_type == REGRESSION:
        return ((LOGITS[:, 0] - TARGETS) ** 2).mean()
    if problem_type == MULTI:
        p = torch.sigmoid(LOGITS)
        elem = -(w * MULTI_HOT * torch.log(p) + (1 - MULTI_HOT) * torch.log(1 - p))
        p_true = torch.where(MULTI_HOT > 0.5, p, 1 - p)
        return (elem * (1 - p_true) ** gamma).mean()
    log_p = LOGITS - torch.logsumexp(LOGITS, -1, keepdim=True)
    target = (1 - smoothing) * torch.nn.functional.one_hot(CLASSES, 3) + smoothing / 3
    per_row = -(w * target * log_p).sum(-1)
    p_true = log_p.gather(-1, CLASSES[:, None]).squeeze(-1).exp()
    return ((1 - p_true) ** gamma * per_row).sum() / w[CLASSES].sum()


LABELS = {SINGLE: CLASSES, MULTI: MULTI_HOT, REGRESSION: TARGETS}


@pytest.mark.parametrize("loss, problem_type, kwargs, formula", [
    ("cross_entropy", SINGLE, {}, {}),
    ("cross_entropy", SINGLE, {"class_weights": WEIGHTS, "label_smoothing": 0.1},
     {"weights": WEIGHTS, "smoothing": 0.1}),
    ("focal", SINGLE, {"focal_gamma": 2.0, "class_weights": WEIGHTS}, {"weights": WEIGHTS, "gamma": 2.0}),
    ("focal", SINGLE, {}, {"gamma": 2.0}),  # --loss focal alone: gamma 2
    ("bce", MULTI, {"class_weights": WEIGHTS}, {"weights": WEIGHTS}),
    ("focal", MULTI, {"focal_gamma": 1.5, "class_weights": WEIGHTS}, {"weights": WEIGHTS, "gamma": 1.5}),
    ("mse", REGRESSION, {}, {}),
])
def test_each_loss_equals_its_formula(loss, problem_type, kwargs, formula):
    cfg = LossConfig(problem_type, loss=loss, **kwargs)
    logits = (LOGITS[:, :1] if problem_type == REGRESSION else LOGITS).float()
    got = classification_loss(logits, LABELS[problem_type], cfg)
    assert got.dtype == torch.float32 and got.shape == ()
    torch.testing.assert_close(got.double(), reference(problem_type, **formula), atol=1e-6, rtol=1e-5)
    if loss == "focal" and kwargs:  # the focusing term down-weights easy rows
        plain = LossConfig(problem_type, class_weights=kwargs.get("class_weights"))
        assert got < classification_loss(logits, LABELS[problem_type], plain)


def test_a_registered_custom_loss_is_used_by_training(tiny_model_dir, tmp_path, monkeypatch):
    """One function and one register_loss call: sft --loss brier trains with it and records it in args.json."""
    monkeypatch.setattr(losses, "LOSSES", dict(LOSSES))  # the registration ends with this test
    values = []

    def brier(logits, labels, cfg):
        """Mean squared distance between the softmax and the one-hot label (the Brier score)."""
        one_hot = torch.nn.functional.one_hot(labels.long(), logits.shape[-1]).float()
        loss = ((logits.softmax(-1) - one_hot) ** 2).sum(-1).mean()
        values.append(loss.item())
        return loss

    losses.register_loss("brier", brier, (SINGLE,))
    train = write(tmp_path / "train.jsonl", make_rows(32, "single"))
    out = tmp_path / "out"
    sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--loss", "brier", "--tuner_type", "full",
         "--learning_rate", "3e-3", "--max_steps", "3", "--per_device_train_batch_size", "8", "--logging_steps", "1",
         "--output_dir", str(out), "--use_cpu", "true", "--warmup_ratio", "0"])
    assert len(values) == 3  # one call per training step
    assert logged_losses(out) == pytest.approx(values, abs=1e-4)  # what Trainer optimised and logged
    assert json.loads((out / "args.json").read_text())["loss"] == "brier"
    with pytest.raises(ConfigError, match="--loss brier serves \\['single_label_classification'\\]"):
        LossConfig(MULTI, loss="brier")
