"""The shipped example configs parse, point at real files, and their data loads into the intended task."""

import os
from pathlib import Path

import pytest

from swiftcls import SftArguments
from swiftcls.commands.common import read_options
from swiftcls.config.parser import parse_args, parse_values
from swiftcls.core.labels import LabelSpace, read_label_names
from swiftcls.data.dataset import load_examples, parse_columns

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "examples" / "configs").glob("*.yaml"))
EXPECTED = {"sst2_minilm": ("single_label_classification", 2), "sst2_smollm2_lora": ("single_label_classification", 2),
            "goemotions_multilabel": ("multi_label_classification", 28), "stsb_regression": ("regression", 1)}


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
