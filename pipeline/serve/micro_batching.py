"""Micro-batching: concurrent requests coalesced into shared calls of a batch function.

The first request of a batch waits up to `max_wait` seconds for others to join (at most
`max_size` items); the batch then runs in a worker thread, so the event loop is never
blocked, while the next batch gathers. Items are grouped by a key (requests with
different options cannot share one call), and each caller gets its own result back.
One batch runs at a time: on a CPU the reader already uses every core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class MicroBatcher(Generic[Item, Result]):
    def __init__(
        self,
        run: Callable[[Hashable, list[Item]], Sequence[Result]],
        *,
        max_wait: float,
        max_size: int,
        executor: ThreadPoolExecutor,
    ) -> None:
        """`run(key, items)` returns one result per item, in order; it runs in `executor`."""
        self._run = run
        self._max_wait = max_wait
        self._max_size = max_size
        self._executor = executor
        self._queue: asyncio.Queue[tuple[Hashable, Item, asyncio.Future[Result]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, key: Hashable, item: Item) -> Result:
        if self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._loop())
        assert self._queue is not None
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        await self._queue.put((key, item, future))
        return await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _loop(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self._max_wait
            while len(batch) < self._max_size:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except asyncio.TimeoutError:
                    break
            groups: dict[Hashable, list[tuple[Item, asyncio.Future[Result]]]] = {}
            for key, item, future in batch:
                groups.setdefault(key, []).append((item, future))
            for key, members in groups.items():
                live = [(item, future) for item, future in members if not future.done()]
                if not live:
                    continue
                try:
                    results: Sequence[Any] = await loop.run_in_executor(self._executor, self._run, key, [i for i, _ in live])
                except Exception as exc:  # handed to every caller of this group, who turns it into a response
                    for _, future in live:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(live, results):
                    if not future.done():
                        future.set_result(result)
