"""A family added only as a YAML file: Mistral (not shipped) trains packed, exports, and round-trips its logits.

The template is the "Adding a family without code" example of docs/models.md, read from that page, so the documented
recipe is exactly what runs here. The model is a tiny random Mistral built from the public config.json of
mistralai/Mistral-7B-v0.3 with only its sizes shrunk (as tests/tiny_models.py does), speaking the real Qwen
tokenizer like the tiny Llama.
"""

import json
import logging
import re
from pathlib import Path

import pytest
import torch
from helpers import assert_same_logits_loss_grads, make_rows, packed_and_padded, sft, write
from tiny_models import DECODER_SHRINK, QWEN_IDS, QWEN_PADDED_VOCAB, QWEN_TOKENIZER, tiny_tokenizer
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, MistralConfig

from swiftcls import ModelArguments, export_main
from swiftcls.cli.main import main
from swiftcls.core.errors import ConfigError
from swiftcls.core.labels import MULTI, SINGLE, LabelSpace
from swiftcls.core.spec import load_specs, spec_for_config
from swiftcls.data.collators import Collator, PackingCollator
from swiftcls.data.dataset import Example
from swiftcls.inference.predict import predict_logits
from swiftcls.inference.prompts import training_encoder
from swiftcls.models.trained import load_trained

DOCS = Path(__file__).resolve().parents[2] / "docs" / "models.md"

# Public config.json of mistralai/Mistral-7B-v0.3 (minus transformers_version).
MISTRAL_7B_V0_3 = {
    "architectures": ["MistralForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 32768,
    "model_type": "mistral",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05,
    "rope_theta": 1000000.0,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "vocab_size": 32768,
}
TEXTS = ["alpha good thing", "a much longer text that forces padding inside the batch: " + "beta gamma " * 6, "bad"]


def docs_template() -> str:
    """The YAML block of docs/models.md that starts with ``# ~/my_templates/mistral.yaml``."""
    found = re.search(r"```yaml\n(# ~/my_templates/mistral\.yaml\n.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert found, f"{DOCS} lost its Mistral template example"
    return found.group(1)


def make_tiny_mistral(out_dir: Path) -> Path:
    """Mistral-7B-v0.3's config with the tiny sizes and the Qwen tokenizer's ids; random weights (seed 0)."""
    values = {**MISTRAL_7B_V0_3, **{k: v for k, v in DECODER_SHRINK.items() if k != "head_dim"}, **QWEN_IDS,
              "vocab_size": QWEN_PADDED_VOCAB}
    values.pop("model_type")
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(MistralConfig(**values)).save_pretrained(out_dir)
    tiny_tokenizer("qwen2").save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="module")
def mistral_dir(tmp_path_factory):
    """A tiny Mistral checkpoint, with the docs' mistral.yaml in a folder named by SWIFTCLS_TEMPLATES."""
    if not (QWEN_TOKENIZER / "tokenizer.json").is_file():
        pytest.skip(f"Qwen tokenizer not found at {QWEN_TOKENIZER} (set SWIFTCLS_SHARED)")
    templates = tmp_path_factory.mktemp("templates")
    (templates / "mistral.yaml").write_text(docs_template(), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SWIFTCLS_TEMPLATES", str(templates))
        yield make_tiny_mistral(tmp_path_factory.mktemp("tiny-mistral"))


def test_the_yaml_file_alone_adds_the_family(mistral_dir, monkeypatch):
    spec = spec_for_config("mistral")
    assert spec.classifier == "MistralForSequenceClassification" and spec.padding_free
    monkeypatch.delenv("SWIFTCLS_TEMPLATES")  # the shipped templates do not know Mistral
    with pytest.raises(ConfigError, match="No swiftcls template for model_type 'mistral'"):
        spec_for_config("mistral")
    assert "mistral" not in load_specs()


@pytest.mark.parametrize("problem_type, lora, attn", [(SINGLE, False, None), (MULTI, True, "sdpa")])
def test_packed_equals_padded(mistral_dir, problem_type, lora, attn):
    """fp32 on CPU, as tests/models/test_padding_free.py checks the shipped families."""
    space = LabelSpace(problem_type, ["a", "b", "c"] if problem_type == SINGLE else ["x", "y"])
    assert_same_logits_loss_grads(*packed_and_padded(mistral_dir, spec_for_config("mistral"), space, lora, attn))


def test_trains_packed_exports_and_round_trips_logits(mistral_dir, tmp_path, caplog, monkeypatch):
    train = write(tmp_path / "train.jsonl", make_rows(48, "single"))
    batches = {"packed": 0, "padded": 0}
    packing_call, padding_call = PackingCollator.__call__, Collator.__call__

    def counted(kind, call):
        def wrapper(self, rows):
            batches[kind] += "labels" in rows[0]  # training batches carry labels
            return call(self, rows)
        return wrapper
    monkeypatch.setattr(PackingCollator, "__call__", counted("packed", packing_call))
    monkeypatch.setattr(Collator, "__call__", counted("padded", padding_call))
    with caplog.at_level(logging.INFO, logger="swiftcls.models.packing"):
        summary = sft(["--model", str(mistral_dir), "--dataset", train, "--tuner_type", "lora", "--lora_rank", "4",
                       "--learning_rate", "5e-3", "--max_steps", "3", "--per_device_train_batch_size", "16",
                       "--output_dir", str(tmp_path / "run"), "--use_cpu", "true", "--warmup_ratio", "0"])
    assert "Padding-free batches (attention: swiftcls_varlen)" in caplog.text
    assert batches["packed"] >= 3 and batches["padded"] == 0  # every training step packed, none padded
    monkeypatch.setattr(PackingCollator, "__call__", packing_call)
    monkeypatch.setattr(Collator, "__call__", padding_call)
    ckpt = summary["last_model_checkpoint"]
    assert json.loads((tmp_path / "run" / "args.json").read_text())["model_type"] == "mistral"

    export = tmp_path / "exported"
    assert main(["export", "--adapters", ckpt, "--output_dir", str(export)]) == 0
    config = json.loads((export / "config.json").read_text())
    assert config["architectures"] == ["MistralForSequenceClassification"] and config["model_type"] == "mistral"
    with pytest.raises(ConfigError, match="'mistral' template names no LMDeploy reward architecture"):
        export_main(["--adapters", ckpt, "--output_dir", str(tmp_path / "rm"), "--to", "lmdeploy"])

    # swiftcls: the LoRA checkpoint (adapters attached, not merged), packed batches, its own pooling.
    model, tokenizer, spec, _, train_args = load_trained(None, ckpt, ModelArguments(torch_dtype="float32"), "cpu")
    rows = training_encoder(tokenizer, spec, train_args).encode([Example(t) for t in TEXTS])
    ours = torch.from_numpy(predict_logits(model, rows, PackingCollator()))

    # Plain transformers on the export: chat template, right padding, the model's own forward and pooling.
    tokenizer = AutoTokenizer.from_pretrained(export)
    prompts = [tokenizer.apply_chat_template([{"role": "user", "content": t}], tokenize=False,
                                             add_generation_prompt=True) for t in TEXTS]
    batch = tokenizer(prompts, padding=True, add_special_tokens=False, return_tensors="pt")
    assert [ids[mask.bool()].tolist() for ids, mask in zip(batch["input_ids"], batch["attention_mask"])] == [
        r["input_ids"] for r in rows]
    plain = AutoModelForSequenceClassification.from_pretrained(export).eval()
    with torch.no_grad():
        theirs = plain(**batch).logits
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(theirs[0], theirs[1])
