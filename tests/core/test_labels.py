"""Label parsing, problem-type inference and the id mapping."""

import pytest

from swiftcls.core.errors import ConfigError, DataError
from swiftcls.core.labels import (
    ASK,
    MULTI,
    REGRESSION,
    SINGLE,
    LabelSpace,
    label_separator,
    parse_label,
    read_label_names,
)

W = {"file": "train.jsonl", "row": 7}


def parsed(values):
    return [(*parse_label(v, {"file": "f.jsonl", "row": i + 1}), {"file": "f.jsonl", "row": i + 1})
            for i, v in enumerate(values)]


@pytest.mark.parametrize("raw, expected", [
    (3, ("int", 3)), ("3", ("int", 3)), (" 2 ", ("int", 2)), (True, ("int", True)),
    (2.5, ("float", 2.5)), ("3.800", ("float", 3.8)), ("pos", ("str", "pos")),
    ("8,20", ("list", [8, 20])), (["joy", "love"], ("list", ["joy", "love"])), ([], ("list", [])),
])
def test_parse_label(raw, expected):
    assert parse_label(raw, W) == expected


@pytest.mark.parametrize("raw, needle", [
    (None, "missing"), ("  ", "missing"), (float("nan"), "finite"), ("inf", "finite"),
    ({"a": 1}, "unsupported type"), ([1.5], "names or ids"),
])
def test_parse_label_errors_name_file_row_field(raw, needle):
    with pytest.raises(DataError) as err:
        parse_label(raw, W)
    assert needle in str(err.value)
    assert "train.jsonl, row 7, field 'label'" in str(err.value)


def test_infer_single_label_names_sorted_and_round_trip():
    space = LabelSpace.infer(parsed(["pos", "neg", "neutral", "pos"]))
    assert space.problem_type == SINGLE
    assert space.names == ["neg", "neutral", "pos"]
    assert space.label2id == {"neg": 0, "neutral": 1, "pos": 2}
    for name in space.names:
        assert space.decode(space.encode("str", name, W)) == name


def test_infer_int_ids_and_given_names():
    space = LabelSpace.infer(parsed([0, 1, 1]), names=["negative", "positive"])
    assert space.names == ["negative", "positive"] and space.encode("int", 1, W) == 1
    assert LabelSpace.infer(parsed(["0", "2"])).names == ["0", "1", "2"]
    assert LabelSpace.infer(parsed([0, 1]), num_labels=4).num_labels == 4


def test_infer_multi_label_from_comma_strings():
    space = LabelSpace.infer(parsed(["8,20", "3", "20"]), num_labels=28)
    assert space.problem_type == MULTI
    assert space.encode("list", [8, 20], W)[8] == 1.0 and sum(space.encode("list", [8, 20], W)) == 2
    assert space.encode("int", 3, W) == [1.0 if i == 3 else 0.0 for i in range(28)]


def test_infer_regression():
    space = LabelSpace.infer(parsed(["4.2", 1, "0.0"]))
    assert space.problem_type == REGRESSION and space.num_labels == 1
    assert space.encode("int", 1, W) == 1.0


def test_given_problem_type_is_checked():
    with pytest.raises(DataError, match="several labels"):
        LabelSpace.infer(parsed(["a", "a,b"]), problem_type=SINGLE)
    with pytest.raises(DataError, match="numeric"):
        LabelSpace.infer(parsed(["a", "b"]), problem_type=REGRESSION)
    with pytest.raises(DataError, match="decimal"):
        LabelSpace.infer(parsed([1, 2.5]), problem_type=SINGLE)


def test_contradictions_and_mixtures():
    with pytest.raises(ConfigError, match="num_labels 3 contradicts"):
        LabelSpace.infer(parsed(["a", "b"]), num_labels=3)
    with pytest.raises(DataError, match="mix integer ids"):
        LabelSpace.infer(parsed([0, "pos"]))
    with pytest.raises(DataError, match="out of range"):
        LabelSpace.infer(parsed([0, 5]), num_labels=2)
    with pytest.raises(DataError, match="unknown label 'meh'"):
        LabelSpace.infer(parsed(["pos", "meh"]), names=["neg", "pos"])
    with pytest.raises(DataError, match="only one class"):
        LabelSpace.infer(parsed(["pos", "pos"]))
    with pytest.raises(ConfigError, match="duplicate"):
        LabelSpace.infer(parsed([0, 1]), names=["a", "a"])


def test_from_config_round_trip():
    from transformers import BertConfig

    space = LabelSpace(MULTI, ["anger", "joy", "love"])
    config = BertConfig(num_labels=3, id2label=space.id2label, label2id=space.label2id, problem_type=MULTI)
    assert LabelSpace.from_config(config) == space
    assert LabelSpace.from_config(BertConfig(num_labels=1)).problem_type == REGRESSION


def test_read_label_names(tmp_path):
    f = tmp_path / "labels.txt"
    f.write_text("admiration\namusement\n\n", encoding="utf-8")
    assert read_label_names([str(f)]) == ["admiration", "amusement"]
    assert read_label_names(["neg,pos"]) == ["neg", "pos"] == read_label_names(["neg", "pos"])
    assert read_label_names([]) is None


def test_only_csv_tsv_cells_are_comma_lists():
    assert [label_separator("auto", f) for f in ("a.csv", "b.TSV", "c.jsonl", "d.json", "e.parquet", "glue:sst2")] \
        == [",", ",", ASK, ASK, ASK, ASK]
    assert label_separator("none", "a.csv") is None and label_separator("|", "a.jsonl") == "|"
    assert parse_label("joy,love", W, ",") == ("list", ["joy", "love"])
    with pytest.raises(DataError, match="'Smith, John' holds a comma") as err:
        parse_label("Smith, John", W, ASK)
    assert err.value.field == "label" and "--label_sep none" in str(err.value)
    assert parse_label("Smith, John", W, None) == ("str", "Smith, John")
    assert parse_label("joy|love", W, "|") == ("list", ["joy", "love"])
    assert parse_label(["Smith, John", "Doe"], W, ASK) == ("list", ["Smith, John", "Doe"])  # a real list is clear


def test_ids_with_gaps_and_booleans_warn(caplog):
    with caplog.at_level("WARNING", logger="swiftcls.core.labels"):
        space = LabelSpace.infer(parsed(["0", "1", "2", "10"]))
    assert space.num_labels == 11 and "0..10, but 7 of them never occur (3, 4, 5, 6, 7, 8, 9)" in caplog.text
    assert "--labels" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="swiftcls.core.labels"):
        assert LabelSpace.infer(parsed(["0", "1", "2", "10"]), num_labels=11).num_labels == 11
        LabelSpace.infer(parsed([0, 1, 2]))
    assert not caplog.records
    with caplog.at_level("WARNING", logger="swiftcls.core.labels"):
        space = LabelSpace.infer(parsed([True, False, True]))
    assert "f.jsonl, row 1: labels are booleans" in caplog.text and space.names == ["0", "1"]
    assert [space.encode("int", v, W) for v in (True, False)] == [1, 0]
    assert type(space.encode("int", True, W)) is int
