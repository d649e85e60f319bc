"""``swiftcls deploy``: the HTTP server on tiny trained models (in-process, on a free 127.0.0.1 port).

Three tiny runs are trained once per module: single-label LoRA (served from the adapter checkpoint), multi-label
full fine-tuning (exported, served from the export) and a Qwen2-VL image classifier (served from its checkpoint).
"""

import base64
import http.client
import io
import json
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from helpers import make_rows, sft, write, write_images

from swiftcls import DeployArguments, ExportArguments, export_main
from swiftcls.cli.main import main
from swiftcls.config.parser import build_parser, parse_args, parse_values
from swiftcls.core.errors import ConfigError
from swiftcls.data.collators import PackingCollator
from swiftcls.inference.classifier import Classifier
from swiftcls.serve.batcher import QueueFull
from swiftcls.serve.service import build_server

TEXTS = ["alpha beta good thing", "gamma delta bad thing", "omega red blue", "kappa"]


@pytest.fixture(scope="module")
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


class Server:
    """A running server and a tiny JSON client for it."""

    def __init__(self, model_args, **kwargs):
        self.args = DeployArguments(port=0, **model_args, **kwargs)
        self.httpd = build_server(self.args)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

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
    def clf(self):
        return self.httpd.RequestHandlerClass.service.clf


@pytest.fixture
def serve():
    servers = []

    def start(model_args, **kwargs):
        servers.append(Server(model_args, **kwargs))
        return servers[-1]

    yield start
    for s in servers:
        s.httpd.close()


def test_health_models_and_vllm_response_shape(trained, serve):
    model_args, kw = trained("single")
    server = serve(model_args, **kw, served_model_name="tiny")
    assert server.request("GET", "/health") == (200, {"status": "ok", "requests": 0, "rows": 0, "batches": 0,
                                                      "rejected": 0})
    status, models = server.request("GET", "/v1/models")
    assert status == 200 and models["data"][0]["id"] == "tiny"
    status, out = server.classify({"model": "tiny", "input": TEXTS})
    assert status == 200, out
    assert set(out) == {"id", "object", "created", "model", "data", "usage"}
    assert out["object"] == "list" and out["model"] == "tiny" and out["id"].startswith("classify-")
    expected = Classifier.from_pretrained(adapters=kw["adapters"], device="cpu")
    probs = expected.predict_proba(TEXTS)
    assert [d["index"] for d in out["data"]] == [0, 1, 2, 3]
    np.testing.assert_allclose([d["probs"] for d in out["data"]], probs, atol=1e-5)
    assert [d["label"] for d in out["data"]] == expected.predict(TEXTS)  # label names, not ids
    assert all(d["num_classes"] == 2 and set(d) == {"index", "label", "probs", "num_classes", "pred"}
               for d in out["data"])
    tokens = sum(len(r["input_ids"]) for r in expected.encode([_ex(t) for t in TEXTS]))
    assert out["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0,
                            "prompt_tokens_details": None, "completion_tokens_details": None}
    status, one = server.classify({"input": TEXTS[0]})  # a single string, no model field
    assert status == 200 and len(one["data"]) == 1
    np.testing.assert_allclose(one["data"][0]["probs"], out["data"][0]["probs"], atol=1e-5)
    assert server.classify({"model": "other", "input": "x"})[0] == 404
    # Batches are packed without pad tokens by default (tiny Qwen2); --padding_free false pads, same scores.
    padded = serve(model_args, **kw, served_model_name="tiny", padding_free=False)
    assert isinstance(server.clf.collator, PackingCollator) and not isinstance(padded.clf.collator, PackingCollator)
    status, same = padded.classify({"model": "tiny", "input": TEXTS})
    assert status == 200
    np.testing.assert_allclose([d["probs"] for d in same["data"]], [d["probs"] for d in out["data"]], atol=1e-5)


def _ex(text):
    from swiftcls.data.dataset import Example

    return Example(text)


def test_multi_label_threshold_from_training_and_flag(trained, serve):
    model_args, kw = trained("multi")
    server = serve(model_args, **kw)
    assert server.clf.labels == ["blue", "red"] and server.clf.threshold == 0.3
    status, out = server.classify({"input": TEXTS})
    assert status == 200
    for d in out["data"]:
        assert d["pred"] == [n for n, p in zip(["blue", "red"], d["probs"]) if p >= 0.3]
    high = serve(model_args, **kw, threshold=0.99)
    assert all(d["pred"] == [] for d in high.classify({"input": TEXTS})[1]["data"])


def test_api_key_and_limits(trained, serve):
    model_args, kw = trained("single")
    server = serve(model_args, **kw, api_key="s3cret", max_inputs=3, max_text_length=50, max_request_bytes=2000)
    assert server.classify({"input": "x"})[0] == 401
    assert server.classify({"input": "x"}, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert server.request("GET", "/v1/models")[0] == 401
    assert server.request("GET", "/health")[0] == 200  # health stays open for probes
    auth = {"Authorization": "Bearer s3cret"}
    assert server.classify({"input": "x"}, headers=auth)[0] == 200
    status, err = server.classify({"input": "x" * 3000}, headers=auth)
    assert status == 413 and "max_request_bytes" in err["error"]["message"] and err["error"]["code"] == 413
    for body, needle in (({"input": ["a"] * 4}, "max_inputs"), ({"input": "y" * 51}, "max_text_length"),
                         ({"input": [1, 2, 3]}, "not a string"), ({"text": "x"}, "exactly one"),
                         ({"input": []}, "non-empty"), ([1], "JSON object"), ({"input": "x", "images": [["a"]]},
                                                                                "text-only")):
        status, err = server.classify(body, headers=auth)
        assert (status, needle in err["error"]["message"]) == (422, True), err
    for raw in (b"{not json", b"[" * 1000 + b"]" * 1000):  # the second nests deeper than json can parse
        status, err = server.request("POST", "/classify", raw=raw, headers=auth)
        assert status == 422 and "not valid JSON" in err["error"]["message"]
    assert server.request("POST", "/nowhere", {}, headers=auth)[0] == 404
    client = _example_client()  # examples/deploy_client.py against the live server
    out = client.classify(f"http://127.0.0.1:{server.port}", ["good thing"], api_key="s3cret")
    assert out["data"][0]["pred"] in ("good", "bad")
    with pytest.raises(SystemExit, match="HTTP 401"):
        client.classify(f"http://127.0.0.1:{server.port}", ["good thing"])


def test_keep_alive_many_requests_and_errors_on_one_connection(trained, serve):
    model_args, kw = trained("single")
    server = serve(model_args, **kw, api_key="k", max_request_bytes=4000)
    auth = {"Authorization": "Bearer k"}
    expected = server.classify({"input": TEXTS}, headers=auth)[1]["data"]
    before, conn, sock = server.httpd.connections, server.connect(), None
    answers = []
    for i in range(12):  # good requests, each error path that keeps the connection, and good ones again
        answers.append(server.classify({"input": TEXTS}, headers=auth, conn=conn))
        sock = sock or conn.sock
        answers.append(server.classify({"input": TEXTS[i % 4]}, conn=conn))  # 401: the body is still read
        answers.append(server.request("POST", "/classify", raw=b"{not json", headers=auth, conn=conn))  # 422
        answers.append(server.classify({"input": ["a"] * 100}, headers=auth, conn=conn))  # 422: max_inputs
        answers.append(server.request("GET", "/classify", headers=auth, conn=conn))  # 405
        answers.append(server.request("PUT", "/nowhere", {"x": 1}, headers=auth, conn=conn))  # 404 with a body
        answers.append(server.request("GET", "/health", conn=conn))
        assert conn.sock is sock  # http.client reconnects (a new socket) when the server closes
    assert [status for status, _ in answers] == [200, 401, 422, 422, 405, 404, 200] * 12
    for _, out in answers[::7]:
        np.testing.assert_allclose([d["probs"] for d in out["data"]], [d["probs"] for d in expected], atol=1e-5)
    assert "takes POST" in answers[4][1]["error"]["message"]
    assert server.httpd.connections == before + 1  # the server accepted exactly one connection for all 84
    server.httpd.close()  # stopping the server ends the idle connection now, not after --keep_alive_timeout
    conn.sock.settimeout(5)
    assert conn.sock.recv(1) == b""
    conn.close()
    with pytest.raises(QueueFull, match="shutting down"):  # and no request can wait forever on a stopped batcher
        server.httpd.RequestHandlerClass.service.batcher.submit([{}])


def _exchange(port, data, timeout=30):
    """Send raw bytes, read until the server closes the connection; ``[(status, headers, body)]`` in order.

    Fails (socket timeout) instead of hanging when the server keeps the connection open.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(1 << 16):
                received += chunk
        except ConnectionResetError:  # closing with an unread request body in the kernel buffer sends RST
            pass
    stream, out = _Unclosable(received), []
    while stream.tell() < len(received):
        resp = http.client.HTTPResponse(_Replay(stream))
        resp.begin()
        out.append((resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()))
    return out


class _Unclosable(io.BytesIO):
    def close(self):  # HTTPResponse closes its stream after each body; more responses follow in it
        pass


class _Replay:
    def __init__(self, stream):
        self.stream = stream

    def makefile(self, *args, **kwargs):
        return self.stream


def _post(body, version="1.1", **headers):
    headers = {"Content-Length": len(body), **{k.replace("_", "-"): v for k, v in headers.items()}}
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"POST /classify HTTP/{version}\r\nHost: x\r\n{head}\r\n".encode() + body


def test_pipelined_requests_connection_close_and_http10(trained, serve):
    model_args, kw = trained("single")
    server = serve(model_args, **kw)
    good = json.dumps({"input": TEXTS[0]}).encode()
    # Two requests in one packet, the first refused: its body must be consumed exactly. The last asks to close.
    out = _exchange(server.port, _post(b"[1,2") + _post(b'{"input": [7]}') + _post(good, Connection="close"))
    assert [status for status, _, _ in out] == [422, 422, 200]
    assert out[-1][1]["connection"] == "close" and "connection" not in out[0][1]
    assert all(int(h["content-length"]) == len(body) for _, h, body in out)
    expected = server.classify({"input": TEXTS[0]})[1]["data"][0]["probs"]
    np.testing.assert_allclose(json.loads(out[-1][2])["data"][0]["probs"], expected, atol=1e-5)
    # HTTP/1.0 clients: answered, then the connection is closed (a second pipelined request is not read).
    out = _exchange(server.port, _post(good, "1.0") + _post(good, "1.0"))
    assert [status for status, _, _ in out] == [200] and out[0][1]["connection"] == "close"
    np.testing.assert_allclose(json.loads(out[0][2])["data"][0]["probs"], expected, atol=1e-5)
    # HTTP/1.0 with `Connection: keep-alive` stays open, and the server says so.
    out = _exchange(server.port, _post(good, "1.0", Connection="keep-alive") + _post(good, "1.0"))
    assert [(s, h["connection"]) for s, h, _ in out] == [(200, "keep-alive"), (200, "close")]


def test_oversized_body_is_refused_unread_and_the_connection_closed(trained, serve):
    model_args, kw = trained("single")
    server = serve(model_args, **kw, max_request_bytes=1000)
    start = time.perf_counter()
    # Announces 1 GB, sends 5 KB: the server must answer from the header alone and not wait for the rest.
    out = _exchange(server.port, _post(b"x" * 5000, Content_Length=10**9), timeout=10)
    assert [(s, h["connection"]) for s, h, _ in out] == [(413, "close")]
    assert "--max_request_bytes 1000" in json.loads(out[0][2])["error"]["message"]
    # `Expect: 100-continue` (curl, for large bodies): 413 at once, no "100 Continue" invitation to send it.
    out = _exchange(server.port, _post(b"", Content_Length=10**9, Expect="100-continue"), timeout=10)
    assert [(s, h["connection"]) for s, h, _ in out] == [(413, "close")]
    for head, status in (({"Transfer_Encoding": "chunked"}, 411), ({"Content_Length": "1e3"}, 400)):
        out = _exchange(server.port, _post(b"5\r\nhello\r\n0\r\n\r\n", **head), timeout=10)
        assert [(s, h["connection"]) for s, h, _ in out] == [(status, "close")]
    assert time.perf_counter() - start < 10
    assert server.request("GET", "/health")[0] == 200  # and the server is fine


def test_idle_connections_are_closed_after_keep_alive_timeout(trained, serve):
    model_args, kw = trained("single")
    server = serve(model_args, **kw, keep_alive_timeout=0.5)
    start = time.perf_counter()  # the server answers, then hangs up on the silent client
    assert [s for s, _, _ in _exchange(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")] == [200]
    assert 0.4 < time.perf_counter() - start < 10
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:  # stalls inside a request too
        sock.sendall(_post(b"{", Content_Length=50))
        assert sock.recv(1 << 16) == b""
    with pytest.raises(ConfigError, match="keep_alive_timeout"):
        DeployArguments(port=0, keep_alive_timeout=0, **model_args, **kw)


def _example_client():
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "examples" / "deploy_client.py"
    spec = importlib.util.spec_from_file_location("deploy_client", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_defaults_bind_localhost_and_no_stub():
    args = parse_args(DeployArguments, ["--model", "m"])
    assert args.host == "127.0.0.1" and args.port == 8000 and not args.allow_remote_images and args.api_key is None
    assert main(["deploy"]) == 2  # no model: a clear error, exit code 2
    with pytest.raises(ConfigError, match="unknown flag --num_labels"):
        parse_values(ExportArguments, ["--num_labels", "3"])  # export/infer/deploy do not offer training-only flags
    help_text = build_parser(ExportArguments).format_help()
    assert "--torch_dtype" in help_text and not any(f in help_text for f in ("--num_labels", "--problem_type",
                                                                             "--labels"))


def _png_bytes(path):
    return base64.b64encode(Path(path).read_bytes()).decode()


def test_vl_images_inline_paths_traversal_and_remote(trained, serve, tmp_path):
    model_args, kw = trained("vl")
    server = serve(model_args, **kw)
    image_dir = Path(kw["image_dir"])
    clf = server.clf
    status, by_path = server.classify({"input": ["<image> look 0", "<image> look 1"], "images": [["a.png"], ["b.png"]]})
    assert status == 200, by_path
    from swiftcls.data.dataset import Example
    from swiftcls.metrics.classification import logits_to_probs

    rows = clf.encode([Example("<image> look 0", images=[str(image_dir / "a.png")], file="x"),
                       Example("<image> look 1", images=[str(image_dir / "b.png")], file="x")])
    direct = logits_to_probs(clf.logits_rows(rows), clf.problem_type)
    np.testing.assert_allclose([d["probs"] for d in by_path["data"]], direct, atol=1e-5)
    assert not np.allclose(direct[0], direct[1])  # the image reaches the classifier
    chat = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{_png_bytes(image_dir / 'a.png')}"}},
        {"type": "text", "text": " look 0"}]}]}
    status, inline = server.classify(chat)
    assert status == 200 and np.allclose(inline["data"][0]["probs"], direct[0], atol=1e-5), inline
    secret = tmp_path / "secret.png"
    secret.write_bytes((image_dir / "a.png").read_bytes())
    for url in ("../../secret.png", str(secret), f"file://{secret}", "../" * 20 + "etc/passwd"):
        status, err = server.classify({"input": "<image> x", "images": [[url]]})
        assert status == 403 and "outside" in err["error"]["message"], (url, err)
    (image_dir / "link.png").symlink_to(secret)  # a symlink out of the folder is refused too
    assert server.classify({"input": "<image> x", "images": [["link.png"]]})[0] == 403
    status, err = server.classify({"input": "<image> x", "images": [["http://127.0.0.1:9/a.png"]]})
    assert status == 403 and "--allow_remote_images" in err["error"]["message"]
    assert server.classify({"input": "<image> x", "images": [["missing.png"]]})[0] == 422
    (image_dir / "bad.png").write_bytes(b"not an image")
    status, err = server.classify({"input": "<image> x", "images": [["bad.png"]]})
    assert status == 422 and "cannot read image" in err["error"]["message"]


@pytest.mark.parametrize("clients, requests, keep_alive", [(64, 2000, False), (64, 2000, True),
                                                             pytest.param(128, 10000, False, marks=pytest.mark.slow)])
def test_load_concurrent_clients_no_errors_bounded_memory(trained, serve, clients, requests, keep_alive):
    model_args, kw = trained("single")
    server = serve(model_args, **kw)
    texts = [" ".join(random.Random(i).sample(["alpha", "beta", "good", "bad", "thing", "kappa"], 4))
             for i in range(50)]
    local, conns = threading.local(), []  # keep_alive: one persistent connection per client thread

    def one(i):
        if keep_alive and not hasattr(local, "conn"):
            local.conn = server.connect()
            conns.append(local.conn)
        status, out = server.classify({"input": texts[i % len(texts)]}, conn=getattr(local, "conn", None))
        return status == 200 and len(out["data"]) == 1

    def rss_mb():
        return int(next(x for x in open("/proc/self/status") if x.startswith("VmRSS")).split()[1]) / 1024

    with ThreadPoolExecutor(clients) as pool:
        assert all(pool.map(one, range(256)))  # warm-up: allocator pools, thread stacks
        before, start = rss_mb(), time.perf_counter()
        results = list(pool.map(one, range(requests)))
        elapsed, after = time.perf_counter() - start, rss_mb()
    stats = server.request("GET", "/health")[1]
    assert results.count(False) == 0
    assert stats["requests"] == requests + 256 and stats["rejected"] == 0
    assert stats["batches"] < stats["requests"]  # concurrent requests really were batched together
    assert after - before < 100, (before, after)
    # Keep-alive: each client thread reused its one connection; otherwise one connection per request (+1: /health).
    assert server.httpd.connections == (len(conns) + 1 if keep_alive else requests + 256 + 1)
    for conn in conns:
        conn.close()
    print(f"load: {requests} requests, {clients} clients, keep-alive {keep_alive}, {server.httpd.connections} "
          f"connections, {elapsed:.1f}s, {requests / elapsed:.0f} req/s, "
          f"mean batch {stats['rows'] / stats['batches']:.1f}, RSS {before:.0f} -> {after:.0f} MB")


def test_cli_subprocess_serves_and_prints_its_address(trained):
    import os
    import re
    import subprocess
    import sys
    import urllib.request

    model_args, _ = trained("multi")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "swiftcls", "deploy", "--model", model_args["model"], "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)  # binds 127.0.0.1 by default
        with urllib.request.urlopen(f"{url}/health", timeout=30) as resp:
            assert json.loads(resp.read())["status"] == "ok"
        request = urllib.request.Request(f"{url}/classify", json.dumps({"input": TEXTS}).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as resp:
            assert len(json.loads(resp.read())["data"]) == len(TEXTS)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
