"""``benchmarks/gpu_summary.py``: the one JSON the GPU lease brings back, with a verdict per target."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def write(out: Path, name: str, results: list[dict]) -> None:
    (out / name).write_text(json.dumps({"args": {}, "results": results}))


def test_targets_met_missed_and_missing(tmp_path):
    write(tmp_path, "train_mixed.json", [{"recipe": "hf", "tokens/s": 100.0},
                                         {"recipe": "swiftcls", "tokens/s": 250.0}])
    write(tmp_path, "train_mfu.json", [{"recipe": "swiftcls", "MFU": 0.31}])
    write(tmp_path, "infer_mixed.json", [{"recipe": "pipeline", "samples/s": 10.0},
                                         {"recipe": "sorted_loop", "samples/s": 20.0},
                                         {"recipe": "swiftcls (packed)", "samples/s": 35.0}])
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_summary.py"), str(tmp_path)],
                          capture_output=True, text=True, check=True)
    summary = json.loads((tmp_path / "gpu_results.json").read_text())
    verdicts = {t["target"].split(",")[0].split(":")[0]: (t["value"], t["met"]) for t in summary["targets"]}
    assert verdicts["training"] == (2.5, True)
    assert verdicts["full fine-tuning MFU"] == (0.31, False)
    assert verdicts["inference"] == (3.5, True)
    assert verdicts["7B LoRA"] == (None, None)  # the run did not write its file
    assert set(summary["runs"]) == {"train_mixed", "train_mfu", "infer_mixed"} and not summary["dry_run"]
    assert "NOT met" in done.stdout and "not measured" in done.stdout


def test_run_gpu_script_parses_and_knows_dry_run():
    script = ROOT / "benchmarks" / "run_gpu.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "--dry-run" in text and "gpu_summary.py" in text and ".whl" in text
