"""``swiftcls deploy`` under load: many concurrent clients, no errors, batched, bounded memory (real uvicorn)."""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest


def _rss_mb():
    return int(next(x for x in open("/proc/self/status") if x.startswith("VmRSS")).split()[1]) / 1024


@pytest.mark.parametrize("clients, requests, keep_alive", [(64, 2000, False), (64, 2000, True),
                                                             pytest.param(128, 10000, False, marks=pytest.mark.slow)])
def test_load_concurrent_clients_no_errors_bounded_memory(live, clients, requests, keep_alive):
    server = live("single")
    clf = server.app.state.service.clf
    texts = [" ".join(random.Random(i).sample(["alpha", "beta", "good", "bad", "thing", "kappa"], 4))
             for i in range(50)]
    expected = clf.predict_proba(texts)  # what every answer must equal, whatever batch it rode in
    local, conns = threading.local(), []  # keep_alive: one persistent connection per client thread

    def one(i):
        if keep_alive and not hasattr(local, "conn"):
            local.conn = server.connect()
            conns.append(local.conn)
        status, out = server.classify({"input": texts[i % len(texts)]}, conn=getattr(local, "conn", None))
        return status == 200 and len(out["data"]) == 1 and np.allclose(out["data"][0]["probs"],
                                                                        expected[i % len(texts)], atol=1e-5)

    with ThreadPoolExecutor(clients) as pool:
        assert all(pool.map(one, range(256)))  # warm-up: allocator pools, thread stacks
        before, start = _rss_mb(), time.perf_counter()
        results = list(pool.map(one, range(requests)))
        elapsed, after = time.perf_counter() - start, _rss_mb()
    stats = server.request("GET", "/health")[1]
    assert results.count(False) == 0  # no error, and every answer equals Classifier.predict_proba
    assert stats["requests"] == requests + 256 and stats["rejected"] == 0
    assert stats["batches"] < stats["requests"]  # concurrent requests really were batched together
    assert after - before < 100, (before, after)
    # Keep-alive: each client thread reused its one connection; otherwise one connection per request (+1: /health).
    assert server.connections == (len(conns) + 1 if keep_alive else requests + 256 + 1)
    for conn in conns:
        conn.close()
    print(f"load: {requests} requests, {clients} clients, keep-alive {keep_alive}, {server.connections} "
          f"connections, {elapsed:.1f}s, {requests / elapsed:.0f} req/s, "
          f"mean batch {stats['rows'] / stats['batches']:.1f}, RSS {before:.0f} -> {after:.0f} MB")
