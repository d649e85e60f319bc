"""Micro-batching: requests from many HTTP threads share forward passes run by one worker thread."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import numpy as np


class QueueFull(Exception):
    """The batcher already holds ``max_queue`` waiting requests (the server answers 503)."""


class _Job:
    __slots__ = ("rows", "done", "result", "error")

    def __init__(self, rows: list):
        self.rows, self.done, self.result, self.error = rows, threading.Event(), None, None


class MicroBatcher:
    """Collects submitted row lists into batches of up to ``max_batch_size`` rows and runs them on one thread.

    The worker takes the first waiting request, then keeps taking requests until the batch is full or
    ``max_wait_s`` has passed since the first one, runs ``run(rows)`` once and hands each request its slice of
    the result. One thread owns the model, so it never runs two forward passes at once (no memory spikes), and
    the queue is bounded, so a flood of requests gets 503s instead of growing memory.

    Args:
        run: ``rows -> array`` with one result row per input row, in order.
        max_batch_size: Rows per call of ``run`` (a single larger request still runs whole).
        max_wait_s: How long to wait for more requests before running a partial batch.
        max_queue: Most requests waiting; :meth:`submit` raises :class:`QueueFull` beyond it.
    """

    def __init__(self, run: Callable[[list], np.ndarray], max_batch_size: int = 32, max_wait_s: float = 0.005,
                 max_queue: int = 256):
        self.run, self.max_batch_size, self.max_wait_s = run, max(1, max_batch_size), max(0.0, max_wait_s)
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, max_queue))
        self._lock, self._closed = threading.Lock(), False  # no job may enter the queue behind close()'s marker
        self.stats = {"requests": 0, "rows": 0, "batches": 0, "rejected": 0}
        self._thread = threading.Thread(target=self._loop, name="swiftcls-batcher", daemon=True)
        self._thread.start()

    def submit(self, rows: list) -> np.ndarray:
        """Run ``rows`` in the next batch and wait for their results (blocks the calling thread)."""
        job = _Job(rows)
        with self._lock:
            refused = "the server is shutting down" if self._closed else None
            if not refused:
                try:
                    self._queue.put_nowait(job)
                except queue.Full:
                    refused = f"{self._queue.maxsize} requests are already waiting"
            if refused:
                self.stats["rejected"] += 1
                raise QueueFull(refused)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def close(self) -> None:
        """Stop the worker after the requests already queued; later :meth:`submit` calls raise :class:`QueueFull`."""
        with self._lock:
            self._closed = True
            self._queue.put(None)  # may wait for room; the worker frees it without the lock
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs, rows, stop = [job], len(job.rows), False
            deadline = time.monotonic() + self.max_wait_s
            while rows < self.max_batch_size:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
                rows += len(nxt.rows)
            self._run(jobs)
            if stop:
                return

    def _run(self, jobs: list[_Job]) -> None:
        rows = [r for job in jobs for r in job.rows]
        try:
            out = self.run(rows)
            start = 0
            for job in jobs:
                job.result, start = out[start:start + len(job.rows)], start + len(job.rows)
        except Exception as err:  # noqa: BLE001 - every waiting request must hear about the failure
            for job in jobs:
                job.error = err
        finally:
            self.stats["requests"] += len(jobs)
            self.stats["rows"] += len(rows)
            self.stats["batches"] += 1
            for job in jobs:
                job.done.set()
