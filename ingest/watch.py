"""Keeping the index in sync with folders as they change: `docqa index PATH... --watch`, `docqa serve --watch PATH...`.

watchfiles (Rust's notify: inotify, FSEvents, ReadDirectoryChangesW) reports what changed;
changes that arrive within `debounce_ms` of each other are handled as one batch, so a file
being copied in, or an editor's save-by-rename, is indexed once its writes settle. Each
batch goes through the indexer's own two entry points, so its crash safety holds: files
that are there (added, changed, moved in) go to `index_paths`, which skips what is
unchanged and writes each file in one transaction; paths that are gone (deleted, moved out,
a folder removed with everything under it) go to `forget_paths`.

Only what `docqa index` would index is looked at: names that `ingest.include` takes (and
folders), nothing under a part that `ingest.exclude` names. A file given by name is watched
through its folder (an editor may replace the file, which ends a watch on the file itself),
and only that file counts.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from store.document_store import SQLiteDocumentStore

from ingest.files import under
from ingest.indexer import IndexReport, forget_paths, index_paths
from ingest.options import IngestOptions

logger = logging.getLogger(__name__)
DEBOUNCE_MS = 800  # changes closer than this are one batch


@dataclass
class WatchBatch:
    """What one batch of changes did: the indexer's report for what is there, and the files forgotten."""

    report: IndexReport | None = None
    forgotten: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        if self.report is not None:
            parts.append(self.report.summary())
        if self.forgotten:
            n = len(self.forgotten)
            parts.append(f"forgot {n} file{'s' if n != 1 else ''} gone from disk")
        return "; ".join(parts)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = self.report.to_json() if self.report is not None else {}
        data["forgotten"] = list(self.forgotten)
        return data


def watch_paths(
    store: SQLiteDocumentStore,
    paths: Iterable[str | os.PathLike[str]],
    options: IngestOptions,
    on_batch: Callable[[WatchBatch], None],
    *,
    stop: threading.Event | None = None,
    workers: int | None = None,
    debounce_ms: int = DEBOUNCE_MS,
) -> None:
    """Index the changes under `paths` as they happen, calling `on_batch` after each batch, until `stop` is set.

    Without `stop` it runs until Ctrl-C (KeyboardInterrupt, raised to the caller between
    batches; a batch being indexed finishes its files in flight first, as `docqa index` does).
    """
    from watchfiles import watch

    roots = [os.path.abspath(p) for p in paths]
    folders = sorted({root if os.path.isdir(root) else os.path.dirname(root) for root in roots})
    accept = _filter(roots, options)
    for changes in watch(*folders, watch_filter=lambda _change, path: accept(path), debounce=debounce_ms, stop_event=stop, recursive=True):
        batch = apply_changes(store, {path for _, path in changes}, options, workers=workers)
        if batch.report is not None or batch.forgotten:
            on_batch(batch)
        if batch.report is not None and batch.report.interrupted:
            raise KeyboardInterrupt


def apply_changes(store: SQLiteDocumentStore, changed: Iterable[str], options: IngestOptions, *, workers: int | None = None) -> WatchBatch:
    """Bring the index up to date for `changed` paths: index those that are there, forget those that are gone."""
    changed = sorted(set(changed))
    present = [p for p in changed if os.path.lexists(p)]
    gone = [p for p in changed if not os.path.lexists(p)]
    batch = WatchBatch()
    if gone:
        forgotten = forget_paths(store, gone)
        batch.forgotten = sorted({f for files in forgotten.values() for f in files})
        for path in batch.forgotten:
            logger.info("forgotten (gone from disk): %s", path)
    # A folder's own event (its mtime) would index all of it: only its files' events count,
    # but a folder that appeared (moved in, copied in) is indexed whole.
    present = [p for p in present if not os.path.isdir(p) or not store_knows_under(store, p)]
    if present:
        batch.report = index_paths(store, present, options, workers=workers, show_progress=False)
    return batch


def store_knows_under(store: SQLiteDocumentStore, folder: str) -> bool:
    """Whether the index holds some file under `folder` (then the folder is not new)."""
    return any(under(path, [folder]) for path in store.file_states())


def _filter(roots: list[str], options: IngestOptions) -> Callable[[str], bool]:
    """Which changed paths count: under a root, no part excluded, a folder or an included name (see the module docstring)."""
    include = [p.lower() for p in options.include]
    folders = [r for r in roots if os.path.isdir(r)]
    files = {r for r in roots if r not in folders}

    def accept(path: str) -> bool:
        if path in files:
            return True
        root = next((r for r in folders if under(path, [r])), None)
        if root is None:
            return False
        parts = os.path.relpath(path, root).split(os.sep)
        if any(fnmatch.fnmatchcase(part, pattern) for part in parts for pattern in options.exclude):
            return False
        name = parts[-1].lower()
        # A deleted path cannot say whether it was a folder: it counts, forgetting is harmless.
        return os.path.isdir(path) or not os.path.lexists(path) or any(fnmatch.fnmatchcase(name, p) for p in include)

    return accept


def watch_in_thread(store: SQLiteDocumentStore, paths: Sequence[str], options: IngestOptions, log: logging.Logger) -> threading.Event:
    """Index `paths` now, then as they change, in a daemon thread, each summary to `log`; setting the event returned stops it.

    For `docqa serve --watch`: one file at a time (give `options` workers=0), beside the requests.
    """
    stop = threading.Event()

    def run() -> None:
        try:
            log.info("indexed %s: %s", ", ".join(paths), index_paths(store, paths, options, workers=0, show_progress=False).summary())
            log.info("watching %s for changes", ", ".join(paths))
            watch_paths(store, paths, options, lambda batch: log.info("watch: %s", batch.summary()), stop=stop, workers=0)
        except Exception:
            log.exception("watching %s stopped", ", ".join(paths))

    threading.Thread(target=run, name="docqa-watch", daemon=True).start()
    return stop
