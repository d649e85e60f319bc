"""Bad input end to end: every case goes through `swiftcls sft` (or eval) and must fail with one swiftcls error
that names the file, the row/line and the field, says how to fix it, and leaves no output behind."""

import io
import json
from dataclasses import dataclass, field

import pytest
from helpers import sft

from swiftcls import eval_main, infer_main
from swiftcls.cli.main import main
from swiftcls.core.errors import ConfigError, DataError, SwiftClsError

GOOD = '{"text": "fine", "label": "pos"}\n{"text": "bad", "label": "neg"}\n'


@dataclass
class Case:
    """One bad input: files to write, extra flags, and what the error must say.

    ``row``/``field`` are checked on DataError (None: the problem concerns the whole file or line);
    ``needles`` must all appear in the message, the last one being the fix hint.
    """

    files: dict
    flags: list = field(default_factory=list)
    error: type = DataError
    file: str | None = "d.jsonl"
    row: int | None = None
    fld: str | None = None
    needles: tuple = ()
    command: str = "sft"


def jl(*rows) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


OK = {"text": "fine", "label": "pos"}
OK2 = {"text": "bad", "label": "neg"}


def parquet_with_two(column: str) -> bytes:
    """A parquet file with two columns named ``column`` (and a label column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_arrays([pa.array(["a", "b"]), pa.array(["c", "d"]), pa.array(["pos", "neg"])],
                                 names=[column, column, "label"])
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()

CASES = {
    # --- malformed JSON / JSONL
    "jsonl_truncated_object": Case({"d.jsonl": jl(OK, '{"text": "b", "label"')}, row=2,
                                   needles=("invalid JSON", "one complete JSON object")),
    "jsonl_two_objects_on_a_line": Case({"d.jsonl": jl(OK, '{"text": "a"} {"text": "b"}')}, row=2,
                                        needles=("Extra data", "one complete JSON object")),
    "jsonl_line_is_an_array": Case({"d.jsonl": jl(OK, "[1, 2]")}, row=2,
                                   needles=("expected a JSON object, found list", "one object per line")),
    "jsonl_integer_too_long": Case({"d.jsonl": jl(OK, '{"text": "a", "label": ' + "9" * 5000 + "}")}, row=2,
                                   needles=("digits", "fix or delete this line")),
    "jsonl_nested_too_deep": Case({"d.jsonl": jl(OK, '{"text": ' + "[" * 100000 + "]" * 100000 + "}")}, row=2,
                                  needles=("nested too deeply", "fix or delete this line")),
    "json_truncated": Case({"d.json": '[{"text": "a", "label": "x"},\n'}, file="d.json", row=2,
                           needles=("invalid JSON", "fix the JSON syntax")),
    "json_not_a_list": Case({"d.json": "42"}, file="d.json", needles=("expected a list", '[{"text"')),
    # --- CSV / TSV structure
    "csv_too_many_fields": Case({"d.csv": "text,label\nok,pos\na,b,c\n"}, file="d.csv", row=3,
                                needles=("expected 2 field(s)", "--delimiter")),
    "csv_too_few_fields": Case({"d.csv": "text,label\nok,pos\nlonely\n"}, file="d.csv", row=3,
                               needles=("found 1", "--header false")),
    "csv_unbalanced_quote": Case({"d.csv": 'text,label\nok,pos\n"open,neg\n'}, file="d.csv", row=3,
                                 needles=("cannot parse row", "--quoting none")),
    "csv_duplicate_header": Case({"d.csv": "text,text\na,b\n"}, file="d.csv", row=1, fld="text",
                                 needles=("duplicate header column", "unique name")),
    "csv_empty_header_column": Case({"d.csv": "text,,label\na,b,c\n"}, file="d.csv", row=1,
                                    needles=("header column 2 is empty", "name every column")),
    "csv_bad_delimiter_flag": Case({"d.csv": "text,label\na,b\n"}, ["--delimiter", ";;"], file="d.csv",
                                   fld="delimiter", needles=("one character", "--delimiter")),
    # --- encodings
    "utf16_file": Case({"d.jsonl": GOOD.encode("utf-16")}, row=1, fld="encoding",
                       needles=("UTF-16", "--encoding utf-16")),
    "gbk_bytes_in_csv": Case({"d.csv": b"text,label\nok,pos\n" + "好的,neg\n".encode("gbk")},
                             file="d.csv", row=3, needles=("cannot decode byte", "--encoding")),
    "latin1_bytes_in_jsonl": Case({"d.jsonl": jl(OK).encode() + '{"text": "café", "label": "neg"}\n'.encode("latin-1")},
                                  row=2, needles=("cannot decode byte 0xe9", "iconv")),
    "bom_in_the_middle": Case({"d.jsonl": jl(OK) + "\ufeff" + jl(OK2)}, row=2,
                              needles=("byte order mark", "concatenating")),
    "unknown_encoding_flag": Case({"d.jsonl": GOOD}, ["--encoding", "utf-42"], fld="encoding",
                                  needles=("unknown encoding", "valid Python codec")),
    # --- empty datasets
    "empty_file": Case({"d.jsonl": ""}, needles=("no rows", "point to a file with data")),
    "only_blank_lines": Case({"d.jsonl": "\n  \n\n"}, needles=("no rows", "point to a file with data")),
    "csv_header_only": Case({"d.csv": "text,label\n"}, file="d.csv", needles=("no rows", "point to a file")),
    "every_row_skipped": Case({"d.jsonl": jl({"text": ""}, {"label": 1})}, ["--skip_bad_rows", "true"],
                              needles=("no usable rows", "2 skipped", "check the files")),
    # --- text fields
    "missing_text_field": Case({"d.jsonl": jl(OK, {"review": "great", "label": "pos"})}, row=2, fld="text",
                               needles=("no text field", "--columns '{\"review\": \"text\"}'")),
    "empty_text": Case({"d.jsonl": jl(OK, {"text": "", "label": "neg"})}, row=2, fld="text",
                       needles=("empty", "fill it in")),
    "whitespace_text": Case({"d.jsonl": jl(OK, {"text": " \t\u3000 ", "label": "neg"})}, row=2, fld="text",
                            needles=("whitespace", "fill it in")),
    "null_text": Case({"d.jsonl": jl(OK, {"text": None, "label": "neg"})}, row=2, fld="text",
                      needles=("null", "fill it in")),
    "text_is_a_list": Case({"d.jsonl": jl(OK, {"text": ["a"], "label": "neg"})}, row=2, fld="text",
                           needles=("must be a string, got list", "quote")),
    "empty_text_pair": Case({"d.jsonl": jl(OK, {"text": "a", "text_pair": " ", "label": "neg"})}, row=2,
                            fld="text_pair", needles=("non-empty", "fill it in")),
    "messages_not_a_list": Case({"d.jsonl": jl(OK, {"messages": "hi", "label": "neg"})}, row=2, fld="messages",
                                needles=("non-empty list", "SWIFT's format")),
    # --- labels
    "missing_label": Case({"d.jsonl": jl(OK, {"text": "a"})}, row=2, fld="label",
                          needles=("missing", "--skip_bad_rows")),
    "null_label": Case({"d.jsonl": jl(OK, {"text": "a", "label": None})}, row=2, fld="label",
                       needles=("missing", "--skip_bad_rows")),
    "empty_label_in_csv": Case({"d.csv": "text,label\nok,pos\nno,\n"}, file="d.csv", row=3, fld="label",
                               needles=("missing or empty label", "--skip_bad_rows")),
    "label_is_an_object": Case({"d.jsonl": jl(OK, {"text": "a", "label": {"x": 1}})}, row=2, fld="label",
                               needles=("unsupported type dict", "an int id")),
    "ids_mixed_with_names": Case({"d.jsonl": jl(OK, {"text": "a", "label": 1})}, row=1, fld="label",
                                 needles=("mix integer ids", "--labels")),
    "list_label_in_single_label_task": Case(
        {"d.jsonl": jl(OK, {"text": "a", "label": ["pos", "neg"]})}, ["--problem_type", "single_label_classification"],
        row=2, fld="label", needles=("several labels", "multi_label_classification")),
    "decimal_label_in_classification": Case(
        {"d.jsonl": jl({"text": "a", "label": 1}, {"text": "b", "label": 0.5})},
        ["--problem_type", "single_label_classification"], row=2, fld="label",
        needles=("decimal number", "--problem_type regression")),
    "id_out_of_range": Case({"d.jsonl": jl({"text": "a", "label": 0}, {"text": "b", "label": 5})},
                            ["--num_labels", "2"], row=2, fld="label", needles=("out of range 0..1", "--num_labels")),
    "id_implying_a_billion_classes": Case({"d.jsonl": jl({"text": "a", "label": 0},
                                                         {"text": "b", "label": 10 ** 9})},
                                          row=2, fld="label", needles=("1000000001 classes", "--num_labels")),
    "negative_id": Case({"d.jsonl": jl({"text": "a", "label": 0}, {"text": "b", "label": 1},
                                       {"text": "c", "label": -1})},
                        row=3, fld="label", needles=("label id -1 is out of range", "fix the id")),
    "one_class_only": Case({"d.jsonl": jl(OK, {"text": "b", "label": "pos"})}, fld="label",
                           needles=("only one class", "--columns")),
    "empty_multi_label_lists": Case({"d.jsonl": jl({"text": "a", "label": []}, {"text": "b", "label": []})},
                                    fld="label", needles=("no label names", "--labels")),
    "unknown_label_in_val_set": Case({"d.jsonl": GOOD, "v.jsonl": jl({"text": "a", "label": "meh"})},
                                     ["--val_dataset", "{d}/v.jsonl", "--labels", "neg", "pos"], file="v.jsonl",
                                     row=1, fld="label",
                                     needles=("unknown label 'meh'", "fix the label name")),
    "num_labels_contradicts_data": Case({"d.jsonl": GOOD}, ["--num_labels", "3"], ConfigError, None,
                                        needles=("--num_labels 3 contradicts", "drop --num_labels")),
    "duplicate_label_names": Case({"d.jsonl": jl({"text": "a", "label": 0}, {"text": "b", "label": 1})},
                                  ["--labels", "neg", "neg"], ConfigError, None,
                                  needles=("duplicate label names", "--labels")),
    # --- regression targets
    "nan_target": Case({"d.csv": "text,label\na,1.5\nb,nan\n"}, ["--problem_type", "regression"], file="d.csv",
                       row=3, fld="label", needles=("not a finite number", "fix or drop")),
    "infinity_target": Case({"d.jsonl": '{"text": "a", "label": 0.5}\n{"text": "b", "label": Infinity}\n'},
                            row=2, fld="label", needles=("not a finite number", "fix or drop")),
    "overflowing_target": Case({"d.jsonl": jl({"text": "a", "label": 0.5}, {"text": "b", "label": 10 ** 400})},
                               ["--problem_type", "regression"], row=2, fld="label",
                               needles=("too large", "fix the label")),
    "text_target_in_regression": Case({"d.jsonl": jl({"text": "a", "label": 0.5}, {"text": "b", "label": "high"})},
                                      ["--problem_type", "regression"], row=2, fld="label",
                                      needles=("numeric labels", "--problem_type")),
    # --- files and flags
    "file_not_found": Case({}, ["--dataset", "{d}/nope.jsonl"], file="nope.jsonl",
                           needles=("file not found", "check the path")),
    "unsupported_suffix": Case({"d.txt": "x"}, ["--dataset", "{d}/d.txt"], file="d.txt",
                               needles=("unsupported file type '.txt'", ".jsonl")),
    "bad_columns_json": Case({"d.jsonl": GOOD}, ["--columns", "{text: label}"], ConfigError, None,
                             needles=("--columns is not valid JSON", "Example: --columns")),
    "columns_unknown_target": Case({"d.jsonl": GOOD}, ["--columns", '{"text": "body"}'], ConfigError, None,
                                   needles=("maps 'text' to 'body'", "targets must be one of")),
    "bad_sample_count": Case({"d.jsonl": GOOD}, ["--dataset", "{d}/d.jsonl#ten"], ConfigError, None,
                             needles=("#", "positive row count")),
    "unknown_model_name": Case({"d.jsonl": GOOD}, ["--model", "Qwen2.5-7B-Instrct"], ConfigError, None,
                               needles=("Qwen2.5-7B-Instrct", "Did you mean")),
    "val_dataset_and_split_ratio": Case({"d.jsonl": GOOD, "v.jsonl": GOOD},
                                        ["--val_dataset", "{d}/v.jsonl", "--split_dataset_ratio", "0.2"],
                                        ConfigError, None, needles=("--split_dataset_ratio", "not both")),
    "split_ratio_out_of_range": Case({"d.jsonl": GOOD}, ["--split_dataset_ratio", "1.5"], ConfigError, None,
                                     needles=("--split_dataset_ratio", "between 0 and 1")),
    "max_length_not_positive": Case({"d.jsonl": GOOD}, ["--max_length", "0"], ConfigError, None,
                                    needles=("--max_length", "positive")),
    "resume_from_missing_folder": Case({"d.jsonl": GOOD}, ["--resume_from_checkpoint", "{d}/gone"], ConfigError,
                                       None, needles=("gone", "checkpoint-N folder")),
    "unknown_training_flag": Case({"d.jsonl": GOOD}, ["--lerning_rate", "1e-4"], ConfigError, None,
                                  needles=("--lerning_rate", "Did you mean --learning_rate")),
    "config_file_missing": Case({"d.jsonl": GOOD}, ["--config", "{d}/nope.yaml"], ConfigError, None,
                                needles=("nope.yaml", "existing YAML file")),
    "config_file_not_a_mapping": Case({"d.jsonl": GOOD, "c.yaml": "- a\n- b\n"}, ["--config", "{d}/c.yaml"],
                                      ConfigError, None, needles=("expected a mapping", "flag: value")),
    # --- at inference / eval time, against a trained label space
    "unknown_label_at_eval": Case({"d.jsonl": jl({"text": "a", "label": "neg"}, {"text": "b", "label": "meh"})},
                                  row=2, fld="label", needles=("unknown label 'meh'", "retrain"), command="eval"),
    "unknown_label_at_infer": Case({"d.jsonl": jl({"text": "a", "label": "neg"}, {"text": "b", "label": "meh"})},
                                   row=2, fld="label", needles=("unknown label 'meh'", "retrain"), command="infer"),
    # --- round 2 (issue 14): inputs that crashed or were silently misread
    "jsonl_label_with_a_comma": Case({"d.jsonl": jl(OK, {"text": "a", "label": "Smith, John"})}, row=2, fld="label",
                                     needles=("'Smith, John' holds a comma", "--label_sep none")),
    "parquet_duplicate_column": Case({"d.parquet": parquet_with_two("text")}, file="d.parquet", fld="text",
                                     needles=("duplicate column 'text'", "unique name")),
    "lone_surrogate_in_text": Case({"d.jsonl": jl(OK, '{"text": "ab\\ud800", "label": "neg"}')}, row=2,
                                   fld="text", needles=("character 3 is a lone UTF-16 surrogate", "--skip_bad_rows")),
    "lone_surrogate_in_text_pair": Case({"d.jsonl": jl(OK, '{"text": "a", "text_pair": "\\udfff", "label": "neg"}')},
                                        row=2, fld="text_pair", needles=("surrogate (\\udfff)", "--skip_bad_rows")),
    "lone_surrogate_in_messages": Case(
        {"d.jsonl": jl(OK, '{"messages": [{"role": "user", "content": "\\ud83d"}], "label": "neg"}')}, row=2,
        fld="messages", needles=("surrogate", "--skip_bad_rows")),
    "utf16_without_bom": Case({"d.jsonl": GOOD.encode("utf-16-le")}, row=1, fld="encoding",
                              needles=("invalid JSON", "UTF-16-LE encoded", "--encoding utf-16-le")),
    "utf16_be_json_without_bom": Case({"d.json": json.dumps([OK, OK2]).encode("utf-16-be")}, file="d.json", row=1,
                                      fld="encoding", needles=("invalid JSON", "UTF-16-BE", "--encoding utf-16-be")),
    "duplicate_json_key": Case({"d.jsonl": jl(OK, '{"text": "a", "label": "pos", "label": "neg"}')}, row=2,
                               fld="label", needles=("duplicate key 'label'", "one value per key")),
    "duplicate_key_in_json_array": Case({"d.json": '[{"text": "a", "text": "b", "label": "pos"}]'}, file="d.json",
                                        fld="text", needles=("duplicate key 'text'", "one value per key")),
    "columns_name_a_missing_label_column": Case({"d.jsonl": GOOD}, ["--columns", '{"Label": "label"}'], row=1,
                                                fld="Label", needles=("no column 'Label'", "'label' would be used",
                                                                      "fix the column name")),
    "columns_name_a_missing_text_column": Case({"d.jsonl": GOOD}, ["--columns", '{"body": "text"}'], row=1,
                                               fld="body", needles=("no column 'body'", "fix the column name")),
    "messages_with_an_unknown_role": Case(
        {"d.jsonl": jl(OK, {"messages": [{"role": "bot", "content": "hi"}], "label": "neg"})}, row=2,
        fld="messages", needles=("role 'bot'", "system, user or assistant", "rename the role")),
    "jsonl_line_over_max_row_chars": Case({"d.jsonl": jl(OK, {"text": "x" * 3000, "label": "neg"})},
                                          ["--max_row_chars", "1000"], row=2,
                                          needles=("longer than --max_row_chars 1000", "--skip_bad_rows")),
    "csv_line_over_max_row_chars": Case({"d.csv": "text,label\nok,pos\n" + "y" * 3000 + ",neg\n"},
                                        ["--max_row_chars", "1000"], file="d.csv", row=3,
                                        needles=("longer than --max_row_chars", "raise --max_row_chars")),
    "json_row_over_max_row_chars": Case({"d.json": json.dumps([OK, {"text": "z" * 3000, "label": "neg"}])},
                                        ["--max_row_chars", "1000"], file="d.json", row=1,
                                        needles=("3000 characters", "raise --max_row_chars")),
    "zero_epochs": Case({"d.jsonl": GOOD}, ["--max_steps", "-1", "--num_train_epochs", "0"], ConfigError, None,
                        needles=("--num_train_epochs 0 would train nothing", "positive --num_train_epochs")),
    "zero_max_steps": Case({"d.jsonl": GOOD}, ["--max_steps", "0"], ConfigError, None,
                           needles=("--max_steps 0 would train nothing", "--max_steps N > 0")),
    "images_not_paths": Case({"d.jsonl": jl(OK, {"text": "a", "images": 1, "label": "neg"})}, row=2, fld="images",
                             needles=("path or a list of paths, got 1", '"images": ["cat.png"]')),
    "empty_label_sep": Case({"d.jsonl": GOOD}, ["--label_sep", ""], ConfigError, None,
                            needles=("--label_sep is empty", "auto, none")),
    "missing_label_at_eval": Case({"d.jsonl": jl({"text": "a", "label": "neg"}, {"text": "b"})},
                                  row=2, fld="label", needles=("missing", "--skip_bad_rows"), command="eval"),
}


@pytest.fixture(scope="module")
def classifier(tiny_model_dir, tmp_path_factory):
    """A saved neg/pos classifier (random but complete head), enough to check eval-time label validation."""
    from swiftcls.core.labels import SINGLE, LabelSpace
    from swiftcls.core.spec import spec_for_config
    from swiftcls.models.loading import load_classifier

    folder = tmp_path_factory.mktemp("clf")
    model, tokenizer, _ = load_classifier(str(tiny_model_dir("qwen2")), spec_for_config("qwen2"),
                                          LabelSpace(SINGLE, ["neg", "pos"]), device="cpu")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_case(case: Case, tmp_path, model_dir, classifier) -> SwiftClsError:
    for name, content in case.files.items():
        path = tmp_path / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    flags = [f.replace("{d}", str(tmp_path)) for f in case.flags]
    data = ["--dataset", str(tmp_path / next(iter(case.files)))] if case.files else []  # or the case names one
    out = tmp_path / "out"
    with pytest.raises(SwiftClsError) as info:
        if case.command == "sft":
            sft(["--model", str(model_dir), *data, "--tuner_type", "full", "--max_steps", "1",
                 "--use_cpu", "true", "--output_dir", str(out), *flags])
        else:
            entry = eval_main if case.command == "eval" else infer_main
            entry(["--model", str(classifier), *data, "--device", "cpu", "--metrics_path",
                   str(out / "m.json"), "--result_path", str(out / "r.jsonl"), *flags])
    assert not out.exists(), sorted(p.name for p in out.iterdir())  # nothing written, not even the folder
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(case.files)  # and nowhere else
    return info.value


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_clear_error_and_no_output(name, tmp_path, tiny_model_dir, classifier):
    case = CASES[name]
    err = run_case(case, tmp_path, tiny_model_dir("qwen2"), classifier)
    msg = str(err)
    assert type(err) is case.error, msg
    for needle in case.needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    if case.error is DataError:
        assert (err.file or "").endswith(case.file or "<none>") or case.file is None, msg
        if case.file:
            assert case.file in msg
        assert err.row == case.row, msg
        assert err.field == case.fld, msg
        assert err.fix and "Fix: " in msg, msg
        if case.row is not None:
            assert f", row {case.row}" in msg
        if case.fld is not None:
            assert f"field '{case.fld}'" in msg


@pytest.mark.parametrize("bad, fld", [("{not json", None), (json.dumps({"text": "x", "label": "meh"}), "label")])
def test_a_bad_row_late_in_a_streamed_infer_leaves_nothing(bad, fld, tmp_path, tiny_model_dir, classifier,
                                                           monkeypatch):
    """Rows are read and predicted 4 at a time here: chunks before the bad row 11 were already predicted and
    written to the temporary result file, which must be gone afterwards, with the folder made for it."""
    from swiftcls.inference import predict

    monkeypatch.setattr(predict, "STREAM_ROWS", 4)
    case = Case({"d.jsonl": jl(*[OK, OK2] * 5, bad, OK)}, command="infer")
    err = run_case(case, tmp_path, tiny_model_dir("qwen2"), classifier)
    assert isinstance(err, DataError) and (err.row, err.field) == (11, fld), str(err)


def test_the_cli_reports_it_on_one_line_with_exit_code_2(tmp_path, tiny_model_dir, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(jl(OK, {"text": "a", "label": None}), encoding="utf-8")
    code = main(["sft", "--model", str(tiny_model_dir("qwen2")), "--dataset", str(data),
                 "--output_dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not (tmp_path / "out").exists()
    assert err.count("\n") == 0 and err.startswith("swiftcls: error: ") and "d.jsonl, row 2, field 'label'" in err


def test_huge_rows_are_truncated_to_max_length_not_rejected(tmp_path, tiny_model_dir):
    from swiftcls.core.spec import spec_for_config
    from swiftcls.data.dataset import load_examples
    from swiftcls.data.encode import PromptEncoder
    from swiftcls.data.readers import ReadOptions
    from swiftcls.models.loading import load_tokenizer

    huge = " ".join(["word"] * 20_000)
    data = tmp_path / "d.jsonl"
    data.write_text(jl({"text": huge, "label": "pos"}, {"text": "short", "text_pair": huge, "label": "neg"}))
    examples, _ = load_examples([str(data)], ReadOptions(), {})
    spec = spec_for_config("qwen2")
    for side in ("right", "left"):
        encoder = PromptEncoder(load_tokenizer(str(tiny_model_dir("qwen2")), spec), spec, 64, truncation_side=side)
        rows = encoder.encode(examples)
        assert [len(r["input_ids"]) for r in rows] == [64, 64]
