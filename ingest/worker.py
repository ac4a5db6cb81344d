"""Converting files in worker processes, each under a time and a memory limit.

`convert_file` never raises for a bad file: it returns a Parsed with the reason. A worker
that dies outright (a crash in a C extension, the kernel's OOM killer) breaks the process
pool; `convert_files` then retries the files that were in flight one at a time, so only the
file that kills a worker on its own is reported, and the batch goes on.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# Only light imports: every worker process imports this module when it starts.
from store.records import FileInfo

from ingest.convert import ConversionError, convert
from ingest.options import IngestOptions
from ingest.split import Split, page_numbers, split_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parsed:
    """The outcome of converting one file: passages, or the reason there are none."""

    file: FileInfo
    pages: int | None = None
    splits: list[Split] = field(default_factory=list)
    page_numbers: list[int | None] = field(default_factory=list)  # page of each split; None for text
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    # Per split: (start, end) in its text of what is printed on the next page (Converted.next_page_spans).
    next_page_spans: list[list[tuple[int, int]]] = field(default_factory=list)


def convert_file(path: str, options: IngestOptions) -> Parsed:
    """Read, convert, clean and split one file into passages."""
    try:
        data, mtime = read_file(path)
    except OSError as exc:
        return unreadable(path, exc)
    return convert_data(path, data, mtime, options)


def read_file(path: str) -> tuple[bytes, float]:
    """The bytes of a file and its modification time, read through one open file."""
    with open(path, "rb") as f:
        return f.read(), os.fstat(f.fileno()).st_mtime


def unreadable(path: str, exc: OSError) -> Parsed:
    return Parsed(FileInfo(path, None, None, None), error=f"cannot read: {exc.strerror or exc}")


def convert_data(path: str, data: bytes, mtime: float, options: IngestOptions) -> Parsed:
    """Convert, clean and split the bytes read from `path` into passages (never raises for a bad file)."""
    # The hash is of the bytes converted here, so the store never pairs passages with the
    # hash of a different version of the file.
    info = FileInfo(path, hashlib.sha256(data).hexdigest(), len(data), mtime)
    try:
        with _time_limit(options.timeout_s):
            converted = convert(Path(path), data, options)
            splits = split_text(converted.text, options.split_length, options.split_overlap)
    except ConversionError as exc:
        return Parsed(info, error=str(exc))
    except TimeoutError:
        return Parsed(info, error=f"conversion took longer than {options.timeout_s:g} s (ingest.timeout_s)")
    except MemoryError:
        return Parsed(info, error=f"conversion needed more than {options.max_memory_mb} MB (ingest.max_memory_mb)")
    except RecursionError:
        return Parsed(info, error="file structure nested too deeply to convert")
    except Exception as exc:  # a converter bug must not stop the batch; it is logged with its traceback
        logger.exception("unexpected error converting %s", path)
        return Parsed(info, error=f"unexpected {type(exc).__name__} while converting: {' '.join(str(exc).split())[:200]}")
    starts = [s.start for s in splits]
    pages: list[int | None] = [None] * len(splits)
    if converted.pages is not None:
        pages = list(page_numbers(converted.text, starts))
    return Parsed(info, converted.pages, splits, pages, converted.warnings, next_page_spans=_within(splits, converted.next_page_spans))


def _within(splits: list[Split], spans: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Each split's share of `spans` (offsets in the file's text), in offsets of the split's text."""
    return [
        [(max(a, s.start) - s.start, min(b, s.start + len(s.text)) - s.start) for a, b in spans if a < s.start + len(s.text) and b > s.start]
        for s in splits
    ]


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    # SIGALRM interrupts pure-Python loops (pypdf is pure Python); it is only available in
    # a process's main thread, which is where pool workers run their tasks.
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(_signum: int, _frame: object) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _init_worker(max_memory_mb: int, parent: int, log_level: int = logging.WARNING) -> None:
    # Ctrl-C is the main process's to handle: it stops after the files in flight.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A spawned process starts with no logging set up: with -v, what converters log (OCR's
    # progress through a long scan) reaches stderr as the indexer's own lines do.
    if log_level < logging.WARNING:
        logging.basicConfig(level=log_level, format="docqa: %(levelname)s: %(message)s", stream=sys.stderr)
    limit = max_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # The parent's pid comes from the parent: one killed while this worker was still starting
    # is already gone, and os.getppid() here would name whoever adopted the worker.
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    """Exit once the indexer that started this worker is gone (killed with SIGKILL, say).

    Without it a worker would wait forever on its task queue, whose pipe its sibling
    workers keep open.
    """
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def convert_files(paths: list[str], options: IngestOptions, workers: int) -> Iterator[Parsed]:
    """Convert `paths` with `workers` processes (0: in this process), yielding in completion order."""
    if workers == 0:
        for path in paths:
            yield convert_file(path, options)
        return
    suspects: list[str] = []
    pending = deque(paths)
    while pending:
        in_flight: dict[Future[Parsed], str] = {}
        with _pool(workers, options) as pool:
            try:
                while pending or in_flight:
                    # A few files queued per worker keeps them busy without holding every
                    # file's passages in memory at once.
                    while pending and len(in_flight) < 2 * workers:
                        path = pending.popleft()
                        in_flight[pool.submit(convert_file, path, options)] = path
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        result = future.result()
                        del in_flight[future]
                        yield result
            except BrokenProcessPool:
                suspects.extend(in_flight.values())
    # Each file that was in flight when a worker died gets a pool of its own.
    for path in suspects:
        with _pool(1, options) as pool:
            try:
                yield pool.submit(convert_file, path, options).result()
            except BrokenProcessPool:
                yield crashed(path, "its worker process died")


def crashed(path: str, how: str) -> Parsed:
    return Parsed(FileInfo(path, None, None, None), error=f"the converter crashed on this file ({how})")


@contextmanager
def _pool(workers: int, options: IngestOptions) -> Iterator[ProcessPoolExecutor]:
    # spawn, not fork: the parent may hold SQLite connections and tqdm's monitor thread,
    # which a forked child must not inherit.
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(options.max_memory_mb, os.getpid(), logging.getLogger().getEffectiveLevel()),
    )
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
