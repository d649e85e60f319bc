"""``swiftcls deploy`` from the command line: defaults, flags checked before loading, a real process."""

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from swiftcls import DeployArguments, ExportArguments
from swiftcls.cli.main import main
from swiftcls.config.parser import build_parser, parse_args, parse_values
from swiftcls.core.errors import ConfigError
from swiftcls.serve.server import bind

TEXTS = ["alpha beta good thing", "gamma delta bad thing", "omega red blue", "kappa"]


def test_cli_defaults_bind_localhost_and_no_stub():
    args = parse_args(DeployArguments, ["--model", "m"])
    assert args.host == "127.0.0.1" and args.port == 8000 and not args.allow_remote_images and args.api_key is None
    assert args.max_concurrency == 512 and args.request_timeout == 60
    assert args.read_timeout == 30 and args.max_connections == 1024
    assert main(["deploy"]) == 2  # no model: a clear error, exit code 2
    with pytest.raises(ConfigError, match="unknown flag --num_labels"):
        parse_values(ExportArguments, ["--num_labels", "3"])  # export/infer/deploy do not offer training-only flags
    help_text = build_parser(ExportArguments).format_help()
    assert "--torch_dtype" in help_text and not any(f in help_text for f in ("--num_labels", "--problem_type",
                                                                             "--labels"))


def test_bad_flags_and_a_busy_port_fail_before_the_model_loads(tmp_path, capsys):
    busy = bind("127.0.0.1", 0)
    try:
        port = str(busy.getsockname()[1])
        missing = str(tmp_path / "no-model")
        not_a_model = tmp_path / "not-a-model"  # a folder (as the CLI's early check wants); loading it would fail
        not_a_model.mkdir()  # with another message
        for flags, needle in ((["--port", port], f"cannot listen on 127.0.0.1:{port}"),
                              (["--max_concurrency", "0"], "--max_concurrency must be at least 1"),
                              (["--request_timeout", "0"], "--request_timeout must be more than 0"),
                              (["--read_timeout", "-1"], "--read_timeout must be more than 0"),
                              (["--max_connections", "0"], "--max_connections must be at least 1"),
                              (["--image_dir", missing], "is not a folder")):
            assert main(["deploy", "--model", str(not_a_model), *flags]) == 2
            assert needle in capsys.readouterr().err
    finally:
        busy.close()


def test_cli_subprocess_serves_prints_its_address_and_stops_on_sigint(trained, tmp_path):
    model, _ = trained("multi")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:  # a file, not a pipe: nobody reads it while the server runs
        proc = subprocess.Popen([sys.executable, "-m", "swiftcls", "deploy", "--model", model["model"], "--port",
                                 "0"], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)  # binds 127.0.0.1 by default
        assert "POST /classify" in line and "/metrics" in line
        with urllib.request.urlopen(f"{url}/health", timeout=30) as resp:
            assert json.loads(resp.read())["status"] == "ok"
        request = urllib.request.Request(f"{url}/classify", json.dumps({"input": TEXTS}).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as resp:
            assert len(json.loads(resp.read())["data"]) == len(TEXTS)
        proc.send_signal(signal.SIGINT)  # Ctrl-C: graceful shutdown, exit code 0, no traceback
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
