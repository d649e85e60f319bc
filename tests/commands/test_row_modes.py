"""``--streaming`` and ``--lazy_tokenize`` end to end on tiny models: the same losses as the eager path, the same
bad-row report, and image rows that start training without being encoded first."""

import json
from pathlib import Path

import pytest
from helpers import logged_losses, make_rows, sft, write, write_images

from swiftcls import SftArguments
from swiftcls.core.errors import ConfigError, DataError

COMMON = ["--tuner_type", "full", "--learning_rate", "3e-3", "--per_device_train_batch_size", "4",
          "--logging_steps", "1", "--use_cpu", "true", "--train_sampling_strategy", "sequential",
          "--save_strategy", "steps", "--save_steps", "1000", "--warmup_ratio", "0"]  # saved at the last step only


def test_streaming_trains_the_same_losses_and_reports_the_same_bad_rows(tiny_model_dir, tmp_path):
    rows = make_rows(22, "single")
    rows[5] = {"text": "a row without its label"}
    rows[13]["text"] = None
    train = write(tmp_path / "train.jsonl", rows)
    model = str(tiny_model_dir("qwen2"))
    flags = ["--model", model, "--dataset", train, "--max_steps", "4", "--skip_bad_rows", "true", "--labels",
             "bad,good", *COMMON]
    sft([*flags, "--output_dir", str(tmp_path / "eager")])
    sft([*flags, "--output_dir", str(tmp_path / "stream"), "--streaming", "true"])
    eager, stream = logged_losses(tmp_path / "eager"), logged_losses(tmp_path / "stream")
    assert len(eager) == 4 and stream == pytest.approx(eager, rel=1e-5)
    report = [(json.loads(line)["row"], json.loads(line)["field"])
              for line in (tmp_path / "stream" / "skipped_rows.jsonl").read_text().splitlines()]
    assert report == [(6, "label"), (14, "text")]
    assert (tmp_path / "eager" / "skipped_rows.jsonl").read_text() == (
        tmp_path / "stream" / "skipped_rows.jsonl").read_text()


def test_streaming_label_pass_finds_a_bad_row_before_training(tiny_model_dir, tmp_path):
    rows = make_rows(12, "single")
    rows[7]["text"] = "   "
    train = write(tmp_path / "train.jsonl", rows)
    with pytest.raises(DataError, match="row 8") as err:
        sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--max_steps", "2", "--streaming", "true",
             "--output_dir", str(tmp_path / "out"), *COMMON])
    assert err.value.field == "text" and not (tmp_path / "out").exists()  # nothing written


@pytest.mark.parametrize("flags, message", [
    ({}, "--max_steps"),
    ({"split_dataset_ratio": 0.2}, "--val_dataset"),
    ({"class_weights": "auto"}, "--class_weights"),
    ({"train_sampling_strategy": "group_by_length"}, "group_by_length"),
    ({"task": "reranker"}, "groups"),
])
def test_streaming_flag_errors(flags, message):
    steps = {} if not flags else {"max_steps": 3}
    with pytest.raises(ConfigError, match=message):
        SftArguments(model="m", dataset=["d.jsonl"], streaming=True, **steps, **flags)


def test_lazy_tokenize_cannot_group_by_length():
    with pytest.raises(ConfigError, match="--lazy_tokenize"):
        SftArguments(model="m", dataset=["d.jsonl"], lazy_tokenize=True, train_sampling_strategy="group_by_length")


def test_image_rows_start_training_without_encoding_every_row(tiny_vl_dir, tmp_path):
    write_images(tmp_path)
    rows = [{"text": f"<image> look {i}", "images": [f"{'ab'[i % 2]}.png"], "label": "ab"[i % 2]} for i in range(16)]
    for i in (3, 7, 11, 15):  # the eager encoder meets (and skips) all four before training (tests/data)
        rows[i]["images"] = ["missing.png"]
    train = write(tmp_path / "train.jsonl", rows)
    # Random order (the default): one step of 2 rows reads 4 rows (accelerate looks one batch ahead).
    sft(["--model", str(tiny_vl_dir("qwen2_vl")), "--dataset", train, "--max_steps", "1", "--skip_bad_rows", "true",
         "--per_device_train_batch_size", "2", "--tuner_type", "full", "--use_cpu", "true", "--save_strategy", "steps",
         "--save_steps", "1000", "--output_dir", str(tmp_path / "lazy")])  # image rows: lazy by default
    assert len(logged_losses(tmp_path / "lazy")) == 1
    report = tmp_path / "lazy" / "skipped_rows.jsonl"
    met = report.read_text().splitlines() if report.exists() else []
    assert len(met) < 4 and all("missing.png" in line for line in met)


def _sst2_rows(path, n: int) -> str:
    """``n`` JSONL rows of real SST-2 sentences joined 1-4 per row (labelled by the first sentence)."""
    import random

    from assets import shared_dir

    lines = (shared_dir() / "data" / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    pool = [(s.strip(), "good" if y == "1" else "bad") for y, s in (line.split("\t", 1) for line in lines)]
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(n):
            parts = [rng.choice(pool) for _ in range(rng.randint(1, 4))]
            f.write(json.dumps({"text": " ".join(s for s, _ in parts), "label": parts[0][1]}) + "\n")
    return str(path)


# A streaming run's data side in a fresh process: the stream sft builds for --streaming (StreamSource + StreamedRows
# with the default 1000-row shuffle buffer, label space given as by --labels) drawn for max_steps batches through a
# DataLoader and the collator, as the Trainer draws them. The model, Trainer and sft's argument classes are left out
# (importing them alone takes ~15 s on a loaded 2-core box, and their memory does not depend on the file).
STREAM_RUN = """
import sys
from torch.utils.data import DataLoader
from transformers import AutoTokenizer
from swiftcls.core.labels import LabelSpace
from swiftcls.core.spec import spec_for_config
from swiftcls.data.collators import make_collator
from swiftcls.data.encode import PromptEncoder
from swiftcls.data.readers import ReadOptions
from swiftcls.data.streaming import StreamedRows, StreamSource

model, data, steps, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
spec = spec_for_config("qwen2")
tokenizer = AutoTokenizer.from_pretrained(model)
encoder = PromptEncoder(tokenizer, spec, max_length=64)
rows = StreamedRows(StreamSource([data], ReadOptions(), {}), LabelSpace("single_label_classification",
                    ["bad", "good"]), encoder.encode_kept, buffer_size=1000)
batches = DataLoader(rows, batch_size=batch, collate_fn=make_collator(False, tokenizer.pad_token_id))
seen = sum(len(b["labels"]) for _, b in zip(range(steps), batches))
assert seen == steps * batch, seen
"""


def _peak_rss_mib(runs: list[list[str]]) -> list[float]:
    """Peak RSS (MiB) of each of ``runs`` (``STREAM_RUN``'s arguments: model, data, steps, batch), each a fresh
    process, run side by side (``wait4``'s ``ru_maxrss``, what ``/usr/bin/time -v`` reports)."""
    import os
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", STREAM_RUN, *argv], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"}) for argv in runs]
    peaks = []
    for proc in procs:
        err = proc.stderr.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, err[-3000:]
        peaks.append(usage.ru_maxrss / 1024)
    return peaks


def test_a_streaming_run_with_max_steps_uses_memory_independent_of_the_file(tiny_model_dir, tmp_path):
    # The same run over 20k and 200k rows of real text (4 and 40 MB; the large file is the small one 10 times): the
    # stream holds its shuffle buffer, not the file; the eager path grows ~2.4 KB per row in Python objects (issue
    # #13), i.e. ~400 MiB over these 180k rows.
    model = str(tiny_model_dir("qwen2"))
    small = _sst2_rows(tmp_path / "rows_20k.jsonl", 20_000)
    large = tmp_path / "rows_200k.jsonl"
    large.write_text(Path(small).read_text(encoding="utf-8") * 10, encoding="utf-8")
    runs = [[model, path, "50", "4"] for path in (small, str(large))]
    low, high = _peak_rss_mib(runs)
    assert high - low < 40, (low, high)


def test_whether_rows_have_images_is_asked_once_per_split(tiny_model_dir, tmp_path, monkeypatch):
    """Whether a split has image rows (an Arrow scan) is computed once where sft reads the rows, then decides both
    lazy tokenizing (text rows: eager) and the tokens cache (text rows: cached)."""
    from swiftcls.commands import prepared, row_modes
    from swiftcls.commands import sft as sft_module
    from swiftcls.data.arrow import has_images

    asked = []

    def counted(data):
        asked.append(len(data))
        return has_images(data)

    for module in (sft_module, prepared, row_modes):  # wherever it is asked
        monkeypatch.setattr(module, "has_images", counted, raising=False)
    train, cache = write(tmp_path / "train.jsonl", make_rows(12, "single")), tmp_path / "cache"
    sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--max_steps", "1", "--split_dataset_ratio",
         "0.25", "--dataset_cache_dir", str(cache), *COMMON, "--eval_strategy", "no", "--save_strategy", "no",
         "--output_dir", str(tmp_path / "out")])
    assert sorted(asked) == [3, 9]  # validation and training rows, once each
    assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["rows", "tokens", "tokens"]
