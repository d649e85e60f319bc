"""``--prompt`` on a base LLM (a decoder whose tokenizer has no chat template): training, ``args.json``, infer / the
Python API and the export's ``score_template.jinja`` all wrap the text in the prompt, as with a chat template."""

import json
import shutil
from pathlib import Path

import pytest
from helpers import make_rows, write
from transformers import AutoTokenizer

from swiftcls import Classifier, export_main, sft_main
from swiftcls.config.infer import InferArguments
from swiftcls.config.parser import parse_args
from swiftcls.core.prompt_template import fill_text
from swiftcls.core.spec import spec_for_config
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder
from swiftcls.inference.prompts import score_template, training_encoder

PROMPT = "Review: {text}\nSentiment:"
PAIR = ("alpha beta", "gamma delta")


@pytest.fixture(scope="module")
def base_run(tiny_model_dir, tmp_path_factory):
    """A one-step regression run (one output: the export gets a score template) of a tiny Llama whose tokenizer has
    its chat template removed, trained with --prompt."""
    root = tmp_path_factory.mktemp("base-llm")
    model = Path(shutil.copytree(tiny_model_dir("llama"), root / "tiny"))
    tokenizer = AutoTokenizer.from_pretrained(model)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
        (model / name).unlink(missing_ok=True)
    tokenizer.chat_template = None
    tokenizer.save_pretrained(model)
    assert not AutoTokenizer.from_pretrained(model).chat_template
    train = write(root / "train.jsonl", make_rows(8, "regression"))
    return Path(sft_main(["--model", str(model), "--dataset", train, "--tuner_type", "full", "--max_steps", "1",
                          "--per_device_train_batch_size", "8", "--max_length", "64", "--use_cpu", "true",
                          "--prompt", PROMPT, "--output_dir", str(root / "run")])["last_model_checkpoint"])


def test_the_prompt_shapes_ids_with_and_without_a_chat_template(tiny_model_dir):
    """The filled prompt is the whole prompt without a chat template, and the user turn with one."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir("llama"))
    spec, filled = spec_for_config("llama"), fill_text(PROMPT, "\n".join(PAIR))
    chat = PromptEncoder(tokenizer, spec, 64, prompt=PROMPT).encode([Example(*PAIR)])[0]["input_ids"]
    expected = tokenizer.apply_chat_template([{"role": "user", "content": filled}], tokenize=False,
                                             add_generation_prompt=True)
    assert chat == tokenizer(expected, add_special_tokens=False)["input_ids"]
    tokenizer.chat_template = None
    plain = PromptEncoder(tokenizer, spec, 64, prompt=PROMPT).encode([Example(*PAIR)])[0]["input_ids"]
    assert plain == tokenizer(filled)["input_ids"]


def test_a_base_llm_checkpoint_keeps_its_prompt_in_infer_and_the_score_template(base_run, tmp_path):
    args = json.loads((base_run / "args.json").read_text())
    assert args["prompt"] == PROMPT and args["chat_template_applied"] is False
    tokenizer = AutoTokenizer.from_pretrained(base_run)
    trained = tokenizer(fill_text(PROMPT, "\n".join(PAIR)))["input_ids"]
    api = Classifier.from_pretrained(str(base_run), device="cpu").encode([Example(*PAIR)])[0]["input_ids"]
    infer_args = parse_args(InferArguments, ["--model", str(base_run), "--dataset", "rows.jsonl"])
    infer = training_encoder(tokenizer, spec_for_config("llama"), args, infer_args).encode([Example(*PAIR)])
    out = Path(export_main(["--model", str(base_run), "--output_dir", str(tmp_path / "export")]))
    rendered = tokenizer.apply_chat_template([{"role": "query", "content": PAIR[0]},
                                              {"role": "document", "content": PAIR[1]}],
                                             chat_template=(out / "score_template.jinja").read_text(),
                                             tokenize=False)  # what vLLM does
    assert api == infer[0]["input_ids"] == tokenizer(rendered)["input_ids"] == trained
    assert score_template(training_encoder(tokenizer, spec_for_config("llama"), args)) == (
        "{{ \"Review: \" }}{{ messages[0]['content'] }}{{ \"\\n\" }}{{ messages[1]['content'] }}"
        "{{ \"\\nSentiment:\" }}")
