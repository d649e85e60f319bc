"""Template registry and --model resolution."""

import json

import pytest

from swiftcls.core.errors import ConfigError
from swiftcls.core.spec import ModelSpec, load_specs, spec_for_config
from swiftcls.models.registry import known_models, resolve_model


def test_every_family_has_a_spec():
    specs = load_specs()
    for model_type in ("qwen2", "qwen3", "llama", "bert", "roberta", "modernbert", "qwen2_moe", "qwen3_moe"):
        assert model_type in specs
    assert specs["qwen2"].kind == "decoder" and specs["qwen2"].head == ["score"]
    assert specs["qwen3_moe"].chat_template_kwargs == specs["qwen3"].chat_template_kwargs == {"enable_thinking": False}
    assert specs["bert"].pooling == "model"


def test_templates_name_real_classes():
    from swiftcls.models.loading import _classifier_class

    for spec in {id(s): s for s in load_specs().values()}.values():
        assert callable(getattr(_classifier_class(spec), "from_pretrained", None)), spec.name


def test_short_names_map_to_hub_ids():
    names = known_models()
    assert names["qwen2.5-7b-instruct"] == "Qwen/Qwen2.5-7B-Instruct"
    assert names["deepseek-r1-distill-qwen-7b"] == "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
    assert names["smollm2-135m-instruct"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert names["qwen3-30b-a3b-instruct-2507"] == "Qwen/Qwen3-30B-A3B-Instruct-2507"
    assert names["qwen1.5-moe-a2.7b-chat"] == "Qwen/Qwen1.5-MoE-A2.7B-Chat"


def test_unknown_name_lists_close_matches():
    with pytest.raises(ConfigError, match="Did you mean: .*Qwen2.5-7B-Instruct"):
        resolve_model("Qwen2.5-7B-Instrct")


def test_local_folder_and_bad_folders(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    assert resolve_model(str(tmp_path / "m")) == str(tmp_path / "m")
    (tmp_path / "lora").mkdir()
    with pytest.raises(ConfigError, match="use --adapters"):
        resolve_model(str(tmp_path / "lora"))
    with pytest.raises(ConfigError, match="no such folder"):
        resolve_model(str(tmp_path / "missing"))


def test_hub_id_goes_to_the_hub_and_fails_clearly_offline(monkeypatch):
    calls = []

    def fake_download(repo_id, revision=None, allow_patterns=None):
        calls.append((repo_id, revision))
        raise OSError("offline")

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    with pytest.raises(ConfigError, match="Could not download 'Qwen/Qwen2.5-7B-Instruct'"):
        resolve_model("Qwen2.5-7B-Instruct", revision="main")
    assert calls == [("Qwen/Qwen2.5-7B-Instruct", "main")]


def test_user_template_dir_adds_a_family_without_code(tmp_path, monkeypatch):
    (tmp_path / "mistral.yaml").write_text(
        "name: mistral\nmodel_types: [mistral]\nkind: decoder\nclassifier: MistralForSequenceClassification\n"
        "models: [mistralai/Mistral-7B-Instruct-v0.3]\n")
    monkeypatch.setenv("SWIFTCLS_TEMPLATES", str(tmp_path))
    assert spec_for_config("mistral").classifier == "MistralForSequenceClassification"
    assert known_models()["mistral-7b-instruct-v0.3"] == "mistralai/Mistral-7B-Instruct-v0.3"


def test_bad_templates_are_rejected(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("name: x\nmodel_types: [x]\nkind: decoder\npoolling: last\n")
    with pytest.raises(ConfigError, match="unknown template keys"):
        ModelSpec.from_file(bad)
    with pytest.raises(ConfigError, match="No swiftcls template for model_type 'gpt_neox'"):
        spec_for_config("gpt_neox")
