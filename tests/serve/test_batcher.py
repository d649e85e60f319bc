"""The micro-batcher on its own (no model, no HTTP): batching, queue bound, deadlines, failures, close."""

import asyncio
import threading
import time

import numpy as np
import pytest

from swiftcls.serve.batcher import DeadlineExceeded, MicroBatcher, QueueFull


class Model:
    """``rows -> [[row, batch number]]``, recording each batch's size and which thread ran it."""

    def __init__(self, delay=0.0, fail_on=None):
        self.batches, self.threads, self.delay, self.fail_on, self.running = [], set(), delay, fail_on, 0

    def __call__(self, rows):
        self.running += 1
        assert self.running == 1, "two forward passes at once"
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        self.running -= 1
        if self.fail_on in rows:
            raise RuntimeError(f"bad row {self.fail_on}")
        self.batches.append(len(rows))
        return np.array([[r, len(self.batches)] for r in rows])


def run(coro):
    return asyncio.run(coro)


def test_concurrent_requests_share_batches_in_order_on_one_thread():
    async def main():
        model = Model(delay=0.02)
        batcher = MicroBatcher(model, max_batch_size=8, max_wait_s=0.05)
        await batcher.start()
        outs = await asyncio.gather(*(batcher.submit([10 * i, 10 * i + 1]) for i in range(10)))
        await batcher.close()
        return model, batcher, outs

    model, batcher, outs = run(main())
    for i, out in enumerate(outs):  # each request gets its own rows back, in order
        assert out[:, 0].tolist() == [10 * i, 10 * i + 1]
    assert sum(model.batches) == 20 and max(model.batches) <= 8 and len(model.batches) < 10
    assert model.threads == {"swiftcls-model_0"}  # never the event loop's thread
    assert batcher.stats == {"requests": 10, "rows": 20, "batches": len(model.batches), "rejected": 0}


def test_a_partial_batch_runs_after_max_wait():
    async def main():
        batcher = MicroBatcher(Model(), max_batch_size=100, max_wait_s=0.2)
        await batcher.start()
        start = time.perf_counter()
        await batcher.submit([1])
        took = time.perf_counter() - start
        await batcher.close()
        return took

    assert 0.15 < run(main()) < 5


def test_queue_full_and_closed_batcher_refuse_at_once():
    async def main():
        model = Model(delay=0.3)
        batcher = MicroBatcher(model, max_batch_size=1, max_wait_s=0, max_queue=2)
        await batcher.start()
        running = asyncio.ensure_future(batcher.submit([0]))
        await asyncio.sleep(0.1)  # the first batch runs; two more may wait
        waiting = [asyncio.ensure_future(batcher.submit([i])) for i in (1, 2)]
        await asyncio.sleep(0)
        assert batcher.depth == 2
        with pytest.raises(QueueFull, match="2 requests are already waiting"):
            await batcher.submit([3])
        await asyncio.gather(running, *waiting)
        await batcher.close()  # ran what was queued; later submissions are refused
        with pytest.raises(QueueFull, match="shutting down"):
            await batcher.submit([4])
        return batcher.stats

    assert run(main()) == {"requests": 3, "rows": 3, "batches": 3, "rejected": 2}


def test_deadline_skips_queued_work_but_waits_for_a_started_batch():
    async def main():
        model = Model(delay=0.4)
        batcher = MicroBatcher(model, max_batch_size=1, max_wait_s=0)
        await batcher.start()
        started = asyncio.ensure_future(batcher.submit([1], timeout=0.1))  # its batch starts at once
        await asyncio.sleep(0.01)
        with pytest.raises(DeadlineExceeded):
            await batcher.submit([2], timeout=0.1)  # still queued behind the first at its deadline
        out = await started  # answered when its batch ended, after its deadline
        await batcher.close()
        return model, out

    model, out = run(main())
    assert out[:, 0].tolist() == [1] and model.batches == [1]  # row 2 never reached the model


def test_a_failing_batch_fails_only_its_own_requests():
    async def main():
        batcher = MicroBatcher(Model(fail_on=13), max_batch_size=1, max_wait_s=0)
        await batcher.start()
        results = await asyncio.gather(batcher.submit([13]), batcher.submit([14]), return_exceptions=True)
        await batcher.close()
        return results

    bad, good = run(main())
    assert isinstance(bad, RuntimeError) and "bad row 13" in str(bad)
    assert good[:, 0].tolist() == [14]
