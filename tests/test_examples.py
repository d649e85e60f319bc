"""The shipped example configs parse, name models that resolve, point at real files, and their data loads into the
intended task."""

import importlib.util
import os
from pathlib import Path

import pytest
from assets import local_copy

from swiftcls import SftArguments
from swiftcls.commands.common import read_options
from swiftcls.config.parser import parse_args, parse_values
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
    args = parse_args(SftArguments, ["--config", str(config)])
    assert args.model and args.output_dir.startswith("output/")
    files = [spec.rpartition("#")[0] or spec for spec in args.dataset + args.val_dataset]
    assert all(os.path.isfile(f) for f in files), files
    examples, skipped = load_examples(args.val_dataset or args.dataset, read_options(args),
                                      parse_columns(args.columns))
    space = LabelSpace.infer([(*e.label, e.where) for e in examples], args.problem_type, args.num_labels,
                             read_label_names(args.labels))
    assert (space.problem_type, space.num_labels) == EXPECTED[config.stem]
    assert not skipped


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_example_config_model_resolves(config):
    """The configs name models as a user would (``pkg:`` folders, hub ids); a hub id is swapped here, in the test,
    for its locally converted copy, since no hub is reachable."""
    model = parse_values(SftArguments, ["--config", str(config)])["model"]
    package = model.removeprefix("pkg:").split("/")[0].split(".")[0]
    if model.startswith("pkg:") and importlib.util.find_spec(package) is None:
        pytest.skip(f"{model}: the package '{package}' is not installed")
    try:
        folder = resolve_model(local_copy(model))
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
        parse_values(SftArguments, argv)  # raises on unknown or misspelled flags
