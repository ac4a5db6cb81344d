"""Converting files on a Ray cluster: the same conversion as the worker processes, as Ray tasks.

Only conversion is distributed. This process reads each file and sends its bytes, so worker
nodes need no shared filesystem; the passages come back here, where the one writer commits
each file in one transaction as on a single machine (SQLite allows one writer and must not
live on a network filesystem). A task whose worker dies (killed, out of memory) is retried
by Ray; a file that kills its worker on every try is reported as failed, and the job goes on.

The per-file time limit (ingest.timeout_s) holds in Ray's workers as in docqa's own; the
address-space limit (ingest.max_memory_mb) does not, because Ray reuses its worker
processes: give Ray's nodes their own memory limits (`ray start --memory`).
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator
from typing import Any

from store.errors import DocqaError

from ingest.options import IngestOptions
from ingest.worker import Parsed, convert_data, crashed, read_file, unreadable

logger = logging.getLogger(__name__)

# Tries of a file whose worker dies, the first included (Ray's max_retries + 1).
TRIES = 3


class RayUnavailableError(DocqaError):
    """Ray is not installed, or its cluster cannot be reached."""


def connect(address: str) -> Any:
    """The ray module, connected to the cluster at `address` ("auto": the one started on this
    machine with `ray start` or named by RAY_ADDRESS; "local": a new one in this process)."""
    if address == "local":
        # A cluster of this process alone: keep it on loopback (Ray's switch for machines
        # without cluster networking; read when ray is first imported).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise RayUnavailableError('--ray needs Ray: pip install -e ".[ray]"') from None
    if not ray.is_initialized():
        try:
            ray.init(address=None if address == "local" else address, log_to_driver=False, logging_level=logging.WARNING)
        except ConnectionError as exc:
            raise RayUnavailableError(
                f"cannot reach a Ray cluster at {address!r}: {' '.join(str(exc).split())[:200]}. "
                "Start one with `ray start --head`, or pass --ray ADDRESS (host:port of its head node)"
            ) from None
    return ray


def convert_files_on_ray(paths: list[str], options: IngestOptions, address: str) -> Iterator[Parsed]:
    """Convert `paths` as Ray tasks, yielding in completion order (as ingest.worker.convert_files)."""
    ray = connect(address)
    remote = ray.remote(max_retries=TRIES - 1, retry_exceptions=False)(convert_data)
    # A few files queued per CPU keeps the cluster busy without holding every file's bytes
    # and passages in the object store at once.
    limit = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    pending = deque(paths)
    in_flight: dict[Any, str] = {}
    options_ref = ray.put(options)
    while pending or in_flight:
        while pending and len(in_flight) < limit:
            path = pending.popleft()
            try:
                data, mtime = read_file(path)
            except OSError as exc:
                yield unreadable(path, exc)
                continue
            in_flight[remote.remote(path, data, mtime, options_ref)] = path
        if not in_flight:
            continue
        done, _ = ray.wait(list(in_flight), num_returns=1)
        for ref in done:
            path = in_flight.pop(ref)
            try:
                yield ray.get(ref)
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.RayTaskError, ray.exceptions.OutOfMemoryError) as exc:
                logger.warning("%s: Ray task failed: %s", path, type(exc).__name__)
                yield crashed(path, f"its Ray worker died on each of {TRIES} tries")
