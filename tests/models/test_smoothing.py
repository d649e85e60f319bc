"""SmoothQuant-style smoothing (swiftcls/models/smoothing.py): exact in float for every family spec that names it,
and it flattens the outlier channels int8 would quantize."""

import pytest
import torch
from tiny_models import FAMILIES, tiny_config
from transformers import AutoModelForSequenceClassification

from swiftcls.core.spec import ModelSpec, spec_for_config
from swiftcls.models.smoothing import input_ranges, smooth

SMOOTHED = [f for f in FAMILIES if spec_for_config(tiny_config(f)).onnx_int8_smooth]


def _model(family: str):
    config = tiny_config(family)
    config.num_labels, config.pad_token_id = 3, 0
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(config).float().eval()
    return model, spec_for_config(config).onnx_int8_smooth


def _batch(seed: int):
    ids = torch.randint(1, 1000, (3, 11), generator=torch.Generator().manual_seed(seed))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def test_decoder_specs_name_smoothing():
    assert {"qwen2", "qwen3", "llama"} <= set(SMOOTHED)  # the MoE specs cannot be exported to ONNX at all


@pytest.mark.parametrize("family", SMOOTHED)
def test_smoothing_keeps_the_float_model_exact(family):
    """Every reader of a smoothed producer is in the spec: a missing one would read divided inputs."""
    model, smoothing = _model(family)
    with torch.no_grad():
        # Outlier channels, as trained decoders have them: the norms' weights scaled up on a few channels.
        for name, param in model.named_parameters():
            if name.endswith("layernorm.weight"):
                param[:3] *= 50
        before = model(**_batch(1)).logits
        ranges = input_ranges(model, smoothing["pairs"], lambda: model(**_batch(2)))
        blocks = model.config.num_hidden_layers
        assert len(ranges) == blocks * len(smoothing["pairs"])
        assert smooth(model, smoothing, ranges) == blocks * len(smoothing["pairs"])
        after = model(**_batch(1)).logits
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_smoothing_flattens_the_outlier_channels():
    model, smoothing = _model("qwen2")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("layernorm.weight"):
                param[:3] *= 50

    def spread(ranges):  # largest channel range over the median one, worst block
        return max(float(r.max() / r.median()) for r in ranges.values())

    before = input_ranges(model, smoothing["pairs"], lambda: model(**_batch(2)))
    smooth(model, smoothing, before)
    after = input_ranges(model, smoothing["pairs"], lambda: model(**_batch(2)))
    assert spread(before) > 20 and spread(after) < spread(before) / 5


@pytest.mark.parametrize("bad", [{"alpha": 1.5, "pairs": {"input_layernorm": ["self_attn.q_proj"]}},
                                 {"alpha": 0.8, "pairs": {"input_layernorm": "self_attn.q_proj"}},
                                 {"alpha": 0.8}, {"pairs": {"input_layernorm": ["self_attn.q_proj"]}}])
def test_a_malformed_smoothing_entry_is_refused_with_its_shape(bad):
    spec = ModelSpec(name="x", model_types=["x"], onnx_int8_smooth=bad)
    assert "'onnx_int8_smooth' must be {alpha" in spec.inconsistency()
