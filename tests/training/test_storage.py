"""A full disk while saving: one line naming the folder, the size needed and the intact last checkpoint (exit 2);
published checkpoints survive and nothing half-written is left."""

import errno
import hashlib
import re
from pathlib import Path

import pytest
import torch
from helpers import make_rows, write
from safetensors import SafetensorError
from transformers import Trainer

from swiftcls.cli.main import main
from swiftcls.core.errors import StorageError
from swiftcls.training.checkpoints import checkpoints, resumable
from swiftcls.training.storage import disk_full_reported, is_disk_full, state_sizes

# What torch.save raises when the disk fills up while it writes (seen on a full tmpfs).
TORCH_FULL = "[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"


def digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("swiftcls: error:")]
    assert len(lines) == 1
    return lines[0]


@pytest.fixture
def flags(tiny_model_dir, tmp_path):
    data = write(tmp_path / "train.jsonl", make_rows(8, "single"))
    return ["sft", "--model", str(tiny_model_dir("qwen2")), "--dataset", data, "--per_device_train_batch_size", "4",
            "--save_strategy", "steps", "--save_steps", "2", "--use_cpu", "true", "--report_to", "none",
            "--disable_tqdm", "true", "--output_dir", str(tmp_path / "out")]


def test_disk_full_during_a_checkpoint_save(flags, tmp_path, monkeypatch, capsys):
    out, seen = tmp_path / "out", {}
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if "checkpoint-4" in str(f):  # the disk fills up in the middle of the 2nd checkpoint
            seen["checkpoint-2"] = digest(out / "checkpoint-2")
            Path(f).write_bytes(b"PK\x03\x04 half a zip")
            raise RuntimeError(TORCH_FULL)
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    assert main(flags + ["--max_steps", "4"]) == 2
    line = error_line(capsys)
    assert line.startswith(f"swiftcls: error: no space left on {out} while writing checkpoint-4: it needs about ")
    assert f"the last good checkpoint {out / 'checkpoint-2'} is intact" in line
    assert "--resume_from_checkpoint true" in line and "unexpected pos" in line
    # The estimate: LoRA weights + Adam moments as the state holds them, and the other files as checkpoint-2 has them.
    done = out / "checkpoint-2"
    for part, files, slack in (("weights", ["adapter_model.safetensors"], 0.2),
                               ("optimizer state", ["optimizer.pt"], 0.5),
                               ("needs about", [p.name for p in done.iterdir()], 0.05)):
        number, unit = re.search(rf"{part} ([\d.]+) (KB|MB)", line).groups()
        stated = float(number) * 1024 ** (1 if unit == "KB" else 2)
        real = sum((done / name).stat().st_size for name in files)
        assert (1 - slack) * real <= stated <= (1 + slack) * real, part
    # The published checkpoint is untouched and still the one to resume from; the half-written one is gone.
    assert [Path(p).name for p in checkpoints(str(out))] == ["checkpoint-2"]
    assert digest(out / "checkpoint-2") == seen["checkpoint-2"] and resumable(str(out)) == str(out / "checkpoint-2")
    assert not list(out.glob("tmp-*"))


def test_disk_full_during_the_final_save(flags, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    real_save_model = Trainer.save_model

    def save_model(self, output_dir=None, _internal_call=False):
        if "checkpoint-3" not in str(output_dir):
            return real_save_model(self, output_dir, _internal_call)
        # The model saved at the end (step 3 is no save step) fills the disk.
        Path(output_dir).mkdir(parents=True)
        (Path(output_dir) / "adapter_model.safetensors").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Trainer, "save_model", save_model)
    assert main(flags + ["--max_steps", "3"]) == 2
    line = error_line(capsys)
    assert f"no space left on {out} while writing checkpoint-3" in line
    assert f"the last good checkpoint {out / 'checkpoint-2'} is intact" in line
    assert [Path(p).name for p in checkpoints(str(out))] == ["checkpoint-2"] and not list(out.glob("tmp-*"))


@pytest.mark.parametrize("err", [
    OSError(errno.ENOSPC, "No space left on device"), OSError(errno.EDQUOT, "Disk quota exceeded"),
    RuntimeError(TORCH_FULL), RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed"),
    SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)"),
])
def test_full_disk_errors_are_recognised(err):
    assert is_disk_full(err)
    wrapped = ValueError("saving failed")
    wrapped.__cause__ = err
    assert is_disk_full(wrapped)


@pytest.mark.parametrize("err", [OSError(errno.EACCES, "Permission denied"), RuntimeError("shape mismatch"),
                                 ValueError("unexpected position")])
def test_other_errors_pass_through(err, tmp_path):
    assert not is_disk_full(err)
    with pytest.raises(type(err)), disk_full_reported(str(tmp_path), "checkpoint-1", dict, lambda: None):
        raise err


def test_no_checkpoint_yet_and_sizes(tmp_path):
    (tmp_path / "tmp-checkpoint-2" / "checkpoint-2").mkdir(parents=True)
    model = torch.nn.Linear(4, 2)  # 10 float32 weights, all trainable: a full checkpoint
    with pytest.raises(StorageError) as caught, disk_full_reported(
            str(tmp_path), "checkpoint-2", lambda: state_sizes(model), lambda: None,
            partial=str(tmp_path / "tmp-checkpoint-2")):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert "needs about 40 B (weights 40 B)" in str(caught.value) and "\n" not in str(caught.value)
    assert "no checkpoint was saved before this one" in str(caught.value)
    assert not (tmp_path / "tmp-checkpoint-2").exists()
    # Adam holds two float32 moments per trainable weight once it has stepped.
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 4)).sum().backward()
    optimizer.step()
    assert state_sizes(model, optimizer)["optimizer state"] >= 2 * 40
