"""Tiny random test models load as classifiers; the real MiniLM and SmolLM2 assets (tests/assets.py) are found and
sane."""

import json
import pkgutil

import assets
import pytest
import torch
from safetensors.torch import load_file
from tiny_models import FAMILIES, make_tiny_model
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

import swiftcls

TEXTS = ["a short one", "a considerably longer sentence that needs padding in the batch"]
ARCHITECTURES = {
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "llama": "LlamaForCausalLM",
    "bert": "BertModel",
    "qwen3_moe": "Qwen3MoeForCausalLM",
    "qwen2_moe": "Qwen2MoeForCausalLM",
}


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_model_loads_as_sequence_classifier(tiny_model_dir, family):
    folder = tiny_model_dir(family)
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == family
    assert config["architectures"] == [ARCHITECTURES[family]]
    assert config["hidden_size"] == 32 and config["num_hidden_layers"] == 2
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert config["vocab_size"] >= len(tokenizer)
    if family.endswith("_moe"):  # saved in the hub's per-expert layout; transformers 5 fuses the experts at load
        moe = AutoConfig.from_pretrained(folder)  # transformers 5 writes num_experts as num_local_experts
        assert (moe.num_experts, moe.num_experts_per_tok, moe.moe_intermediate_size) == (4, 2, 32)
        keys = load_file(folder / "model.safetensors").keys()
        assert {f"model.layers.1.mlp.experts.{e}.{m}.weight" for e in range(4)
                for m in ("gate_proj", "up_proj", "down_proj")} <= keys
        assert "model.layers.1.mlp.gate.weight" in keys
    # Like the real Qwen configs, the tiny ones carry no pad_token_id: batched classification needs one.
    model = AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=3, pad_token_id=tokenizer.pad_token_id, dtype=torch.float32
    )
    model.eval()
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (len(TEXTS), 3)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_model_is_reproducible(tiny_model_dir, tmp_path, family):
    first = load_file(tiny_model_dir(family) / "model.safetensors")  # built with seed 0
    again = load_file(make_tiny_model(family, tmp_path / "again", seed=0) / "model.safetensors")
    other = load_file(make_tiny_model(family, tmp_path / "other", seed=1) / "model.safetensors")
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_minilm_path_exists():
    try:
        folder = assets.minilm_path()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    assert (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))
    assert json.loads((folder / "config.json").read_text())["model_type"] == "bert"


def test_assets_are_a_test_helper_not_part_of_the_package():
    assert "assets" not in {module.name for module in pkgutil.iter_modules(swiftcls.__path__)}
    assert assets.local_copy("Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"  # no local copy: unchanged
    assert assets.local_copy("/some/folder") == "/some/folder"


def test_local_copy_substitutes_the_packaged_minilm(minilm_dir):
    assert assets.local_copy("sentence-transformers/all-MiniLM-L6-v2") == str(minilm_dir)


def test_cache_and_shared_dirs_follow_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SWIFTCLS_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("SWIFTCLS_SHARED", str(tmp_path / "s"))
    assert assets.cache_dir() == tmp_path / "c"
    assert assets.shared_dir() == tmp_path / "s"


@pytest.mark.slow
def test_smollm2_is_converted_to_a_working_llama():
    try:
        folder = assets.smollm2_path()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    assert assets.smollm2_path() == folder  # cached, not converted again
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llama" and config["architectures"] == ["LlamaForCausalLM"]
    assert "quantization_config" not in config
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    prompt = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, prompt["input_ids"].shape[1] :])
