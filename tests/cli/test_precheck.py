"""The CLI's pre-check: mistakes answer before torch/transformers are imported, in the full parser's words."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from swiftcls.cli.precheck import REGENERATE, generate, known_flags, precheck
from swiftcls.cli.table import COMMANDS, command_entry
from swiftcls.config.parser import build_parser, parse_values
from swiftcls.core.errors import SwiftClsError

ROOT = Path(__file__).resolve().parents[2]
# (command, flag typo, what the suggestion names): one per command, as a flag and as a config key.
TYPOS = [("sft", "num_train_epoch", "--num_train_epochs"), ("infer", "result-pth", "--result_path"),
         ("eval", "datset", "--dataset"), ("export", "output_dirr", "--output_dir"), ("deploy", "prot", "--port")]


def test_flags_file_is_the_parsers_flags():
    assert known_flags() == generate(), f"swiftcls/cli/flags.json is stale; regenerate it: {REGENERATE}"
    for command in COMMANDS:  # exactly the option strings argparse accepts: the pre-check rejects no valid flag
        parser = build_parser(command_entry(command)[0])
        assert set(known_flags()[command]) == {o for o in parser._option_string_actions if o.startswith("--")} - {
            "--help"}, command


@pytest.mark.parametrize("command, typo, meant", TYPOS, ids=[t[0] for t in TYPOS])
def test_precheck_says_what_the_full_parser_says(command, typo, meant, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"{typo}: 1\n")
    for argv in (["--" + typo, "1"], ["--config", str(config)]):
        with pytest.raises(SwiftClsError) as fast:
            precheck(command, argv)
        with pytest.raises(SwiftClsError) as full:
            parse_values(command_entry(command)[0], argv, f"swiftcls {command}")
        assert str(fast.value) == str(full.value) and f"Did you mean {meant}" in str(fast.value)


def test_valid_command_lines_pass(tmp_path, rotten_tomatoes, monkeypatch):
    monkeypatch.chdir(ROOT)  # the config's data paths are relative to the repository root
    data = rotten_tomatoes["dev"]
    config = ROOT / "examples" / "configs" / "rotten_tomatoes_minilm.yaml"
    precheck("sft", ["--config", str(config), "--max-length", "32",
                     "--lora_rank=4", "--train_type", "full", "--no_padding_free"])
    precheck("infer", ["--model", str(tmp_path), "--dataset", f"{data}#10", "glue:sst2@validation"])
    precheck("deploy", ["--model", "Qwen/Qwen2.5-0.5B-Instruct", "--port", "0"])  # a hub id: checked when loaded
    assert set(COMMANDS) == set(known_flags())


def test_mistakes_exit_2_before_torch_or_transformers_are_imported(tmp_path):
    """Each case runs ``swiftcls.cli.main.main`` and lists which heavy modules it imported; no wall clock."""
    typo = tmp_path / "typo.yaml"
    typo.write_text("model: m\nnum_train_epoch: 1\n")
    cases = [(["sft", "--config", str(typo)], "unknown key 'num_train_epoch'. Did you mean --num_train_epochs"),
             *[([c, "--" + t, "1"], f"Did you mean {m}") for c, t, m in TYPOS],
             (["sft", "--model", "org/model", "--dataset", "missing.jsonl"], "missing.jsonl: file not found."),
             (["eval", "--model", "Qwen2.5-7B-Instrukt", "--dataset", "x.jsonl"], "Did you mean: Qwen2.5-7B-Instruct"),
             (["infer", "--model", "./no_such_folder"], "--model ./no_such_folder: no such folder."),
             (["sft", "--config", str(tmp_path / "none.yaml")], "none.yaml: cannot read it")]
    code = ("import contextlib, io, json, sys\nfrom swiftcls.cli.main import main\nout = []\n"
            "for argv in json.loads(sys.argv[1]):\n"
            "    err = io.StringIO()\n"
            "    with contextlib.redirect_stderr(err):\n"
            "        rc = main(argv)\n"
            "    out.append([rc, err.getvalue(), sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'transformers'))])\n"
            "print(json.dumps(out))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, json.dumps([argv for argv, _ in cases])], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for (argv, expected), (rc, stderr, heavy) in zip(cases, json.loads(proc.stdout)):
        assert rc == 2 and stderr.startswith("swiftcls: error: ") and expected in stderr, (argv, stderr)
        assert heavy == [], (argv, heavy)
