"""Rows on Arrow (swiftcls/data/arrow.py, prepare.py): the batched maps give exactly the rows of the list path, the
first bad row in row order raises, and the label summary and index split decide as the full lists do."""

import json
import logging

import pytest
from datasets import Dataset

from swiftcls.core.errors import ConfigError, DataError
from swiftcls.core.labels import SINGLE, LabelSpace
from swiftcls.core.spec import spec_for_config
from swiftcls.data.arrow import ERROR, ArrowRows, error_json, has_images, write_examples
from swiftcls.data.chunking import ChunkConfig
from swiftcls.data.dataset import Example, encode_labels, split_validation
from swiftcls.data.encode import PromptEncoder
from swiftcls.data.prepare import LabelSummary, split_indices, take_errors, tokenize
from swiftcls.data.prepare import encode_labels as encode_label_column
from swiftcls.models.loading import load_tokenizer


def _examples() -> list[Example]:
    long = " ".join(f"word{i}" for i in range(120))
    rows = [Example("a short text", label=("str", "pos")), Example(long, label=("str", "neg")),
            Example("first", "second text", label=("str", "pos")),
            Example(None, messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": long}],
                    label=("str", "neg"))]
    return [Example(ex.text, ex.text_pair, ex.messages, ex.label, file="f.jsonl", row=i + 1)
            for i, ex in enumerate(rows * 3)]


@pytest.mark.parametrize("family, long_text", [("qwen2", "truncate"), ("bert", "chunk")])
def test_arrow_rows_are_the_rows_of_the_list_path(tiny_model_dir, tmp_path, family, long_text):
    spec = spec_for_config(family)
    encoder = PromptEncoder(load_tokenizer(str(tiny_model_dir(family)), spec), spec, max_length=48,
                            long_text=long_text, chunk=ChunkConfig(8, "max", 4), system="sys")
    examples = [ex for ex in _examples() if family == "qwen2" or ex.messages is None]
    space = LabelSpace(SINGLE, ["neg", "pos"])
    _, labels = encode_labels(examples, space)
    expected = [{**row, "labels": y} for row, y in zip(encoder.encode(examples), labels)]

    data = write_examples(iter(examples), str(tmp_path / "rows.arrow"))
    data = take_errors(encode_label_column(data, space, str(tmp_path / "labels.arrow"), "f1"), None)
    rows = ArrowRows(take_errors(tokenize(data, encoder, str(tmp_path / "tokens.arrow"), "f2"), None))
    assert list(rows) == expected
    assert rows.lengths() == [sum(len(w["input_ids"]) for w in r.get("windows", [r])) for r in expected]
    assert any("windows" in r for r in expected) == (long_text == "chunk")
    assert str(rows.data.features["input_ids"].feature.dtype) == "int32"


def _with_errors(errors: list) -> Dataset:
    return Dataset.from_dict({"x": list(range(len(errors))), ERROR: errors})


def test_the_first_bad_row_in_row_order_raises_or_every_bad_row_is_collected():
    bad = [None, error_json(DataError("bad 1", "f.jsonl", 2, "label", "fix 1")), None,
           error_json(DataError("bad 3", "f.jsonl", 4, "text", "fix 3"))]
    with pytest.raises(DataError, match=r"f.jsonl, row 2, field 'label': bad 1 Fix: fix 1"):
        take_errors(_with_errors(bad), None)
    skipped = []
    kept = take_errors(_with_errors(bad), skipped)
    assert list(kept["x"]) == [0, 2] and list(kept[ERROR]) == [None, None]
    assert [(e.row, e.field, e.fix) for e in skipped] == [(2, "label", "fix 1"), (4, "text", "fix 3")]
    # A check over all rows stops the run even when bad rows are skipped.
    fatal = [None, None, error_json(ConfigError("images on a text-only model"), fatal=True), bad[1]]
    with pytest.raises(ConfigError, match="text-only"):
        take_errors(_with_errors(fatal), [])


def _parsed(labels):
    return [(kind, value, {"file": f"f{i % 2}.jsonl", "row": i}) for i, (kind, value) in enumerate(labels)]


@pytest.mark.parametrize("labels", [
    [("str", "b"), ("str", "a"), ("str", "b"), ("str", "c")],
    [("int", 0), ("int", True), ("int", 1), ("int", 5), ("int", 0)],  # booleans and gaps: warned about
    [("list", ["x", "y"]), ("list", ["y"]), ("list", []), ("list", ["x", "y"])],
    [("int", 1), ("str", "a"), ("int", 1)],  # ids mixed with names: an error naming both rows
    [("int", 0), ("float", 0.5), ("int", 1)],  # a decimal in classification
])
def test_the_label_summary_decides_as_every_row(labels, caplog):
    summary = LabelSummary()
    for kind, value, where in _parsed(labels):
        summary.add(Example("t", label=(kind, value), file=where["file"], row=where["row"]))
    assert len(summary.parsed) <= len(labels)
    outcomes = []
    for parsed in (_parsed(labels), summary.parsed):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            try:
                outcomes.append((LabelSpace.infer(parsed), caplog.messages))
            except DataError as err:
                outcomes.append((str(err), caplog.messages))
    assert outcomes[0] == outcomes[1]


def test_the_index_split_is_the_example_split(tmp_path):
    examples = [Example(f"t{i}", label=("str", "ab"[i % 3 == 0]), file="f", row=i) for i in range(40)]
    space = LabelSpace(SINGLE, ["a", "b"])
    data = write_examples(iter(examples), str(tmp_path / "rows.arrow"))
    train_idx, val_idx = split_indices(data, 0.25, space, seed=3)
    train, val = split_validation(examples, 0.25, space, seed=3)
    assert [examples[i].row for i in train_idx] == [ex.row for ex in train]
    assert [examples[i].row for i in val_idx] == [ex.row for ex in val]
    assert json.loads(data[0]["label"]) == ["str", "b"]


def test_has_images_reads_the_selected_rows_of_the_arrow_column(tmp_path):
    rows = [Example(f"t{i}", label=("int", i % 2), images=["a.png"] if i == 5 else [], row=i) for i in range(12)]
    data = write_examples(rows, str(tmp_path / "rows.arrow"))
    assert has_images(data) and has_images(data.select([4, 5]))
    assert not has_images(data.select([0, 1, 2, 6, 11])) and not has_images(data.select([]))
    assert not has_images(write_examples(rows[:5], str(tmp_path / "none.arrow")))


class _Unpicklable(PromptEncoder):
    """An encoder that fails if it is pickled (the map workers then must inherit it)."""

    def __reduce__(self):
        raise TypeError("the encoder was pickled")


def test_forked_map_workers_inherit_the_encoder_instead_of_unpickling_it(tiny_model_dir, tmp_path, monkeypatch):
    spec = spec_for_config("qwen2")
    tokenizer = load_tokenizer(str(tiny_model_dir("qwen2")), spec)
    examples = [Example(f"review number {i} " * (1 + i % 7), label=("str", "pos" if i % 3 else "neg"), file="f.jsonl",
                        row=i + 1) for i in range(2500)]  # > 2 map batches: two workers
    data = write_examples(iter(examples), str(tmp_path / "rows.arrow"))
    data = take_errors(encode_label_column(data, LabelSpace(SINGLE, ["neg", "pos"]), str(tmp_path / "labels.arrow"),
                                           "f1"), None)
    serial = tokenize(data, PromptEncoder(tokenizer, spec, max_length=16), str(tmp_path / "one.arrow"), "f2")
    unpicklable = _Unpicklable(tokenizer, spec, max_length=16)
    forked = tokenize(data, unpicklable, str(tmp_path / "two.arrow"), "f3", num_proc=2)
    assert len(forked.cache_files) == 2  # two workers wrote it
    assert forked.to_list() == serial.to_list()
    monkeypatch.setattr("swiftcls.data.prepare._start_method", lambda: "spawn")  # workers that start afresh
    with pytest.raises(Exception, match="the encoder was pickled"):  # get the encoder pickled, as before
        tokenize(data, unpicklable, str(tmp_path / "three.arrow"), "f4", num_proc=2)
