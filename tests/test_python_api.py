"""The Python API speaks of arguments (``model='x'``), not of command-line flags, in its errors."""

from pathlib import Path

import pytest

from swiftcls import Classifier, ExportArguments, SftArguments, export_main, infer_main, sft_main
from swiftcls.core.errors import ConfigError
from swiftcls.core.flags import in_python_words

DATA = str(Path(__file__).resolve().parents[1] / "examples" / "data" / "sst2" / "dev.tsv")


@pytest.mark.parametrize("call, words", [
    (lambda: sft_main(SftArguments(model="./no_such_dir", dataset=[DATA])), "model='./no_such_dir': no such folder."),
    (lambda: infer_main({"model": "./no_such_dir", "dataset": [DATA]}), "model='./no_such_dir': no such folder."),
    (lambda: export_main(ExportArguments(model="./no_such_dir", output_dir="out")), "model='./no_such_dir'"),
    (lambda: Classifier.from_pretrained("./no_such_dir"), "path='./no_such_dir': no such folder."),
], ids=["sft-instance", "infer-dict", "export-instance", "classifier"])
def test_python_calls_get_python_words(call, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        call()
    assert words in str(err.value) and "--model" not in str(err.value)


def test_flag_lists_keep_flag_words(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^--model \./no_such_dir: no such folder\.$"):
        sft_main(["--model", "./no_such_dir", "--dataset", DATA])


def test_rewording_keeps_the_error_and_touches_only_known_options():
    err = ConfigError("--adapters a: no args.json; pass --model (the base) or --model_revision, not --foo.")
    assert in_python_words(err, {"adapters": "a", "model": None}) is err
    assert str(err) == "adapters='a': no args.json; pass model (the base) or --model_revision, not --foo."
