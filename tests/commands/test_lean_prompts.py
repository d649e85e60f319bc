"""The system prompt choice survives from ``sft`` into ``args.json``, the Python API / infer and the export's
``score_template.jinja`` and model card: same token ids as training. A tiny random Llama with the real SmolLM2
tokenizer, whose chat template inserts a default system prompt when a prompt has none."""

import json
import shutil
from pathlib import Path

import pytest
from helpers import make_rows, write
from transformers import AutoTokenizer

from swiftcls import Classifier, export_main, sft_main
from swiftcls.core.spec import spec_for_config
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder
from swiftcls.inference.prompts import score_template, training_encoder

SMOL_DEFAULT = "You are a helpful AI assistant named SmolLM"
PAIR = ("alpha beta", "gamma delta")


@pytest.fixture(scope="module")
def lean_run(smollm2_dir, tiny_model_dir, tmp_path_factory):
    """A one-step regression run (one output: the export gets a score template) without --system."""
    root = tmp_path_factory.mktemp("lean")
    model = Path(shutil.copytree(tiny_model_dir("llama"), root / "tiny"))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
        (model / name).unlink(missing_ok=True)  # the tiny model's Qwen tokenizer files give way to SmolLM2's
    AutoTokenizer.from_pretrained(smollm2_dir).save_pretrained(model)
    train = write(root / "train.jsonl", make_rows(8, "regression"))
    return Path(sft_main(["--model", str(model), "--dataset", train, "--tuner_type", "full", "--max_steps", "1",
                          "--per_device_train_batch_size", "8", "--max_length", "64", "--use_cpu", "true",
                          "--output_dir", str(root / "run")])["last_model_checkpoint"])


def pair_ids(tokenizer, system):
    """Training's ids of the PAIR row with ``system`` as PromptEncoder's ``system``."""
    encoder = PromptEncoder(tokenizer, spec_for_config("llama"), 64, system=system)
    return encoder.encode([Example(*PAIR)])[0]["input_ids"]


def served_ids(checkpoint, tmp_path):
    """Ids of PAIR as the Python API (infer, eval, deploy) builds them and as vLLM builds them from the export's
    score template."""
    clf = Classifier.from_pretrained(str(checkpoint), device="cpu")
    out = Path(export_main(["--model", str(checkpoint), "--output_dir", str(tmp_path / "export")]))
    tokenizer = AutoTokenizer.from_pretrained(out)
    rendered = tokenizer.apply_chat_template([{"role": "query", "content": PAIR[0]},
                                              {"role": "document", "content": PAIR[1]}],
                                             chat_template=(out / "score_template.jinja").read_text(),
                                             tokenize=False)  # what vLLM does
    return clf.encode([Example(*PAIR)])[0]["input_ids"], tokenizer(rendered)["input_ids"], out


def test_lean_choice_survives_into_args_python_api_and_export(lean_run, tmp_path):
    args = json.loads((lean_run / "args.json").read_text())
    assert args["system"] is None and args["default_system_prompt"] is False
    api, vllm, out = served_ids(lean_run, tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert api == vllm == pair_ids(tokenizer, None)
    assert SMOL_DEFAULT not in tokenizer.decode(api)
    assert '[{"role": "system", "content": ""}, {"role": "user", "content": t}]' in (out / "README.md").read_text()


def test_a_checkpoint_from_before_lean_prompts_keeps_the_default_system_prompt(lean_run, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(lean_run, old)
    args = json.loads((old / "args.json").read_text())
    del args["default_system_prompt"]  # as swiftcls wrote args.json before lean prompts
    (old / "args.json").write_text(json.dumps(args))
    clf = Classifier.from_pretrained(str(old), device="cpu")  # as infer / eval / deploy read it back
    tokenizer = clf.tokenizer
    api = clf.encode([Example(*PAIR)])[0]["input_ids"]
    template = score_template(training_encoder(tokenizer, clf.spec, args))  # what export writes
    rendered = tokenizer.apply_chat_template([{"role": "query", "content": PAIR[0]},
                                              {"role": "document", "content": PAIR[1]}],
                                             chat_template=template, tokenize=False)
    vllm = tokenizer(rendered)["input_ids"]
    old_prompt = tokenizer.apply_chat_template([{"role": "user", "content": "\n".join(PAIR)}], tokenize=False,
                                               add_generation_prompt=True)
    assert api == vllm == tokenizer(old_prompt, add_special_tokens=False)["input_ids"] == pair_ids(tokenizer, "default")
    assert SMOL_DEFAULT in tokenizer.decode(api)
