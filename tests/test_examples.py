"""The shipped example configs parse, name models that resolve, point at real files, and their data loads into the
intended task."""

import importlib.util
import os
from pathlib import Path

import pytest
from assets import local_copy

from swiftcls.cli.main import parse
from swiftcls.commands.common import read_options
from swiftcls.core.labels import LabelSpace, read_label_names
from swiftcls.data.dataset import load_examples, parse_columns
from swiftcls.models.registry import read_model_type, resolve_model

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "examples" / "configs").glob("*.yaml"))
EXPECTED = {"sst2_minilm": ("single_label_classification", 2), "sst2_smollm2_lora": ("single_label_classification", 2),
            "goemotions_multilabel": ("multi_label_classification", 28), "stsb_regression": ("regression", 1)}
MODEL_TYPES = {"sst2_minilm": "bert", "sst2_smollm2_lora": "llama", "goemotions_multilabel": "bert",
               "stsb_regression": "bert"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_example_config_loads_its_data(config, shared, monkeypatch):
    monkeypatch.chdir(ROOT)  # configs use paths relative to the repository root
    _, (model, data, tuner, loss, train), extra = parse(["sft", "--config", str(config)])
    assert not extra and model.model and train.output_dir.startswith("output/")
    files = [spec.rpartition("#")[0] or spec for spec in data.dataset + data.val_dataset]
    assert all(os.path.isfile(f) for f in files), files
    examples, skipped = load_examples(data.val_dataset or data.dataset, read_options(data),
                                      parse_columns(data.columns))
    space = LabelSpace.infer([(*e.label, e.where) for e in examples], model.problem_type, model.num_labels,
                             read_label_names(model.labels))
    assert (space.problem_type, space.num_labels) == EXPECTED[config.stem]
    assert not skipped


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_example_config_model_resolves(config):
    """The configs name models as a user would (``pkg:`` folders, hub ids); a hub id is swapped here, in the test,
    for its locally converted copy, since no hub is reachable."""
    _, (model, *_), _ = parse(["sft", "--config", str(config)])
    package = model.model.removeprefix("pkg:").split("/")[0].split(".")[0]
    if model.model.startswith("pkg:") and importlib.util.find_spec(package) is None:
        pytest.skip(f"{model.model}: the package '{package}' is not installed")
    try:
        folder = resolve_model(local_copy(model.model))
    except FileNotFoundError as err:  # the PyPI package holding the local copy is not installed
        pytest.skip(str(err))
    assert read_model_type(folder) == MODEL_TYPES[config.stem]


@pytest.mark.parametrize("script", sorted((ROOT / "examples").glob("*.sh")), ids=lambda p: p.stem)
def test_example_scripts_are_valid_shell_with_known_flags(script):
    import shlex
    import subprocess

    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = script.read_text().replace("\\\n", " ")
    commands = [line.split("swiftcls sft", 1)[1] for line in text.splitlines()
                if "swiftcls sft" in line and not line.lstrip().startswith("#")]
    assert commands, "no swiftcls sft command"
    for command in commands:
        argv = ["1" if "$" in a else a for a in shlex.split(command)]  # shell variables: any value
        parse(["sft", *argv])  # raises on unknown or misspelled flags
