"""``swiftcls deploy`` as a separate process under hostile use: slow-loris, inputs that crashed it, SIGTERM under load.

The tests share one ``python -m swiftcls deploy`` child process (an image+text model, short timeouts) and talk to
it over sockets; the last one stops it with SIGTERM (docs/reliability.md, "Server").
"""

import base64
import http.client
import json
import signal
import socket
import threading
import time

import pytest
from helpers import write_png_bomb

TEXTS = ["alpha beta good thing", "gamma delta bad thing", "omega red blue", "kappa"]


@pytest.fixture(scope="module")
def server(deploy_process):
    return deploy_process("vl", "--read_timeout", "2", "--max_connections", "25", "--keep_alive_timeout", "3",
                          "--max_inputs", "4")


def _slow_loris(port, byte_every, results, i):
    """Send a request header one byte at a time; record how long the server kept the connection open."""
    request = b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\nX-Pad: " + b"a" * 200
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        answer = b""
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                sock.settimeout(byte_every)
                try:
                    chunk = sock.recv(4096)
                except TimeoutError:  # still held: the next byte
                    continue
                answer += chunk
                if not chunk:
                    break
        except (ConnectionResetError, BrokenPipeError):  # closed while a byte was on its way: also cut
            pass
        results[i] = (time.monotonic() - start, answer)


def test_slow_loris_clients_are_cut_at_the_read_deadline_and_others_are_served(server):
    results = [None] * 20
    threads = [threading.Thread(target=_slow_loris, args=(server.port, 0.25, results, i)) for i in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # all 20 are held now, mid-header
    assert server.classify({"input": TEXTS})[0] == 200  # a normal client is served meanwhile
    assert results == [None] * 20  # while all 20 were still held
    for t in threads:
        t.join(30)
    for held, answer in results:
        assert 1.9 < held < 5, held  # cut at --read_timeout 2, not after the whole 60 s slow header
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), answer
    assert any(answer.startswith(b"HTTP/1.1 408 ") and b"--read_timeout 2 s" in answer for _, answer in results)
    # The connection cap: beyond --max_connections open connections, a new connection's request gets 503 (and
    # is closed); connections already open keep working.
    idle = [server.connect(timeout=10) for _ in range(25)]
    for conn in idle:
        conn.connect()
    time.sleep(0.2)
    status, err = server.classify({"input": TEXTS[0]})
    assert status == 503 and "--max_connections 25" in err["error"]["message"], err
    idle[0].request("POST", "/classify", body=json.dumps({"input": TEXTS[0]}).encode())
    assert idle[0].getresponse().status == 200
    # Connections that never send a byte are closed after --keep_alive_timeout, like idle kept-alive ones.
    idle[1].sock.settimeout(10)
    start = time.monotonic()
    assert idle[1].sock.recv(1) == b""
    assert time.monotonic() - start < 4
    for conn in idle:
        conn.close()
    assert server.proc.poll() is None


def test_hostile_inputs_get_4xx_without_server_paths(server, trained, tmp_path):
    image_dir = trained("vl")[1]["image_dir"]
    bomb = "data:image/png;base64," + base64.b64encode(write_png_bomb(tmp_path / "bomb.png").read_bytes()).decode()
    (tmp_path / "broken").write_bytes(b"not an image")
    broken = "data:image/png;base64," + base64.b64encode(b"not an image").decode()
    cases = {
        "NUL byte in an image path": ({"input": "<image> x", "images": [["a\x00.png"]]}, 422, "NUL"),
        "5,000-character image path": ({"input": "<image> x", "images": [["x" * 5000 + ".png"]]}, 422, "too long"),
        "decompression bomb as a data: URL": ({"input": "<image> x", "images": [[bomb]]}, 422, "image"),
        "unreadable inline image": ({"input": "<image> x", "images": [[broken]]}, 422, "cannot read image"),
        "image messages beyond --max_inputs (bad base64, never decoded)": (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "data:image/png;base64,!"}
                                                       for _ in range(5)]}]}, 422, "--max_inputs 4"),
    }
    for name, (body, status, needle) in cases.items():
        got, err = server.classify(body)
        message = err["error"]["message"]
        assert (got, needle in message) == (status, True), (name, got, message)
        assert image_dir not in message and "/tmp" not in message and str(tmp_path) not in message, (name, message)
    # A lone surrogate (valid JSON, not valid Unicode) in the text, in a message and in an image URL.
    for raw in (b'{"input": "a\\ud800b"}', b'{"messages": [{"role": "user", "content": "\\udfff"}]}',
                b'{"input": "<image> x", "images": [["a\\ud800.png"]]}', b'{"model": "\\ud800", "input": "x"}'):
        got, err = server.classify(raw=raw)
        assert got == 422 and "surrogate" in err["error"]["message"], (raw, got, err)
    assert server.classify({"input": TEXTS})[0] == 200  # and the server is fine
    assert "Traceback" not in server.log.read_text()


def test_sigterm_under_load_answers_every_request_on_kept_alive_connections(server):
    outcomes, failures, stop = [[] for _ in range(16)], [], threading.Event()

    def client(i):
        conn = server.connect(timeout=30)  # one kept-alive connection, reopened only after the server closed it
        while not stop.is_set():
            try:
                conn.request("POST", "/classify", body=json.dumps({"input": TEXTS}).encode())
            except ConnectionRefusedError:  # the server closed this connection, then stopped listening: done
                return
            except OSError as err:  # the server closed the connection without answering this request
                failures.append((i, len(outcomes[i]), repr(err)))
                return
            try:
                resp = conn.getresponse()
                body = json.loads(resp.read())
            except (OSError, http.client.HTTPException, ValueError) as err:  # a reset, or an answer cut short
                failures.append((i, len(outcomes[i]), repr(err)))
                return
            ok = (resp.status == 200 and len(body["data"]) == 4) or (
                resp.status == 503 and resp.getheader("Connection") == "close"
                and "shutting down" in body["error"]["message"])
            outcomes[i].append(resp.status if ok else (resp.status, body))
            if resp.status != 200:  # told to go elsewhere
                return

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while min(map(len, outcomes)) < 3 and not failures:  # every client is busy on its connection
        assert time.monotonic() < deadline, outcomes
        time.sleep(0.05)
    server.proc.send_signal(signal.SIGTERM)
    try:
        returncode = server.proc.wait(timeout=60)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not failures, failures  # every request sent got a complete answer: no reset, no missing response
    assert returncode == 0  # a normal exit after the graceful stop, not killed by the signal (-15)
    assert all(x in (200, 503) for o in outcomes for x in o), outcomes
    assert "Traceback" not in server.log.read_text()
