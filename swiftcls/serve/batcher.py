"""Micro-batching in the event loop: concurrent requests share forward passes run on one model thread."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np


class QueueFull(Exception):
    """The batcher already holds ``max_queue`` waiting requests, or is closed (the server answers 503)."""


class DeadlineExceeded(Exception):
    """A request's deadline passed while it waited for the model (the server answers 504)."""


class _Job:
    __slots__ = ("rows", "future", "running", "abandoned")

    def __init__(self, rows: list, future: asyncio.Future):
        self.rows, self.future, self.running, self.abandoned = rows, future, False, False


class MicroBatcher:
    """Collects submitted row lists into batches of up to ``max_batch_size`` rows; one thread runs the model.

    A task in the event loop takes the first waiting request, then keeps taking requests until the batch is
    full or ``max_wait_s`` has passed since the first one, and runs ``run(rows)`` on its one worker thread, so
    the loop never blocks on the model and two forward passes never run at once (no memory spikes). While a
    batch runs, new requests wait in a bounded queue: beyond ``max_queue`` :meth:`submit` raises
    :class:`QueueFull` instead of growing memory. :meth:`start` and :meth:`close` run in the serving loop.

    Args:
        run: ``rows -> array`` with one result row per input row, in order.
        max_batch_size: Rows per call of ``run`` (a single larger request still runs whole).
        max_wait_s: How long to wait for more requests before running a partial batch.
        max_queue: Most requests waiting.
        on_batch: Called with the row count of each batch run (metrics).

    Attributes:
        stats: ``requests``, ``rows``, ``batches`` answered so far and ``rejected`` submissions.
    """

    def __init__(self, run: Callable[[list], np.ndarray], max_batch_size: int = 32, max_wait_s: float = 0.005,
                 max_queue: int = 256, on_batch: Callable[[int], None] | None = None):
        self.run, self.max_batch_size, self.max_wait_s = run, max(1, max_batch_size), max(0.0, max_wait_s)
        self.max_queue, self.on_batch = max(1, max_queue), on_batch
        self.stats = {"requests": 0, "rows": 0, "batches": 0, "rejected": 0}
        self._queue: deque[_Job] = deque()
        self._closed, self._task, self._wakeup, self._pool = False, None, None, None

    @property
    def depth(self) -> int:
        """Requests waiting for a batch (not counting the batch running now)."""
        return len(self._queue)

    async def start(self) -> None:
        """Start the batching task in the running loop (the server's startup)."""
        self._closed, self._wakeup = False, asyncio.Event()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="swiftcls-model")
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="swiftcls-batcher")

    async def close(self) -> None:
        """Run what is queued, then stop; later :meth:`submit` calls raise :class:`QueueFull`."""
        self._closed = True
        if self._task is not None:
            self._wakeup.set()
            await self._task
            self._pool.shutdown(wait=True)
            self._task = None

    async def submit(self, rows: list, timeout: float | None = None) -> np.ndarray:
        """Run ``rows`` in a coming batch and return their results.

        Args:
            rows: Encoded rows of one request.
            timeout: Seconds to wait at most (``None``: no limit).

        Raises:
            QueueFull: ``max_queue`` requests already wait, or the batcher is closed or was never started.
            DeadlineExceeded: ``timeout`` passed before the request's batch started (a batch that started in
                time is waited for).
        """
        refused = None
        if self._closed:
            refused = "the server is shutting down"
        elif self._task is None:
            refused = "the batcher is not started"
        elif len(self._queue) >= self.max_queue:
            refused = f"{self.max_queue} requests are already waiting"
        if refused:
            self.stats["rejected"] += 1
            raise QueueFull(refused)
        job = _Job(rows, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        self._wakeup.set()
        try:
            # shield: a deadline or a client gone must not cancel the future that the batch fills in.
            return await asyncio.wait_for(asyncio.shield(job.future), timeout)
        except asyncio.TimeoutError:
            if job.running:  # its batch started in time: the answer comes when the batch ends
                return await job.future
            job.abandoned = True  # the batcher skips it
            raise DeadlineExceeded(f"waited more than {timeout:.3g} s for the model") from None
        except asyncio.CancelledError:
            job.abandoned = True
            if job.running:  # its rows, and the image files they name, are in use until the batch ends
                await asyncio.wait([job.future])
            raise

    async def _next_batch(self) -> list[_Job]:
        """The next batch: the first waiting job, then more until full or ``max_wait_s`` after the first."""
        while not self._queue:
            if self._closed:
                return []
            self._wakeup.clear()
            await self._wakeup.wait()
        jobs = [self._queue.popleft()]
        rows = len(jobs[0].rows)
        deadline = time.monotonic() + self.max_wait_s
        while rows < self.max_batch_size:
            if not self._queue:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), left)
                except asyncio.TimeoutError:
                    break
                continue
            jobs.append(self._queue.popleft())
            rows += len(jobs[-1].rows)
        return jobs

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while jobs := await self._next_batch():
            jobs = [job for job in jobs if not job.abandoned]
            for job in jobs:
                job.running = True
            if not jobs:  # every caller gave up before its batch started
                continue
            rows = [r for job in jobs for r in job.rows]
            try:
                out = await loop.run_in_executor(self._pool, self.run, rows)
            except Exception as err:  # noqa: BLE001 - every waiting request must hear about the failure
                for job in jobs:
                    if job.abandoned:  # nobody will read the error
                        job.future.cancel()
                    else:
                        job.future.set_exception(err)
            else:
                start = 0
                for job in jobs:
                    job.future.set_result(out[start:start + len(job.rows)])
                    start += len(job.rows)
            self.stats["requests"] += len(jobs)
            self.stats["rows"] += len(rows)
            self.stats["batches"] += 1
            if self.on_batch is not None:
                self.on_batch(len(rows))
