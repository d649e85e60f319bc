"""Per-request cost of the ``swiftcls deploy`` HTTP layer: a new connection per request vs. keep-alive.

Times sequential ``GET /health`` requests from one ``http.client`` client, so no model work is included (the
route only reads the batcher's counters): what is left is connection set-up and response writing. Modes:

- ``new connection``: one TCP connection per request (what HTTP/1.0 clients, and the server before keep-alive, did);
- ``keep-alive, Nagle on``: one connection, with the server's socket left at the default (Nagle's algorithm);
- ``keep-alive``: one connection, ``TCP_NODELAY`` as the server sets it.

    python benchmarks/deploy_connections.py --requests 500
"""

from __future__ import annotations

import argparse
import http.client
import platform
import threading
import time
import types

from swiftcls.serve.http import ClassifyHandler, ClassifyServer


def ms_per_request(requests: int, keep_alive: bool, nodelay: bool) -> float:
    """Mean milliseconds per ``GET /health`` in one mode."""
    service = types.SimpleNamespace(batcher=types.SimpleNamespace(stats={}))
    handler = type("Handler", (ClassifyHandler,), {"service": service, "disable_nagle_algorithm": nodelay})
    server = ClassifyServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = None
    start = time.perf_counter()
    for _ in range(requests):
        conn = conn if keep_alive and conn else http.client.HTTPConnection("127.0.0.1", server.server_address[1])
        conn.request("GET", "/health")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read()
        if not keep_alive:
            conn.close()
    elapsed = time.perf_counter() - start
    conn.close()
    server.shutdown()
    server.server_close()
    assert server.connections == (1 if keep_alive else requests)
    return elapsed / requests * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    base = ms_per_request(args.requests, keep_alive=False, nodelay=True)
    print(f"{platform.node()} {platform.processor() or platform.machine()}, {args.requests} requests per mode")
    print("| mode | ms per request | vs new connection |\n|---|---|---|")
    for name, keep_alive, nodelay in (("new connection", False, True), ("keep-alive, Nagle on", True, False),
                                      ("keep-alive", True, True)):
        ms = base if not keep_alive else ms_per_request(args.requests, keep_alive, nodelay)
        print(f"| {name} | {ms:.2f} | {base / ms:.2f}x |")


if __name__ == "__main__":
    main()
