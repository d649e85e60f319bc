"""``sft --output_dir`` is checked before anything heavy: a file, an unwritable folder or a folder holding other
files (or a finished run) is a ConfigError, and the files there survive."""

import json
import os
import tempfile
from pathlib import Path

import pytest
from helpers import sft

from swiftcls.config.output import check_output_dir
from swiftcls.core.errors import ConfigError

# No model at this path: reaching the model loader would be a different error, so these errors come first.
NO_MODEL = ["--model", "/nonexistent/model-dir", "--dataset", "/nonexistent/d.jsonl", "--use_cpu", "true"]


def test_a_file_or_a_path_under_a_file_is_refused_before_loading(tmp_path):
    target = tmp_path / "out"
    target.write_text("keep me")
    with pytest.raises(ConfigError, match="--output_dir .*out is a file"):
        sft([*NO_MODEL, "--output_dir", str(target)])
    with pytest.raises(ConfigError, match="cannot be created: .*out is a file"):
        sft([*NO_MODEL, "--output_dir", str(target / "run1")])
    assert target.read_text() == "keep me"


def _read_only_dir(tmp_path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    # root writes through permission bits: use a folder of a read-only or root-proof file system if there is one
    for candidate in ("/sys", "/proc/self"):
        try:
            os.close(tempfile.mkstemp(dir=candidate)[0])
        except OSError:
            return Path(candidate)
    pytest.skip("running as root without a read-only folder to test on")


def test_an_unwritable_folder_is_refused_before_loading(tmp_path):
    folder = _read_only_dir(tmp_path)
    try:
        with pytest.raises(ConfigError, match="is not writable"):
            sft([*NO_MODEL, "--output_dir", str(folder / "run1")])
    finally:
        if folder.is_relative_to(tmp_path):
            folder.chmod(0o700)


def test_a_folder_holding_other_files_or_a_finished_run_is_refused_and_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"already holds other files \(notes.txt\).*never overwrites"):
        sft([*NO_MODEL, "--output_dir", str(out)])
    (out / "notes.txt").unlink()
    (out / "args.json").write_text(json.dumps({"swiftcls_version": "0", "lr": 1}))
    (out / "summary.json").write_text('{"metrics": 1}')
    with pytest.raises(ConfigError, match="already holds a finished swiftcls run.*--resume_from_checkpoint"):
        sft([*NO_MODEL, "--output_dir", str(out)])
    assert json.loads((out / "args.json").read_text())["lr"] == 1 and (out / "summary.json").read_text() == \
        '{"metrics": 1}'


def test_folders_that_can_be_written_into(tmp_path):
    check_output_dir(str(tmp_path / "new" / "deeper"))  # created later, by sft
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".gitkeep").write_text("")
    check_output_dir(str(tmp_path / "empty"))
    run = tmp_path / "run"  # a run that stopped before finishing: the same command may run again
    run.mkdir()
    (run / "args.json").write_text(json.dumps({"swiftcls_version": "0"}))
    (run / "skipped_rows.jsonl").write_text("")
    check_output_dir(str(run))
    (run / "summary.json").write_text("{}")
    check_output_dir(str(run), resume="true")  # continuing it is the resume logic's business
    assert not list(tmp_path.rglob(".swiftcls-write-test-*"))
