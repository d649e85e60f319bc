"""Loading is safe by default: safetensors only, no checkpoint code unless --trust_remote_code, clear errors."""

import json
import shutil

import pytest
from helpers import make_rows, sft, write

from swiftcls.core.errors import ConfigError
from swiftcls.core.labels import SINGLE, LabelSpace
from swiftcls.core.spec import spec_for_config
from swiftcls.models.loading import load_classifier
from swiftcls.models.tuners import load_adapters

SPACE = LabelSpace(SINGLE, ["neg", "pos"])
EVIL = "import pathlib, os\npathlib.Path(os.environ['SWIFTCLS_MARKER']).write_text('ran')\n"


def with_remote_code(src, dst, model_type=None):
    """A copy of ``src`` whose config points at checkpoint code that leaves a marker file when imported."""
    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForSequenceClassification": "evil.EvilModel"}
    config["model_type"] = model_type or config["model_type"]
    (dst / "config.json").write_text(json.dumps(config))
    (dst / "evil.py").write_text(EVIL)
    return dst


def test_checkpoint_code_never_runs_unless_asked(tiny_model_dir, tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    monkeypatch.setenv("SWIFTCLS_MARKER", str(marker))
    folder = with_remote_code(tiny_model_dir("qwen2"), tmp_path / "remote")
    load_classifier(str(folder), spec_for_config("qwen2"), SPACE, device="cpu")  # built-in classes are used
    assert not marker.exists()
    custom = with_remote_code(tiny_model_dir("qwen2"), tmp_path / "custom", model_type="evil_arch")
    data = write(tmp_path / "d.jsonl", make_rows(8, "single"))
    with pytest.raises(ConfigError, match="No swiftcls template for model_type 'evil_arch'"):
        sft(["--model", str(custom), "--dataset", data, "--output_dir", str(tmp_path / "out")])
    assert not marker.exists() and not (tmp_path / "out").exists()
    # The marker does detect execution: with the flag, transformers imports the checkpoint's code.
    with pytest.raises(Exception):  # noqa: B017 - evil.py defines no classes; only the import matters here
        load_classifier(str(folder), spec_for_config("qwen2"), SPACE, trust_remote_code=True, device="cpu")
    assert marker.read_text() == "ran"


def test_pickled_adapters_are_refused(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "adapter_model.bin").write_bytes(b"pickle")
    with pytest.raises(ConfigError, match="refuses pickled adapters"):
        load_adapters(None, str(tmp_path))


@pytest.mark.parametrize("config", [None, "{not json", '{"architectures": []}'])
def test_broken_model_folders_give_a_clear_error(tmp_path, config):
    folder = tmp_path / "model"
    folder.mkdir()
    if config is not None:
        (folder / "config.json").write_text(config)
    data = write(tmp_path / "d.jsonl", make_rows(8, "single"))
    with pytest.raises(ConfigError, match="config.json"):
        sft(["--model", str(folder), "--dataset", data, "--output_dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()
