"""Indexing folders incrementally: discover, skip what is unchanged, convert in parallel, write per file.

Files are known by path and content hash. An unchanged file (same hash, same splitter
settings) is not parsed again; a changed one has its passages replaced in one transaction;
a file that cannot be converted is recorded with its reason, and the batch goes on.

Text files over `ingest.stream_text_above_mb` are not converted whole in a worker: this process
reads, cleans and splits them chunk by chunk and writes their passages as they come, still
in one transaction, so memory stays flat whatever the file's size. They need no time or
memory limit: reading text costs time in proportion to its size and cannot loop.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from tqdm import tqdm

from store.document_store import SQLiteDocumentStore
from store.errors import StoreError
from store.records import Failure, FileInfo

from ingest.clean import clean
from ingest.convert import DOUBTFUL_ENCODING, TEXT_SUFFIXES, ConversionError, read_text_file
from ingest.converted import summarised
from ingest.files import discover, sha256_file, under
from ingest.ocr import read_without_ocr
from ingest.options import IngestOptions
from ingest.split import Split, split_stream, split_text
from ingest.worker import Parsed, convert_files

logger = logging.getLogger(__name__)


@dataclass
class IndexReport:
    indexed: int = 0
    unchanged: int = 0
    failed: int = 0
    removed: int = 0
    passages: int = 0  # passages written by this run
    failures: list[Failure] = field(default_factory=list)
    doubtful: list[Failure] = field(default_factory=list)  # indexed, in an encoding that may be wrong
    # Files under the indexed paths that the index holds as failed after the run: this run's
    # failures and those of earlier runs that are unchanged since (counted there as unchanged).
    still_failed: int = 0
    # Of those, the failures of earlier runs (this run's are in `failures`).
    earlier_failures: list[Failure] = field(default_factory=list)
    # Indexed files under the paths that are no longer on disk, kept because prune was not asked for.
    gone: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files in the folders that ingest.include leaves out
    seconds: float = 0.0
    interrupted: bool = False
    error: str | None = None  # why the run stopped early: the database could not be written

    def to_json(self) -> dict[str, Any]:
        """The JSON summary of `docqa index --json` (DESIGN.md)."""
        return {
            "files": {"indexed": self.indexed, "unchanged": self.unchanged, "failed": self.failed, "removed": self.removed},
            "passages": self.passages,
            "failures": [{"path": f.path, "error": f.error} for f in self.failures],
            # Why the exit status may be 1 when this run failed nothing: files under the paths
            # that earlier runs failed and that have not changed since.
            "still_failed": self.still_failed,
            "earlier_failures": [{"path": f.path, "error": f.error} for f in self.earlier_failures],
            "gone": len(self.gone),
            "skipped": len(self.skipped),
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        line = (
            f"{self.indexed} indexed ({self.passages} passages), {self.unchanged} unchanged, "
            f"{self.failed} failed, {self.removed} removed in {self.seconds:.1f} s"
        )
        if self.still_failed > self.failed:
            n = self.still_failed
            line += f"; {n} file{'s' if n != 1 else ''} under these paths {'are' if n != 1 else 'is'} still failed (`docqa files --failed` says why)"
        if self.gone:
            n = len(self.gone)
            files, are, answer, them = ("files", "are", "answer", "them") if n != 1 else ("file", "is", "answers", "it")
            line += f"; {n} indexed {files} under these paths {are} gone from disk and still {answer} questions: add --prune to forget {them}"
        if self.doubtful:
            line += f"; {len(self.doubtful)} read in a doubtful encoding (see above)"
        if self.skipped:
            kinds = sorted({os.path.splitext(p)[1].lower() or "(no extension)" for p in self.skipped})
            line += f"; {len(self.skipped)} skipped, of other types ({', '.join(kinds)}: see ingest.include)"
        if self.error is not None:
            return "stopped: " + line
        return ("interrupted: " + line) if self.interrupted else line


def index_paths(
    store: SQLiteDocumentStore,
    paths: Iterable[str | os.PathLike[str]],
    options: IngestOptions,
    *,
    workers: int | None = None,
    prune: bool = False,
    show_progress: bool = True,
    ray_address: str | None = None,
) -> IndexReport:
    """Index files and folders into `store`; see the module docstring.

    `workers` overrides options.workers (None: one per CPU core; 0: no worker processes).
    `ray_address`: convert on that Ray cluster instead (ingest.ray_convert); this process
    still decides what is unchanged and writes every file.
    `prune` forgets files under `paths` that are no longer there.
    Ctrl-C stops after the files in flight; the report says it was interrupted. A database
    that cannot be written (full disk, read-only file) stops the run too: every later file
    would fail the same way. The report carries the error; what was committed is kept.
    """
    # One transaction per file, as ever; the search index beside the database catches up in
    # batches and at the end, not after each file (a commit per file would halve throughput).
    with store.bulk():
        return _index_paths(store, paths, options, workers=workers, prune=prune, show_progress=show_progress, ray_address=ray_address)


def _index_paths(
    store: SQLiteDocumentStore,
    paths: Iterable[str | os.PathLike[str]],
    options: IngestOptions,
    *,
    workers: int | None,
    prune: bool,
    show_progress: bool,
    ray_address: str | None,
) -> IndexReport:
    started = time.perf_counter()
    roots = [os.path.abspath(p) for p in paths]
    report = IndexReport()
    # With prune, a path that is gone is only there to have its files forgotten.
    found = discover([r for r in roots if not prune or os.path.lexists(r)], options.include, options.exclude)
    report.skipped = found.skipped
    for path in found.skipped:
        logger.info("skipped (not in ingest.include): %s", path)
    known = store.file_states()
    # A file of a type docqa does not index that an earlier docqa recorded as failed (it took
    # files named on the command line whatever their type): not a failure, and not kept as one.
    stale = [path for path in found.skipped if path in known and known[path].status == "failed"]
    if stale:
        report.removed += store.remove_files(stale)
        known = store.file_states()
    for failure in found.failures:
        _record_failure(store, report, FileInfo(failure.path, None, None, None), failure.error)

    progress = tqdm(total=len(found.files), unit="file", desc="indexing", file=sys.stderr, disable=not show_progress, dynamic_ncols=True)
    try:
        todo = []
        for path in found.files:
            state = known.get(path)
            if state is None or state.sha256 is None or state.splitter != options.splitter:
                todo.append(path)
                continue
            try:
                unchanged = sha256_file(path) == state.sha256
            except OSError:
                unchanged = False  # the worker reads it again and reports why it cannot
            if unchanged:
                report.unchanged += 1
                progress.update()
            else:
                todo.append(path)

        streamed: list[str] = []
        converted: list[str] = []
        for path in todo:
            (streamed if _is_large_text(path, options.stream_text_above_mb) else converted).append(path)
        if ray_address is not None:
            from ingest.ray_convert import convert_files_on_ray

            results = convert_files_on_ray(converted, options, ray_address)
        else:
            results = convert_files(converted, options, _worker_count(options.workers if workers is None else workers, len(converted)))
        for parsed in results:
            _save(store, report, parsed, options)
            progress.update()
        for path in streamed:
            _save_streamed(store, report, path, options, show_progress)
            progress.update()

        seen = set(found.files) | {f.path for f in found.failures}
        gone = [p for p in known if under(p, roots) and p not in seen]
        if prune:
            report.removed += store.remove_files(gone)
        else:
            report.gone = [p for p in gone if known[p].status == "indexed" and not os.path.lexists(p)]
            for path in report.gone:
                logger.info("gone from disk, still indexed (--prune forgets it): %s", path)
        report.still_failed = sum(state.status == "failed" and under(path, roots) for path, state in store.file_states().items())
        if report.still_failed > report.failed:
            this_run = {f.path for f in report.failures}
            failed, _ = store.list_files(0, None, status="failed")
            report.earlier_failures = [Failure(r.path, r.error or "") for r in failed if under(r.path, roots) and r.path not in this_run]
    except KeyboardInterrupt:
        report.interrupted = True
    except StoreError as exc:
        report.error = str(exc)
    finally:
        progress.close()
    report.seconds = time.perf_counter() - started
    return report


def _warn(report: IndexReport, path: str, warnings: list[str]) -> None:
    others = []
    for warning in warnings:
        if warning.startswith(DOUBTFUL_ENCODING):
            report.doubtful.append(Failure(path, warning))
        else:
            others.append(warning)
    # Repeated warnings once each, unless -v asked for every one.
    for warning in others if logger.isEnabledFor(logging.INFO) else summarised(others):
        logger.warning("%s: %s", path, warning)


def forget_paths(store: SQLiteDocumentStore, paths: Iterable[str | os.PathLike[str]]) -> dict[str, list[str]]:
    """Forget the indexed files that are `paths` or lie under them (present on disk or deleted).

    Returns, for each path as given, the files forgotten (none: it was not indexed).
    """
    known = list(store.file_states())
    forgotten = {str(p): [f for f in known if under(f, [os.path.abspath(p)])] for p in paths}
    store.remove_files({f for files in forgotten.values() for f in files})
    return forgotten


def _save(store: SQLiteDocumentStore, report: IndexReport, parsed: Parsed, options: IngestOptions) -> None:
    _warn(report, parsed.file.path, parsed.warnings)
    # A file read without OCR because it could not run (Tesseract not installed) is recorded
    # with no splitter, so the next run reads it again, as after a change of settings.
    splitter = None if read_without_ocr(parsed.warnings + [parsed.error or ""]) else options.splitter
    if parsed.error is not None:
        _record_failure(store, report, parsed.file, parsed.error, splitter)
        return
    passages = _documents(parsed.file.path, parsed.splits, parsed.page_numbers, parsed.next_page_spans)
    store.save_file(parsed.file, parsed.pages, passages, splitter=splitter)
    report.indexed += 1
    report.passages += len(parsed.splits)


def _documents(path: str, splits: Iterable[Split], pages: Iterable[int | None], next_page: Sequence[list[tuple[int, int]]] = ()) -> Iterator[Any]:
    """The passages of one file as Documents with the structural meta of DESIGN.md."""
    from store.haystack_compat import Document  # imported only when there are passages to write

    for i, (s, page) in enumerate(zip(splits, pages)):
        meta = {"file_path": path, "page_number": page, "split_id": i, "split_idx_start": s.start}
        if i < len(next_page) and next_page[i]:
            meta["next_page_spans"] = [list(span) for span in next_page[i]]
        yield Document(content=s.text, meta=meta)


def _is_large_text(path: str, above_mb: float) -> bool:
    try:
        return path.lower().endswith(TEXT_SUFFIXES) and os.path.getsize(path) > above_mb * 1024 * 1024
    except OSError:
        return False  # a worker tries to read it and reports why it cannot


def _save_streamed(store: SQLiteDocumentStore, report: IndexReport, path: str, options: IngestOptions, show_progress: bool) -> None:
    """Index one large text file as it is read (see the module docstring)."""
    try:
        # Hashed first, because the file's row is written before its passages; the bytes
        # converted are hashed again on the way, so a file changed meanwhile is caught.
        sha = sha256_file(path)
        f = open(path, "rb")
    except OSError as exc:
        _record_failure(store, report, FileInfo(path, None, None, None), f"cannot read: {exc.strerror or exc}", options.splitter)
        return
    stat = os.fstat(f.fileno())
    info = FileInfo(path, sha, stat.st_size, stat.st_mtime)
    warnings: list[str] = []
    written = 0
    bar = tqdm(total=stat.st_size, unit="B", unit_scale=True, desc=os.path.basename(path), leave=False,
               file=sys.stderr, disable=not show_progress, dynamic_ncols=True)
    reader = _HashingReader(f, bar)

    def passages() -> Iterator[Any]:
        nonlocal written
        splits = split_stream(read_text_file(reader, warnings, options.encoding), options.split_length, options.split_overlap)
        for written, document in enumerate(_documents(path, splits, itertools.repeat(None)), 1):
            yield document
        if reader.hexdigest() != sha:
            raise ConversionError("the file changed while it was being indexed: run `docqa index` again")

    try:
        with f, bar:
            store.save_file(info, None, passages(), splitter=options.splitter)
    except OSError as exc:
        _record_failure(store, report, info, f"cannot read: {exc.strerror or exc}", options.splitter)
        return
    except ConversionError as exc:
        _record_failure(store, report, info, str(exc), options.splitter)
        return
    _warn(report, path, warnings)
    report.indexed += 1
    report.passages += written


class _HashingReader:
    """A binary file that hashes what is read from it and shows progress."""

    def __init__(self, file: BinaryIO, bar: tqdm[Any]) -> None:
        self._file, self._bar, self._hash = file, bar, hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        data = self._file.read(size)
        self._hash.update(data)
        self._bar.update(len(data))
        return data

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _record_failure(
    store: SQLiteDocumentStore, report: IndexReport, file: FileInfo, error: str, splitter: str | None = None
) -> None:
    store.save_failure(file, error, splitter=splitter)
    report.failed += 1
    report.failures.append(Failure(file.path, error))


def _worker_count(workers: int | None, files: int) -> int:
    if workers is None:
        workers = os.cpu_count() or 1
    # Starting processes costs more than converting one or two files in this one.
    return 0 if files <= 1 else min(workers, files)


def index_text(store: SQLiteDocumentStore, name: str, text: str, options: IngestOptions) -> int:
    """Index `text` as a document called `name` (cleaned and split as files are); returns its passage count.

    For text that is not in a file: evaluation sets, text from other systems.
    """
    splits = split_text(clean(text), options.split_length, options.split_overlap)
    passages = _documents(name, splits, itertools.repeat(None))
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    store.save_file(FileInfo(name, sha, len(text), None), None, passages, splitter=options.splitter)
    return len(splits)
