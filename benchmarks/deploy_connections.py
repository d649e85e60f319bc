"""Per-request cost of the ``swiftcls deploy`` HTTP layer: a new connection per request vs. keep-alive.

Runs the real app (FastAPI + uvicorn, as ``swiftcls deploy`` does) on 127.0.0.1 with a stand-in classifier that
answers at once, and times sequential requests from one ``http.client`` client, so no model work is included:

- ``GET /health``: connection set-up, routing, middleware and response writing;
- ``POST /classify``: the same plus JSON and schema validation, the worker-thread hop for encoding and the
  micro-batcher (one input per request; ``--max_wait_ms 0``, as a lone request would otherwise wait that long
  for others to share its batch).

Each mode runs ``--rounds`` times; the table gives the minimum and median milliseconds per request.

    python benchmarks/deploy_connections.py --requests 500 --rounds 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import statistics
import threading
import time
import types

import numpy as np

from swiftcls import DeployArguments
from swiftcls.serve.app import create_app
from swiftcls.serve.server import bind, uvicorn_server


class StandIn:
    """Just enough of a :class:`swiftcls.Classifier` for the server: two labels, constant scores."""

    labels, problem_type = ["negative", "positive"], "single_label_classification"
    encoder = types.SimpleNamespace(image_processor=None, max_length=512)

    def encode(self, examples):
        return [{"input_ids": [1, 2, 3]} for _ in examples]

    def logits_rows(self, rows, batch_size=32):
        return np.zeros((len(rows), 2), dtype=np.float32)

    def prediction(self, probs):
        return self.labels[int(np.argmax(probs))]


def ms_per_request(port: int, requests: int, keep_alive: bool, classify: bool) -> float:
    """Mean milliseconds per request in one mode."""
    body = json.dumps({"input": "great film"}).encode()
    conn = None
    start = time.perf_counter()
    for _ in range(requests):
        conn = conn if keep_alive and conn else http.client.HTTPConnection("127.0.0.1", port)
        if classify:
            conn.request("POST", "/classify", body, {"Content-Type": "application/json"})
        else:
            conn.request("GET", "/health")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read()
        if not keep_alive:
            conn.close()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed / requests * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    deploy = DeployArguments(model="stand-in", port=0, max_wait_ms=0)  # the model is never loaded
    sock = bind("127.0.0.1", 0)
    server = uvicorn_server(create_app(StandIn(), deploy, "bench"), deploy)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = sock.getsockname()[1]
    modes = [(f"{route}, {conn}", keep, route != "GET /health") for route in ("GET /health", "POST /classify")
             for conn, keep in (("new connection", False), ("keep-alive", True))]
    times = {name: [] for name, _, _ in modes}
    for _ in range(args.rounds):  # rounds interleave the modes, so a busy moment hits all of them
        for name, keep, classify in modes:
            times[name].append(ms_per_request(port, args.requests, keep, classify))
    server.should_exit = True
    thread.join(30)
    print(f"{platform.node()} {platform.processor() or platform.machine()}, {args.requests} requests per mode "
          f"and round, {args.rounds} rounds")
    print("| mode | min ms per request | median | keep-alive gain (median) |\n|---|---|---|---|")
    for name, keep, _ in modes:
        base = statistics.median(times[name.replace("keep-alive", "new connection")])
        gain = f"{base / statistics.median(times[name]):.2f}x" if keep else ""
        print(f"| {name} | {min(times[name]):.2f} | {statistics.median(times[name]):.2f} | {gain} |")


if __name__ == "__main__":
    main()
