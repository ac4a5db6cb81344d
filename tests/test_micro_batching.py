from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor


from pipeline.serve.micro_batching import MicroBatcher


def run_async(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_share_one_call_and_get_their_own_results():
    calls = []

    def run(key, items):
        calls.append((key, list(items)))
        return [f"{key}:{item.upper()}" for item in items]

    async def main():
        batcher = MicroBatcher(run, max_wait=0.05, max_size=32, executor=ThreadPoolExecutor(1))
        results = await asyncio.gather(*(batcher.submit("k", f"q{i}") for i in range(10)))
        await batcher.close()
        return results

    assert run_async(main()) == [f"k:Q{i}" for i in range(10)]
    assert calls == [("k", [f"q{i}" for i in range(10)])]


def test_batches_are_bounded_and_grouped_by_key():
    calls = []

    def run(key, items):
        calls.append((key, len(items)))
        return items

    async def main():
        batcher = MicroBatcher(run, max_wait=0.05, max_size=4, executor=ThreadPoolExecutor(1))
        await asyncio.gather(*(batcher.submit(i % 2, i) for i in range(8)))
        await batcher.close()

    run_async(main())
    assert sum(n for _, n in calls) == 8
    assert all(n <= 4 for _, n in calls)  # max_size counts the batch, split by key
    assert {key for key, _ in calls} == {0, 1}


def test_an_error_reaches_every_caller_of_its_group_and_the_batcher_goes_on():
    def run(key, items):
        if key == "bad":
            raise ValueError("broken")
        return items

    async def main():
        batcher = MicroBatcher(run, max_wait=0.01, max_size=8, executor=ThreadPoolExecutor(1))
        bad = await asyncio.gather(batcher.submit("bad", 1), batcher.submit("bad", 2), return_exceptions=True)
        good = await batcher.submit("good", 3)
        await batcher.close()
        return bad, good

    bad, good = run_async(main())
    assert [str(e) for e in bad] == ["broken", "broken"] and good == 3
