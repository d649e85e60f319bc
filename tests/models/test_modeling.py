"""Pooling/head parity with transformers, pad-token safety, chat prompt truncation and LoRA save/load round trips
(tiny models)."""

import json

import pytest
import torch

from swiftcls.core.labels import LabelSpace
from swiftcls.core.spec import spec_for_config
from swiftcls.data.collators import Collator
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder
from swiftcls.models.loading import load_classifier, load_tokenizer
from swiftcls.models.pooling import classifier_logits, last_token_index
from swiftcls.models.trained import load_trained
from swiftcls.models.tuners import apply_lora, excluded_linears, linear_targets
from swiftcls.training.trainer import write_args

TEXTS = ["a short one", "a considerably longer sentence that needs padding in the batch", "mid length text"]
SPACE = LabelSpace("single_label_classification", ["neg", "neu", "pos"])


def encode(tokenizer, spec, texts=TEXTS, pad_side="right"):
    rows = PromptEncoder(tokenizer, spec, max_length=64).encode([Example(t) for t in texts])
    return Collator(tokenizer.pad_token_id, pad_side)(rows)


@pytest.mark.parametrize("family", ["qwen2", "qwen3", "llama", "bert"])
def test_logits_equal_transformers_forward(tiny_model_dir, family):
    model_dir = tiny_model_dir(family)
    spec = spec_for_config(json.loads((model_dir / "config.json").read_text())["model_type"])
    model, tokenizer, new = load_classifier(str(model_dir), spec, SPACE)
    model.eval()
    assert set(spec.head) & set(new), "the head is freshly initialised"
    batch = encode(tokenizer, spec)
    with torch.no_grad():
        ours = classifier_logits(model, batch)
        reference = type(model).forward(model, **batch).logits  # transformers' own class forward
        left = classifier_logits(model, encode(tokenizer, spec, pad_side="left"))
        single = torch.cat([classifier_logits(model, encode(tokenizer, spec, [t])) for t in TEXTS])
    assert ours.shape == (3, 3)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(single, ours, atol=1e-5, rtol=1e-4)
    if spec.kind == "decoder":
        torch.testing.assert_close(left, ours, atol=1e-5, rtol=1e-4)


def test_installed_forward_is_what_callers_run(tiny_model_dir):
    """``install_pooled_forward`` replaces ``forward`` on the instance: ``model(...)`` and a PEFT wrapper must call
    it, not the class's. Equal logits cannot show that (both pool the same token), so a spy counts the calls."""
    spec = spec_for_config("qwen2")
    model, tokenizer, new = load_classifier(str(tiny_model_dir("qwen2")), spec, SPACE)
    installed, calls = model.forward, []

    def spy(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape)
        return installed(*args, **kwargs)

    model.forward = spy
    batch = encode(tokenizer, spec)
    with torch.no_grad():
        plain = classifier_logits(model, batch)
        wrapped = classifier_logits(apply_lora(model, spec, new), batch)  # fresh LoRA (B = 0): same logits
    assert calls == [batch["input_ids"].shape] * 2
    torch.testing.assert_close(wrapped, plain)


def test_last_token_index_handles_both_padding_sides():
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert last_token_index(mask).tolist() == [2, 4, 4]


@pytest.mark.parametrize("family", ["qwen2", "llama"])
def test_prompts_never_end_with_the_pad_token(tiny_model_dir, family):
    model_dir = tiny_model_dir(family)
    spec = spec_for_config(family)
    _, tokenizer, _ = load_classifier(str(model_dir), spec, SPACE)
    assert tokenizer.pad_token != tokenizer.eos_token
    encoder = PromptEncoder(tokenizer, spec, max_length=64)
    for row in encoder.encode([Example(t) for t in TEXTS]):
        assert tokenizer.pad_token_id not in row["input_ids"]


def test_chat_prompt_truncation_keeps_the_template_end(tiny_model_dir):
    spec = spec_for_config("qwen2")
    _, tokenizer, _ = load_classifier(str(tiny_model_dir("qwen2")), spec, SPACE)
    encoder = PromptEncoder(tokenizer, spec, max_length=40)
    assert encoder.chat
    full = PromptEncoder(tokenizer, spec, max_length=4096).encode([Example("word " * 200)])[0]["input_ids"]
    cut = encoder.encode([Example("word " * 200)])[0]["input_ids"]
    assert len(cut) <= 40 < len(full)
    assert cut[-5:] == full[-5:]  # "<|im_end|>\n<|im_start|>assistant\n" survives


CHAT = [{"role": "system", "content": "You judge replies."},
        {"role": "user", "content": "first question " + "alpha " * 40 + "END1"},
        {"role": "assistant", "content": "answer " + "beta " * 40 + "END2"},
        {"role": "user", "content": "second question " + "gamma " * 40 + "END3"}]


@pytest.mark.parametrize("family", ["qwen2", "qwen3"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_multi_turn_truncation_keeps_roles_system_and_generation_prompt(tiny_model_dir, family, side):
    spec = spec_for_config(family)
    tokenizer = load_tokenizer(str(tiny_model_dir("qwen2")), spec)
    row = [Example(None, messages=CHAT)]
    kwargs = dict(tokenize=False, **spec.chat_template_kwargs)
    generation = (tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, **kwargs)
                  [len(tokenizer.apply_chat_template(CHAT, **kwargs)):])
    full = tokenizer(tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, **kwargs),
                     add_special_tokens=False)["input_ids"]
    assert PromptEncoder(tokenizer, spec, len(full)).encode(row)[0]["input_ids"] == full  # fits: untouched
    for max_length in (len(full) - 8, 100, 60, 12):
        ids = PromptEncoder(tokenizer, spec, max_length, truncation_side=side).encode(row)[0]["input_ids"]
        text = tokenizer.decode(ids)
        assert len(ids) <= max_length and text.endswith("<|im_end|>\n" + generation)
        if max_length == 12:
            continue  # the bare template does not fit: hard cut, only the end is promised
        assert text.startswith("<|im_start|>system\nYou judge replies.<|im_end|>\n")
        if side == "right":
            assert "<|im_start|>user\nfirst question alpha" in text and "END3" not in text
        else:
            assert "gamma END3<|im_end|>" in text and "first question" not in text
    text = tokenizer.decode(PromptEncoder(tokenizer, spec, len(full) - 8, truncation_side=side).encode(row)[0]
                            ["input_ids"])
    assert text.count("<|im_start|>user\n") == 2 and "<|im_start|>assistant\nanswer beta" in text


@pytest.mark.parametrize("family", ["qwen2", "bert"])
def test_lora_round_trip_restores_identical_logits(tiny_model_dir, tmp_path, family):
    model_dir = tiny_model_dir(family)
    spec = spec_for_config(family)
    torch.manual_seed(0)
    model, tokenizer, new = load_classifier(str(model_dir), spec, SPACE)
    model = apply_lora(model, spec, new)
    with torch.no_grad():  # stand-in for training: move every trainable weight away from its init
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.5)
    model.eval()
    batch = encode(tokenizer, spec)
    with torch.no_grad():
        before = classifier_logits(model, batch)
    ckpt = tmp_path / "checkpoint-1"
    model.save_pretrained(ckpt)
    write_args(str(ckpt), {"model_dir": str(model_dir), "problem_type": SPACE.problem_type,
                           "label_names": SPACE.names, "max_length": 64})
    torch.manual_seed(123)  # a different seed: nothing may depend on re-initialisation luck
    loaded, tok2, spec2, space2, _ = load_trained(None, str(ckpt), _model_args())
    with torch.no_grad():
        after = classifier_logits(loaded, encode(tok2, spec2))
    assert space2 == SPACE
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(before[0], before[1])


def _model_args():
    from swiftcls import ModelArguments

    return ModelArguments(torch_dtype="float32")


def test_lora_targets_exclude_the_head(tiny_model_dir):
    spec = spec_for_config("qwen2")
    model, _, new = load_classifier(str(tiny_model_dir("qwen2")), spec, SPACE)
    peft_model = apply_lora(model, spec, new)
    names = [n for n, _ in peft_model.named_parameters()]
    assert not any("score" in n and "lora_" in n for n in names)
    assert any("q_proj.lora_A" in n for n in names) and any("down_proj.lora_B" in n for n in names)
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert any("score" in n for n in trainable)


def lora_modules(peft_model) -> set[str]:
    """Names (relative to the decoder layers) of the modules that got a LoRA adapter."""
    return {n.split(".layers.", 1)[-1].rsplit(".lora_A", 1)[0] for n, _ in peft_model.named_modules()
            if n.endswith(".lora_A")}


@pytest.mark.parametrize("family", ["qwen3_moe", "qwen2_moe"])
def test_moe_lora_skips_routers_and_fused_experts(tiny_model_dir, family):
    """all-linear and the template default both adapt attention (+ Qwen2-MoE's shared expert), never a router."""
    spec = spec_for_config(family)
    adapted = {}
    for targets in (["all-linear"], ["default"]):
        model, _, new = load_classifier(str(tiny_model_dir(family)), spec, SPACE, torch_dtype="float32")
        routers = excluded_linears(model, spec)
        peft_model = apply_lora(model, spec, new, target_modules=targets)
        adapted[targets[0]] = lora_modules(peft_model)
        trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
        assert not [n for n in trainable if ".mlp.gate." in n or "shared_expert_gate" in n or ".experts." in n]
        assert any("score" in n for n in trainable)
    expected = {f"{i}.self_attn.{m}" for i in range(2) for m in ("q_proj", "k_proj", "v_proj", "o_proj")}
    if family == "qwen2_moe":  # the shared expert is a plain MLP; its sigmoid gate is a router
        expected |= {f"{i}.mlp.shared_expert.{m}" for i in range(2) for m in ("gate_proj", "up_proj", "down_proj")}
        assert routers == ["model.layers.0.mlp.shared_expert_gate", "model.layers.1.mlp.shared_expert_gate"]
    else:  # Qwen3-MoE's router is a Qwen3MoeTopKRouter (a bare weight), not an nn.Linear
        assert routers == []
    assert adapted["all-linear"] == adapted["default"] == expected


def test_lora_exclude_names_linear_routers():
    """The older MoE layout (transformers 4.x, Mixtral-style): an nn.Linear ``gate`` beside an ``experts`` list. The
    template's ``lora_exclude`` names match whole names or dotted tails, never a longer leaf (``gate`` is not
    ``shared_expert_gate``)."""
    from torch import nn

    from swiftcls.core.spec import ModelSpec

    def mlp():
        module = nn.Module()
        module.up_proj, module.down_proj = nn.Linear(8, 16), nn.Linear(16, 8)
        return module

    model, block = nn.Module(), nn.Module()
    block.gate, block.shared_expert_gate = nn.Linear(8, 4), nn.Linear(8, 1)
    block.experts, block.shared_expert = nn.ModuleList(mlp() for _ in range(4)), mlp()
    model.q_proj, model.mlp = nn.Linear(8, 8), block
    spec = ModelSpec(name="moe", model_types=["moe"], lora_exclude=["gate", "mlp.shared_expert_gate"])
    assert excluded_linears(model, spec) == ["mlp.gate", "mlp.shared_expert_gate"]
    assert excluded_linears(model, ModelSpec(name="moe", model_types=["moe"], lora_exclude=["gate"])) == ["mlp.gate"]
    assert linear_targets(model, exclude=excluded_linears(model, spec)) == ["down_proj", "q_proj", "up_proj"]
    assert excluded_linears(model, ModelSpec(name="dense", model_types=["dense"])) == []


def test_pickled_checkpoints_are_refused(tmp_path, tiny_model_dir):
    import shutil

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir("qwen2"), folder)
    for f in folder.glob("*.safetensors"):
        f.unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not really")
    from swiftcls.core.errors import ConfigError

    with pytest.raises(ConfigError, match="refuses pickled checkpoints"):
        load_classifier(str(folder), spec_for_config("qwen2"), SPACE)


def test_infer_refuses_a_checkpoint_without_a_trained_head(tiny_model_dir):
    from swiftcls.core.errors import ConfigError

    with pytest.raises(ConfigError, match="no trained classification head"):
        load_trained(str(tiny_model_dir("qwen2")), None, _model_args())
