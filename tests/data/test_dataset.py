"""From files to validated examples: column mapping, formats, bad rows, sampling, validation split."""

import json

import pytest

from swiftcls.core.errors import ConfigError, DataError
from swiftcls.core.labels import LabelSpace
from swiftcls.data.dataset import (
    _split_name,
    encode_labels,
    load_examples,
    parse_columns,
    split_validation,
    write_skipped,
)
from swiftcls.data.readers import ReadOptions


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return str(path)


def load(paths, columns=None, **kw):
    return load_examples(list(paths), ReadOptions(), parse_columns(columns), **kw)


def test_text_aliases_pairs_and_messages(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", [
        {"query": "hello", "label": "a"},
        {"sentence1": "x", "sentence2": "y", "label": "b"},
        {"messages": [{"role": "user", "content": "hi there"}], "label": "a"},
    ])
    ex, skipped = load([f])
    assert [e.text for e in ex] == ["hello", "x", None]
    assert ex[1].text_pair == "y" and ex[2].messages[0]["content"] == "hi there"
    assert [e.row for e in ex] == [1, 2, 3] and not skipped


def test_columns_mapping_and_ignore(tmp_path):
    f = tmp_path / "sms.csv"
    f.write_text("SMS,Label,Junk\nwin money now,spam,1\nsee you,ham,2\n", encoding="utf-8")
    ex, _ = load([str(f)], '{"SMS": "text", "Label": "label", "Junk": "ignore"}')
    assert [(e.text, e.label) for e in ex] == [("win money now", ("str", "spam")), ("see you", ("str", "ham"))]
    assert ex[0].raw == {"SMS": "win money now", "Label": "spam", "Junk": "1"}


@pytest.mark.parametrize("columns, needle", [
    ("{bad json", "not valid JSON"), ('["text"]', "JSON object"), ('{"a": "txt"}', "targets must be one of"),
])
def test_bad_columns_flag(columns, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_columns(columns)


@pytest.mark.parametrize("row, field, needle", [
    ({"label": 1}, "text", "no text field"),
    ({"text": "   ", "label": 1}, "text", "empty"),
    ({"text": 5, "label": 1}, "text", "must be a string"),
    ({"text": "ok"}, "label", "missing"),
    ({"text": "ok", "label": ""}, "label", "missing"),
    ({"messages": "hi", "label": 1}, "messages", "non-empty list"),
    ({"messages": [{"role": "user", "content": " "}], "label": 1}, "messages", "empty"),
    ({"text": "a", "text_pair": "", "label": 1}, "text_pair", "non-empty"),
])
def test_bad_rows_name_file_row_field(tmp_path, row, field, needle):
    f = write_jsonl(tmp_path / "bad.jsonl", [{"text": "fine", "label": 0}, row])
    with pytest.raises(DataError) as err:
        load([f])
    msg = str(err.value)
    assert "bad.jsonl, row 2" in msg and f"field '{field}'" in msg and needle in msg and "Fix:" in msg


def test_skip_bad_rows_reports_every_skipped_row(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "label": 0}, {"text": ""}, {"label": 1},
                                           {"text": "b", "label": 1}])
    ex, skipped = load([f], skip_bad_rows=True)
    assert [e.text for e in ex] == ["a", "b"]
    assert [e.row for e in skipped] == [2, 3]
    report = tmp_path / "skipped.jsonl"
    write_skipped(skipped, str(report))
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(r["row"], r["field"]) for r in lines] == [(2, "text"), (3, "text")]


def test_skip_bad_rows_covers_unparseable_lines(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text('{"text": "a", "label": 0}\n{"text": "b", "label"\n[1, 2]\n{"text": "c", "label": 1}\n')
    with pytest.raises(DataError, match="d.jsonl, row 2: invalid JSON"):
        load([str(f)])
    ex, skipped = load([str(f)], skip_bad_rows=True)
    assert [e.text for e in ex] == ["a", "c"] and [e.row for e in skipped] == [2, 3]
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("text,label\nfine,1\ntoo,many,fields\nok,0\n")
    ex, skipped = load([str(csv_file)], skip_bad_rows=True)
    assert [e.text for e in ex] == ["fine", "ok"] and skipped[0].row == 3 and "expected 2 field(s)" in str(skipped[0])


def test_labels_optional_for_inference(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", [{"text": "a"}, {"text": "b", "label": "x"}])
    ex, _ = load([f], require_label=False)
    assert ex[0].label is None and ex[1].label == ("str", "x")


def test_sampling_and_concatenation(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [{"text": f"a{i}", "label": i % 2} for i in range(50)])
    b = write_jsonl(tmp_path / "b.jsonl", [{"text": f"b{i}", "label": i % 2} for i in range(5)])
    ex, _ = load([f"{a}#10", b])
    assert len(ex) == 15 and len({e.text for e in ex}) == 15
    again, _ = load([f"{a}#10", b])
    assert [e.text for e in ex] == [e.text for e in again]  # seeded
    with pytest.raises(ConfigError, match="positive row count"):
        load([f"{a}#x"])


def test_empty_dataset_after_skipping(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", [{"text": ""}])
    with pytest.raises(DataError, match="no usable rows"):
        load([f], skip_bad_rows=True)


def test_stratified_split_keeps_class_ratio(tmp_path):
    rows = [{"text": f"t{i}", "label": "rare" if i % 10 == 0 else "common"} for i in range(200)]
    ex, _ = load([write_jsonl(tmp_path / "d.jsonl", rows)])
    space = LabelSpace.infer([(*e.label, e.where) for e in ex])
    train, val = split_validation(ex, 0.25, space)
    assert len(val) == 50 and len(train) == 150
    assert sum(e.label[1] == "rare" for e in val) == 5


def test_encode_labels_unknown_label_at_eval(tmp_path):
    ex, _ = load([write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "label": "pos"}, {"text": "b", "label": "meh"}])])
    space = LabelSpace("single_label_classification", ["neg", "pos"])
    with pytest.raises(DataError, match="d.jsonl, row 2, field 'label': unknown label 'meh'"):
        encode_labels(ex, space)
    kept, encoded = encode_labels(ex, space, skip_bad_rows=True, skipped=(skipped := []))
    assert encoded == [1] and len(skipped) == 1


def test_real_stsb_pairs_with_column_indices(shared):
    opts = ReadOptions(delimiter="\t", header=False)
    ex, _ = load_examples([str(shared / "data/stsb/sts-train.csv")], opts,
                          parse_columns('{"5": "text", "6": "text_pair", "4": "label"}'))
    assert len(ex) == 5749
    space = LabelSpace.infer([(*e.label, e.where) for e in ex])
    assert space.problem_type == "regression"
    assert all(e.text_pair for e in ex)


def test_real_goemotions_multilabel_with_label_file(shared):
    from swiftcls.core.labels import read_label_names

    names = read_label_names([str(shared / "data/goemotions/labels.txt")])
    ex, _ = load_examples([str(shared / "data/goemotions/dev.tsv")], ReadOptions(quoting="csv"),
                          parse_columns('{"id": "ignore"}'))
    space = LabelSpace.infer([(*e.label, e.where) for e in ex], "multi_label_classification", names=names)
    assert space.num_labels == 28 == len(names)
    _, encoded = encode_labels(ex, space)
    assert all(sum(v) >= 1 for v in encoded) and any(sum(v) >= 2 for v in encoded)


def split_folder(tmp_path):
    """A dataset folder as ``datasets`` reads it: one JSONL file per split, named after the split."""
    folder = tmp_path / "ds"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", [{"text": f"train {i} good thing", "label": "good" if i % 2 else "bad"}
                                         for i in range(8)])
    write_jsonl(folder / "validation.jsonl", [{"text": "val 0 bad thing", "label": "bad"},
                                              {"text": "val 1 good thing", "label": "good"}])
    return folder


def test_dataset_folder_reads_the_split_asked_for(tmp_path):
    folder = split_folder(tmp_path)
    assert [ex.text for ex in load([f"{folder}@validation"])[0]] == ["val 0 bad thing", "val 1 good thing"]
    train = load([str(folder)])[0]
    assert [ex.text for ex in train] == [f"train {i} good thing" for i in range(8)] and train[0].file == str(folder)
    sampled = load([f"{folder}@train#3"])[0]
    assert len(sampled) == 3 and all(ex.text.startswith("train") for ex in sampled)
    with pytest.raises(DataError) as err:
        load([f"{folder}@test"])
    assert err.value.file == f"{folder}@test" and "['train', 'validation']" in err.value.reason
    assert f"'{folder}@<split>'" in err.value.fix


def test_unreadable_folder_and_misplaced_split(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as err:
        load([str(tmp_path / "empty")])
    assert err.value.file == str(tmp_path / "empty") and "cannot read this folder" in err.value.reason
    assert "train.jsonl" in err.value.fix
    f = write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "label": "x"}])
    with pytest.raises(DataError, match="this is one file") as err:
        load([f"{f}@validation"])
    assert err.value.file == f and "drop '@validation'" in err.value.fix
    with pytest.raises(ConfigError, match="name\\[:subset\\]\\[@split\\]"):
        load(["glue:sst2@"])


def test_split_syntax():
    assert _split_name("glue:sst2@validation") == ("glue:sst2", "validation")
    assert _split_name("stanfordnlp/imdb@test[:10%]") == ("stanfordnlp/imdb", "test[:10%]")
    assert _split_name("runs@v2/train.jsonl") == ("runs@v2/train.jsonl", None)
    assert _split_name("glue:sst2") == ("glue:sst2", None)


def test_train_and_infer_on_folder_splits(tiny_model_dir, tmp_path):
    from helpers import sft

    from swiftcls import infer_main

    folder = split_folder(tmp_path)
    summary = sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", str(folder), "--val_dataset",
                   f"{folder}@validation", "--max_steps", "1", "--output_dir", str(tmp_path / "out")])
    result = infer_main(["--adapters", summary["last_model_checkpoint"], "--dataset", f"{folder}@validation",
                         "--result_path", str(tmp_path / "pred.jsonl")])
    preds = [json.loads(line) for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    assert [p["text"] for p in preds] == ["val 0 bad thing", "val 1 good thing"]
    for metrics in (summary["metrics"], result["metrics"]):  # sft validated on the 2 validation rows too
        assert sum(map(sum, metrics["confusion_matrix"])) == 2


def test_round_2_row_errors_are_skippable(tmp_path):
    """Lone surrogates, unknown roles, duplicate keys, over-long rows and comma labels are row errors that
    --skip_bad_rows skips and reports, like any other bad row."""
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join([
        '{"text": "a", "label": "x"}', '{"text": "\\ud800", "label": "x"}',
        '{"messages": [{"role": "tool", "content": "hi"}], "label": "x"}', '{"text": "b", "text": "c", "label": "x"}',
        json.dumps({"text": "z" * 500, "label": "x"}), '{"text": "d", "label": "Smith, John"}',
        '{"text": "e", "label": "y"}']) + "\n", encoding="utf-8")
    ex, skipped = load_examples([str(f)], ReadOptions(max_row_chars=400), {}, skip_bad_rows=True)
    assert [e.text for e in ex] == ["a", "e"]
    assert sorted((e.row, e.field) for e in skipped) == [(2, "text"), (3, "messages"), (4, "text"), (5, None),
                                                         (6, "label")]


def test_training_and_the_server_accept_the_same_roles():
    """One rule: the roles data validation accepts are exactly those the server's request schema accepts."""
    import typing

    from swiftcls.data.checks import ROLES, check_messages
    from swiftcls.serve.schemas import ChatMessage

    assert set(typing.get_args(ChatMessage.model_fields["role"].annotation)) == set(ROLES)
    for role in ROLES:
        check_messages([{"role": role, "content": "x"}], {"file": "f", "row": 1})
    with pytest.raises(DataError, match="role 'tool'"):
        check_messages([{"role": "tool", "content": "x"}], {"file": "f", "row": 1})
