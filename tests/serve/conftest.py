"""Fixtures of the server tests: tiny trained runs, the app under TestClient, and real uvicorn servers.

Four tiny runs are trained once per session: single-label LoRA (served from the adapter checkpoint),
multi-label full fine-tuning (exported, served from the export), a one-output regression head on (query, document)
pairs (served from its checkpoint; /score and /rerank) and a Qwen2-VL image classifier (served from its checkpoint).
"""

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import make_rows, score_rows, sft, write, write_images

from swiftcls import DeployArguments, export_main
from swiftcls.inference.classifier import Classifier
from swiftcls.serve.app import create_app
from swiftcls.serve.server import bind, uvicorn_server


@pytest.fixture(scope="session")
def trained(tiny_model_dir, tiny_vl_dir, tmp_path_factory):
    """``get(kind) -> (model options, deploy options)`` for a tiny trained run, built once per kind."""
    cache = {}

    def get(kind):
        if kind in cache:
            return cache[kind]
        root = tmp_path_factory.mktemp(f"deploy-{kind}")
        common = ["--max_steps", "1", "--per_device_train_batch_size", "8", "--output_dir", str(root / "run"),
                  "--use_cpu", "true", "--eval_strategy", "no", "--logging_steps", "1"]
        if kind == "single":
            train = write(root / "t.jsonl", make_rows(16, "single"))
            ckpt = sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--tuner_type", "lora",
                        *common])["last_model_checkpoint"]
            cache[kind] = ({}, {"adapters": ckpt})
        elif kind == "regression":  # a one-output head on (query, document) pairs: what a reranker is
            train = write(root / "t.jsonl", score_rows(16))
            ckpt = sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--tuner_type", "full",
                        *common])["last_model_checkpoint"]
            cache[kind] = ({"model": ckpt}, {})
        elif kind == "multi":
            train = write(root / "t.jsonl", make_rows(16, "multi"))
            ckpt = sft(["--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--tuner_type", "full",
                        "--threshold", "0.3", *common])["last_model_checkpoint"]
            out = export_main(["--model", ckpt, "--output_dir", str(root / "exported")])
            cache[kind] = ({"model": out}, {})
        else:  # image+text
            images = root / "images"
            images.mkdir()
            write_images(images)
            rows = [{"text": f"<image> look {i}", "images": [f"images/{'ab'[i % 2]}.png"], "label": "ab"[i % 2]}
                    for i in range(8)]
            ckpt = sft(["--model", str(tiny_vl_dir("qwen2_vl")), "--dataset", write(root / "t.jsonl", rows),
                        "--tuner_type", "full", *common])["last_model_checkpoint"]
            cache[kind] = ({"model": ckpt}, {"image_dir": str(images)})
        return cache[kind]

    return get


@pytest.fixture
def make_app(trained):
    """``make(kind, **deploy_flags) -> app``: the deploy app of a tiny run, as ``swiftcls deploy`` builds it."""

    def make(kind, name="tiny", **flags):
        model, kw = trained(kind)
        args = DeployArguments(port=0, device="cpu", **model, **{**kw, **flags})
        return create_app(Classifier.from_args(args), args, name)

    return make


@pytest.fixture
def client(make_app):
    """``start(kind, **deploy_flags) -> TestClient`` (in-process; the app's lifespan runs)."""
    clients = []

    def start(kind, **flags):
        clients.append(TestClient(make_app(kind, **flags)).__enter__())
        return clients[-1]

    yield start
    for c in clients:
        c.__exit__(None, None, None)


class LiveServer:
    """A real uvicorn server on a free 127.0.0.1 port (in a thread), and a tiny ``http.client`` client.

    Attributes:
        connections: TCP connections the server accepted so far.
    """

    def __init__(self, app):
        self.app, self.connections, self.sock = app, 0, bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn_server(app, app.state.service.args)
        counter = self

        class Counting(self.server.config.http):  # swiftcls's protocol, counting accepted connections
            def connection_made(self, transport):
                counter.connections += 1
                super().connection_made(transport)

        self.server.config.http = Counting
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)

    def stop(self):
        """Graceful shutdown, as on SIGTERM; returns once uvicorn and the batcher have stopped."""
        self.server.should_exit = True
        self.thread.join(60)
        self.sock.close()

    def connect(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def request(self, method, path, body=None, headers=None, raw=None, conn=None):
        """``(status, parsed JSON)``; on ``conn`` when given (kept open), else on a new connection."""
        own = conn is None
        conn = conn or self.connect()
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        payload = json.loads(resp.read() or b"null")
        if own:
            conn.close()
        return resp.status, payload

    def classify(self, body, **kw):
        return self.request("POST", "/classify", body, **kw)

    @property
    def stats(self):
        return self.app.state.service.batcher.stats


@pytest.fixture
def live(make_app):
    """``start(kind, **deploy_flags) -> LiveServer``; stopped after the test."""
    servers = []

    def start(kind, **flags):
        servers.append(LiveServer(make_app(kind, **flags)))
        return servers[-1]

    yield start
    for s in servers:
        if s.thread.is_alive():
            s.stop()


class ServerProcess:
    """``swiftcls deploy`` in a child process (``python -m swiftcls``), for signals and hostile clients.

    Attributes:
        proc: The process; its stderr goes to ``log``.
        url: ``http://127.0.0.1:PORT``, read from the line the server prints once it listens.
    """

    def __init__(self, argv, log):
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
        self.log = log
        with open(log, "w") as stderr:  # a file, not a pipe: nobody reads it while the server runs
            self.proc = subprocess.Popen([sys.executable, "-m", "swiftcls", "deploy", "--port", "0", *argv],
                                         stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        line = self.proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert found, f"no address in {line!r}; stderr: {Path(log).read_text()[-3000:]}"
        self.url, self.port = found.group(0), int(found.group(1))

    def connect(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def classify(self, body=None, raw=None):
        """``(status, parsed JSON)`` of one ``POST /classify`` on a new connection."""
        conn = self.connect()
        try:
            conn.request("POST", "/classify", body=raw if raw is not None else json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def deploy_process(trained, tmp_path_factory):
    """``start(kind, *flags) -> ServerProcess`` serving a tiny trained run; killed after the module if still up."""
    procs, tmp_path = [], tmp_path_factory.mktemp("deploy-process")

    def start(kind, *flags):
        model, kw = trained(kind)
        argv = [x for k, v in {**model, **kw}.items() for x in (f"--{k}", str(v))]
        procs.append(ServerProcess([*argv, *flags], tmp_path / f"server{len(procs)}.log"))
        return procs[-1]

    yield start
    for p in procs:
        p.stop()
