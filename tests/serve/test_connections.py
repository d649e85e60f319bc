"""``swiftcls deploy`` on a real uvicorn server: keep-alive, pipelining, bodies refused unread, timeouts, stop.

Raw sockets where the bytes on the wire matter; ``http.client`` elsewhere.
"""

import asyncio
import http.client
import importlib.util
import io
import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from swiftcls.serve.batcher import QueueFull

TEXTS = ["alpha beta good thing", "gamma delta bad thing", "omega red blue", "kappa"]


def test_keep_alive_many_requests_and_errors_on_one_connection_and_stop_ends_it(live):
    server = live("single", api_key="k", max_request_bytes=4000)
    auth = {"Authorization": "Bearer k"}
    expected = server.classify({"input": TEXTS}, headers=auth)[1]["data"]
    before, conn, sock = server.connections, server.connect(), None
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
    assert server.connections == before + 1  # the server accepted exactly one connection for all 84
    server.stop()  # stopping the server ends the idle connection now, not after --keep_alive_timeout
    conn.sock.settimeout(5)
    assert conn.sock.recv(1) == b""
    conn.close()
    with pytest.raises(QueueFull, match="shutting down"):  # and no request can wait forever on a stopped batcher
        asyncio.run(server.app.state.service.batcher.submit([{}]))


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


def _post(body, version="1.1", chunked=False, **headers):
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": len(body)}
    headers = {**framing, **{k.replace("_", "-"): v for k, v in headers.items()}}
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if chunked:
        body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 10]), body[i:i + 10]) for i in range(0, len(body), 10))
        body += b"0\r\n\r\n"
    return f"POST /classify HTTP/{version}\r\nHost: x\r\n{head}\r\n".encode() + body


def test_pipelined_requests_connection_close_and_http10(live):
    server = live("single")
    good = json.dumps({"input": TEXTS[0]}).encode()
    # Three requests in one packet, the first two refused: their bodies must be consumed exactly. The last
    # asks to close.
    out = _exchange(server.port, _post(b"[1,2") + _post(b'{"input": [7]}') + _post(good, Connection="close"))
    assert [status for status, _, _ in out] == [422, 422, 200]
    assert out[-1][1]["connection"] == "close" and "connection" not in out[0][1]
    assert all(int(h["content-length"]) == len(body) for _, h, body in out)
    expected = server.classify({"input": TEXTS[0]})[1]["data"][0]["probs"]
    np.testing.assert_allclose(json.loads(out[-1][2])["data"][0]["probs"], expected, atol=1e-5)
    # HTTP/1.0 clients: answered, then the connection is closed (a second pipelined request is not read),
    # also with `Connection: keep-alive` (uvicorn's h11 keeps only HTTP/1.1 connections open).
    for extra in ({}, {"Connection": "keep-alive"}):
        out = _exchange(server.port, _post(good, "1.0", **extra) + _post(good, "1.0"))
        assert [(s, h["connection"]) for s, h, _ in out] == [(200, "close")]
        np.testing.assert_allclose(json.loads(out[0][2])["data"][0]["probs"], expected, atol=1e-5)


def test_oversized_bodies_are_refused_unread_and_chunked_bodies_accepted(live):
    server = live("single", max_request_bytes=1000)
    start = time.perf_counter()
    # Announces 1 GB, sends 5 KB: the server must answer from the header alone and not wait for the rest.
    out = _exchange(server.port, _post(b"x" * 5000, Content_Length=10**9), timeout=10)
    assert [(s, h["connection"]) for s, h, _ in out] == [(413, "close")]
    assert "--max_request_bytes 1000" in json.loads(out[0][2])["error"]["message"]
    # `Expect: 100-continue` (curl, for large bodies): 413 at once, no "100 Continue" invitation to send it.
    out = _exchange(server.port, _post(b"", Content_Length=10**9, Expect="100-continue"), timeout=10)
    assert [(s, h["connection"]) for s, h, _ in out] == [(413, "close")]
    # Chunked bodies (no Content-Length) are accepted, and counted while they stream in.
    good = json.dumps({"input": TEXTS}).encode()
    out = _exchange(server.port, _post(good, chunked=True) + _post(good, chunked=True, Connection="close"))
    assert [s for s, _, _ in out] == [200, 200] and len(json.loads(out[1][2])["data"]) == 4
    out = _exchange(server.port, _post(b'{"input": "' + b"y" * 3000 + b'"}', chunked=True), timeout=10)
    assert [(s, h["connection"]) for s, h, _ in out] == [(413, "close")]
    assert "stopped reading after" in json.loads(out[0][2])["error"]["message"]
    out = _exchange(server.port, _post(b"{}", Content_Length="1e3"), timeout=10)  # malformed: 400 from uvicorn
    assert [(s, h["connection"]) for s, h, _ in out] == [(400, "close")]
    assert time.perf_counter() - start < 10
    assert server.request("GET", "/health")[0] == 200  # and the server is fine


def test_idle_and_stalled_connections_are_closed_after_keep_alive_timeout(live):
    server = live("single", keep_alive_timeout=0.5)
    start = time.perf_counter()  # the server answers, then hangs up on the silent client
    assert [s for s, _, _ in _exchange(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")] == [200]
    assert 0.4 < time.perf_counter() - start < 10
    start = time.perf_counter()  # stalls inside a request body too: 408, then the connection is closed
    out = _exchange(server.port, _post(b"{", Content_Length=50))
    assert [(s, h["connection"]) for s, h, _ in out] == [(408, "close")]
    assert "--keep_alive_timeout 0.5" in json.loads(out[0][2])["error"]["message"]
    assert 0.4 < time.perf_counter() - start < 10


def _slow_forward(server, seconds):
    """Make each forward pass of ``server`` take ``seconds`` longer (a model under load)."""
    batcher = server.app.state.service.batcher
    run = batcher.run

    def slow(rows):
        time.sleep(seconds)
        return run(rows)

    batcher.run = slow


def _in_threads(calls):
    """Run the zero-argument ``calls`` in threads, started 0.2 s apart; their results in order."""
    results, threads = [None] * len(calls), []
    for i, call in enumerate(calls):
        threads.append(threading.Thread(target=lambda i=i, call=call: results.__setitem__(i, call())))
        threads[-1].start()
        time.sleep(0.2)
    for t in threads:
        t.join(60)
    return results


def test_deadline_answers_504_and_skips_the_queued_work(live):
    server = live("single", request_timeout=0.5, max_batch_size=1)
    _slow_forward(server, 1.5)
    start = time.perf_counter()
    first, second = _in_threads([lambda: server.classify({"input": TEXTS[0]}),
                                 lambda: (server.classify({"input": TEXTS[1]}), time.perf_counter() - start)])
    assert first[0] == 200  # its batch started in time: answered when it ended
    (status, err), took = second
    assert status == 504 and "--request_timeout 0.5" in err["error"]["message"], err
    assert took < 1.5  # answered at its deadline, not after the first batch
    time.sleep(0.2)
    assert server.stats["batches"] == 1  # the expired request never reached the model


def test_concurrency_cap_answers_503_at_once_and_health_stays_open(live):
    server = live("single", max_concurrency=2, max_batch_size=1)
    _slow_forward(server, 1.5)

    def refused():
        conn = server.connect()
        conn.request("POST", "/classify", body=b'{"input": "y"}')
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read()), resp.getheader("Retry-After")

    results = _in_threads([lambda: server.classify({"input": TEXTS[0]}), lambda: server.classify({"input": "x"}),
                           refused, lambda: server.request("GET", "/health")])
    assert [r[0] for r in results] == [200, 200, 503, 200]
    assert "--max_concurrency 2" in results[2][1]["error"]["message"] and results[2][2] == "1"
    assert server.classify({"input": "z"})[0] == 200  # the cap frees up once requests end


def test_graceful_stop_lets_in_flight_requests_finish(live):
    server = live("single")
    _slow_forward(server, 1.0)
    results = []
    thread = threading.Thread(target=lambda: results.append(server.classify({"input": TEXTS})))
    thread.start()
    time.sleep(0.3)  # the request is in the model now
    server.stop()
    thread.join(30)
    assert results and results[0][0] == 200 and len(results[0][1]["data"]) == 4
    with pytest.raises(OSError):  # and the server no longer accepts connections
        server.request("GET", "/health")


def test_example_client_against_the_live_server(live):
    server = live("single", api_key="s3cret")
    path = Path(__file__).resolve().parents[2] / "examples" / "deploy_client.py"
    spec = importlib.util.spec_from_file_location("deploy_client", path)
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    out = client.classify(f"http://127.0.0.1:{server.port}", ["good thing"], api_key="s3cret")
    assert out["data"][0]["pred"] in ("good", "bad")
    with pytest.raises(SystemExit, match="HTTP 401"):
        client.classify(f"http://127.0.0.1:{server.port}", ["good thing"])


def test_a_failing_forward_answers_500_to_its_batch_only_and_the_server_keeps_serving(live):
    server = live("single", max_batch_size=1)
    batcher = server.app.state.service.batcher
    run = batcher.run

    def flaky(rows):
        if any(len(r["input_ids"]) > 30 for r in rows):  # the long input breaks "the model"
            raise RuntimeError("CUDA error: out of memory")
        return run(rows)

    batcher.run = flaky
    status, err = server.classify({"input": " ".join(["alpha beta"] * 20)})
    assert status == 500 and err["error"]["message"] == "internal error: RuntimeError: CUDA error: out of memory"
    assert err["error"]["type"] == "InternalServerError"
    status, out = server.classify({"input": TEXTS})  # the next batch, and the server, are fine
    assert status == 200 and len(out["data"]) == 4
