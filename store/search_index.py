"""The tantivy index kept beside the database: exact BM25 top k without scoring every match.

FTS5 scores every passage that holds any word of the question, so at a million passages a
question with one common word costs hundreds of milliseconds. tantivy (a Lucene-like engine
in Rust, through tantivy-py) keeps each posting list's block maxima and skips the blocks
that cannot reach the current top k (block-max WAND), and still returns the exact top k.

SQLite stays the one source of truth; this index is a cache of it that repairs itself:

- the database's triggers (store.schema) append the pk of every passage inserted, deleted or
  changed to `passage_changes`, inside the transaction that wrote the passage;
- `sync()` reads the changes after the last one applied and each changed passage as SQLite
  has it now, in one read snapshot, rewrites those passages here, commits, records the last
  change applied in `docqa-index.json`, and only then clears the applied changes;
- so a crash (kill -9) at any point leaves the changes it did not finish in the log, and the
  next `sync()` (on the next write, or before the next search) applies them. Applying a
  change twice is harmless because it re-reads the passage rather than replaying an
  operation; `applying` in the record says a commit may have landed unrecorded, and then
  every changed passage is deleted before it is added again.

A search first checks that the index has applied every change SQLite committed; when it has
not and cannot catch up now (another process holds tantivy's writer lock, e.g. a running
`docqa index`), it answers None and the store ranks with FTS5, which is always exact.

Passages are fed as docqa's own terms (store.terms: folded, Porter-stemmed, stopwords kept
as FTS5 keeps them, so passage lengths are FTS5's) joined by spaces, and tantivy splits them
on whitespace only: there is one tokenizer policy, and queries are the same terms.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, delete, func, select, text

from store.errors import StoreError
from store.exact_top import Statistics
from store.index_filters import STRUCTURAL_KEYS, meta_terms, terms_query, text_term
from store.schema import CHANGE_INSERT, DatabaseIdRow, PassageChangeRow, PassageRow
from store.terms import terms

logger = logging.getLogger(__name__)

# Written in the index folder; a missing or unreadable record means "rebuild".
_RECORD = "docqa-index.json"
_FORMAT = 11  # 2: the fields filters are decided on (store.index_filters); 3: words under 3 or over 64 characters unstemmed, as FTS5 leaves them; 4: meta_order; 5: stems by FTS5 itself; 6: exact lengths; 7: split_idx_start, and page and ordinal fast (== None on a column); 8: lists and dicts as terms of their JSON text; 9: text_hash; 10: values over index_filters.LONGEST as hash terms; 11: their hashes of 256 bits
# tantivy's indexing memory before it writes a segment; one thread, since the indexer's
# conversion workers already use the other cores. Flat whatever the collection's size.
_WRITER_HEAP = 64_000_000
# Inside bulk(): commit after this many changes or seconds, whichever comes first (each
# commit writes a segment and an fsync; searches meanwhile fall back to FTS5 while behind).
BULK_CHANGES = 50_000
BULK_SECONDS = 10.0
# How often the follower process (SearchIndex.bulk) looks at the log.
_FOLLOW_POLL = 0.5


class Hit(NamedTuple):
    pk: int
    score: float  # BM25, as tantivy computes it (with the length it stores: store.exact_top)
    file_id: int | None
    length: int  # in terms, exactly
    address: Any  # tantivy's, to explain its score


class Snapshot:
    """One state of the index: every search on it sees the same passages."""

    def __init__(self, index: Any, searcher: Any, schema: Any, generation: int, statistics: dict[int, tuple[float, float]]) -> None:
        self._index = index
        self._searcher = searcher
        self._schema = schema
        self._statistics = statistics  # SearchIndex's: (N, average length) by generation
        self.generation = generation  # the last database change it reflects
        self.passages: int = searcher.num_docs

    def search(
        self, stems: list[str], top_k: int, *, file_ids: Collection[int] | None = None, pks: Collection[int] | None = None, only: Any = None
    ) -> list[Hit]:
        """The `top_k` best passages for the OR of `stems`, best first.

        `file_ids` / `pks` / `only` (a query: store.index_filters) restrict the passages; each
        is applied while scoring, not after.
        """
        import tantivy

        schema = self._schema
        words = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "text", s, index_option="freq")) for s in dict.fromkeys(stems)]
        )
        restrictions = [terms_query(schema, field, values) for field, values in (("file_id", file_ids), ("pk", pks)) if values is not None]
        if only is not None:
            restrictions.append(only)
        # A constant 0: a restriction selects, it must not add to the BM25 score.
        clauses = [(tantivy.Occur.Must, words)] + [(tantivy.Occur.Must, tantivy.Query.const_score_query(r, 0.0)) for r in restrictions]
        query = words if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)
        hits = self._searcher.search(query, limit=top_k, count=False).hits
        if not hits:
            return []
        addresses = [address for _, address in hits]
        pks_found = self._searcher.fast_field_values("pk", addresses)
        files = self._searcher.fast_field_values("file_id", addresses)
        lengths = self._searcher.fast_field_values("length", addresses)
        return [Hit(pk, float(score), file_id, length, address) for (score, address), pk, file_id, length in zip(hits, pks_found, files, lengths)]

    def passing(self, pks: list[int], only: Any) -> set[int]:
        """Those of `pks` whose passages `only` (a query: store.index_filters) keeps."""
        import tantivy

        if not pks:
            return set()
        given = terms_query(self._schema, "pk", pks)
        return set(self.keeping(tantivy.Query.boolean_query([(tantivy.Occur.Must, given), (tantivy.Occur.Must, only)]), len(pks)) or ())

    def keeping(self, only: Any, most: int) -> list[int] | None:
        """The pks of the passages `only` (a query) keeps, or None when more than `most`."""
        import tantivy

        hits = self._searcher.search(tantivy.Query.const_score_query(only, 0.0), limit=most + 1, count=False).hits
        if len(hits) > most:
            return None
        return list(self._searcher.fast_field_values("pk", [address for _, address in hits]))

    def statistics(self, stems: list[str], hit: Hit) -> Statistics:
        """tantivy's BM25 statistics for a question of `stems`; `hit`: a passage holding one."""
        import tantivy

        known = self._statistics.get(self.generation)
        if known is None:
            # N and the average length, as tantivy's BM25 has them, from its explanation of a score.
            for stem in stems:
                try:
                    explanation = tantivy.Query.term_query(self._schema, "text", stem, index_option="freq").explain(self._searcher, hit.address)
                except ValueError:
                    continue  # the passage does not hold this one
                values = _explained(json.loads(explanation.to_json()))
                known = (values["N"], values["avgdl"])
                self._statistics.clear()
                self._statistics[self.generation] = known
                break
            else:
                raise StoreError(f"the search index cannot explain the score of passage {hit.pk} for {stems}")
        return Statistics(*known, {stem: int(self._searcher.doc_freq("text", stem)) for stem in stems})

    def doc_freq(self, field: str, value: str | int) -> int:
        """How many passages have `value` among the terms of `field`."""
        return int(self._searcher.doc_freq(field, value))

    def parse(self, query: str) -> Any:
        """A query in tantivy's query language (store.index_filters: its ranges over text)."""
        return self._index.parse_query(query, [])

    @property
    def schema(self) -> Any:
        return self._schema


class SearchIndex:
    """The tantivy index of the passages of the database at `db_path`, in `<db_path>.tantivy/`.

    Opening is cheap; the index is opened (or built) on first use.
    """

    def __init__(self, db_path: Path, engine: Engine) -> None:
        self.db_path = Path(db_path)
        self.folder = Path(f"{db_path}.tantivy")
        self._engine = engine
        self._index: Any = None
        self._schema: Any = None
        self._searcher: Any = None
        self._searcher_applied: int | None = None
        self._writer: Any = None  # held only inside bulk()
        self._bulk = 0
        self._follower: tuple[Any, Any] | None = None  # (process, our end of its pipe) inside bulk()
        self._bulk_started = 0.0
        self._last_sync = 0.0
        self._checked = False  # the document count was compared with SQLite's once
        self._database: str | None = None
        self._statistics: dict[int, tuple[float, float]] = {}  # Snapshot.statistics, by generation
        # One thread at a time catches up or swaps the searcher (the HTTP API serves in threads).
        self._lock = threading.RLock()

    # -- searching -------------------------------------------------------------------------

    def snapshot(self) -> Snapshot | None:
        """The index as of the last change SQLite committed (caught up first when it can);
        None when it is behind and another process holds its writer: rank another way."""
        with self._lock:
            if not self._current():
                return None
            return Snapshot(self._index, self._searcher, self._schema, self._searcher_applied or 0, self._statistics)

    def _current(self) -> bool:
        """Whether the searcher reflects every change SQLite has committed (catching up if it can)."""
        record = self._read_record()
        with self._engine.connect() as conn:
            last = _last_change(conn)
            count = None if self._checked else conn.execute(select(func.count()).select_from(PassageRow)).scalar_one()
        if record is None or record["applying"] is not None or record["applied"] != last:
            return self.sync()
        if self._searcher is None or self._searcher_applied != record["applied"]:
            try:
                self._open()
            except (OSError, ValueError) as exc:
                logger.warning("cannot open the search index %s (%s): FTS5 answers", self.folder, exc)
                return False
            self._index.reload()
            self._searcher = self._index.searcher()
            self._searcher_applied = record["applied"]
        if count is not None:
            if self._searcher.num_docs != count:
                logger.warning("the search index %s holds %d passages, the database %d: rebuilding it", self.folder, self._searcher.num_docs, count)
                return self.sync(rebuild=True)
            self._checked = True
        return True

    def check(self, sample: list[str]) -> list[str]:
        """["ok"] when, after catching up, the index holds exactly the database's passages and
        finds for each word of `sample` (folded, unstemmed: FTS5 stems it, and Porter's stemmer
        is not idempotent) exactly the passages FTS5 finds; else what differs."""
        if not self.sync() or (snapshot := self.snapshot()) is None:
            return ["the search index is being written by another process: not checked"]
        import tantivy

        searcher = snapshot._searcher

        problems = []
        with self._engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(PassageRow)).scalar_one()
            if searcher.num_docs != count:
                problems.append(f"the search index holds {searcher.num_docs} passages, the database {count}")
            for word in sample:
                fts = set(conn.execute(text("SELECT rowid FROM passages_fts WHERE passages_fts MATCH :q"), {"q": f'"{word}"'}).scalars())
                stem = terms(word)[0]
                query = tantivy.Query.term_query(self._schema, "text", stem, index_option="freq")
                hits = searcher.search(query, limit=max(count, 1), count=False).hits
                ours = set(searcher.fast_field_values("pk", [a for _, a in hits]))
                if ours != fts:
                    problems.append(f"{word!r}: the search index finds {len(ours)} passages, FTS5 {len(fts)} ({len(ours ^ fts)} differ)")
        return problems or ["ok"]

    # -- keeping up with SQLite ------------------------------------------------------------

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Hold the writer and commit every BULK_CHANGES changes or BULK_SECONDS (and at the end),
        instead of after every transaction: many small files indexed in a row.

        When a batch falls due after BULK_SECONDS of the block (or at BULK_CHANGES changes), a
        process of its own (the follower, _follow) takes the writer over and applies the log in
        such batches until the block ends: stemming the passages and feeding tantivy then run
        beside the database's writes instead of between them (in `docqa index` the one Python
        thread writing the database is the bottleneck: bench/throughput.py)."""
        self._bulk += 1
        if self._bulk == 1:
            self._bulk_started = time.monotonic()
        try:
            yield
        finally:
            self._bulk -= 1
            if self._bulk == 0:
                try:
                    self._stop_follower()
                    self.sync()
                finally:
                    writer, self._writer = self._writer, None
                    if writer is not None:
                        writer.wait_merging_threads()  # let the segments merge before letting go

    def after_write(self) -> None:
        """Called after each committed write transaction of the store."""
        if self._bulk:
            if self._follower is not None:
                if self._follower[0].is_alive():
                    return  # it applies the log
                self._stop_follower()  # it died: this process takes the writer back
            now, pending = time.monotonic(), self._pending()
            if now - self._last_sync < BULK_SECONDS and pending < BULK_CHANGES:
                return
            # A long run (a batch due after BULK_SECONDS of it or BULK_CHANGES changes): the
            # follower takes over. A short one never pays for starting it.
            if (now - self._bulk_started >= BULK_SECONDS or pending >= BULK_CHANGES) and self._start_follower():
                return
        self.sync()

    def _start_follower(self) -> bool:
        import multiprocessing

        with self._lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.wait_merging_threads()  # the follower takes the writer over
            context = multiprocessing.get_context("spawn")
            ours, its = context.Pipe()
            process = context.Process(
                target=_follow, args=(str(self.db_path), its, BULK_CHANGES, BULK_SECONDS), name="docqa-search-index", daemon=True
            )
            try:
                process.start()
            except OSError as exc:
                logger.warning("cannot start the search index's follower (%s): the indexing process applies the log itself", exc)
                return False
            its.close()
            self._follower = (process, ours)
            logger.info("the search index %s is kept up by a process of its own (pid %d) until this run ends", self.folder, process.pid)
            return True

    def _stop_follower(self) -> None:
        """Tell the follower to apply what is left and wait for it to let the writer go."""
        if self._follower is None:
            return
        process, ours = self._follower
        self._follower = None
        ours.close()  # it wakes on the closed pipe, as it would if this process died
        process.join()
        if process.exitcode != 0:
            logger.warning("the search index's follower exited with %s: applying the log here", process.exitcode)

    def sync(self, *, rebuild: bool = False) -> bool:
        """Apply every change SQLite has committed that this index lacks; False when another
        process holds the writer (that one applies them, or the next sync does)."""
        with self._lock:
            try:
                return self._sync(rebuild=rebuild)
            except (OSError, ValueError) as exc:  # tantivy reports I/O errors as ValueError
                # The database has every change and its log keeps them: nothing is lost, and
                # FTS5 answers until a sync succeeds.
                self._writer = None
                logger.warning("cannot update the search index %s (%s): FTS5 answers until it can", self.folder, exc)
                return False

    def _sync(self, *, rebuild: bool) -> bool:
        writer = self._writer or self._take_writer()
        if writer is None:
            return False
        try:
            applied = self._apply(writer, rebuild=rebuild)
        finally:
            if self._bulk:
                self._writer = writer
            else:
                self._writer = None
                writer.wait_merging_threads()
        self._last_sync = time.monotonic()
        try:
            with self._engine.connect() as conn, conn.begin():
                # Only after the record is written: a crash before this leaves changes that
                # are applied again, harmlessly.
                conn.execute(delete(PassageChangeRow).where(PassageChangeRow.id <= applied))
        except StoreError as exc:  # a read-only database: the next writer clears them
            logger.debug("applied changes left in the log of %s: %s", self.folder, exc)
        self._index.reload()
        self._searcher = self._index.searcher()
        self._searcher_applied = applied
        with self._engine.connect() as conn:
            self._checked = self._searcher.num_docs == conn.execute(select(func.count()).select_from(PassageRow)).scalar_one() or self._checked
        return True

    def _apply(self, writer: Any, *, rebuild: bool) -> int:
        record = self._read_record()
        with self._engine.connect() as conn:
            # One read transaction: the changes, the passages and the last change id are one
            # snapshot of the database.
            conn.execute(text("SELECT 1"))
            last = _last_change(conn)
            # applied -1: a rebuild was interrupted.
            if record is None or rebuild or record["applied"] < 0 or record["applied"] > last:
                logger.info("building the search index %s from the database", self.folder)
                self._write_record(applied=-1, applying=last)
                writer.delete_all_documents()
                rows = conn.execute(select(*_INDEXED).order_by(PassageRow.pk))
            else:
                since = record["applied"]
                window = (PassageChangeRow.id > since) & (PassageChangeRow.id <= last)
                replay = record["applying"] is not None
                # A passage only ever inserted in the window cannot be in the index (its pk was
                # free at `since`), unless an unrecorded commit already added it.
                delete_all = replay
                changed = conn.execute(
                    select(PassageChangeRow.pk, func.max(PassageChangeRow.op != CHANGE_INSERT)).where(window).group_by(PassageChangeRow.pk)
                ).all()
                if not changed and not replay:
                    self._write_record(applied=last, applying=None)
                    return last
                self._write_record(applied=since, applying=last)
                for pk, removed in changed:
                    if removed or delete_all:
                        writer.delete_documents_by_term("pk", pk)
                in_window = select(PassageChangeRow.pk).where(window)
                rows = conn.execute(select(*_INDEXED).where(PassageRow.pk.in_(in_window)).order_by(PassageRow.pk))
            for row in rows:
                writer.add_document(_document(row))
        writer.commit()
        self._write_record(applied=last, applying=None)
        return last

    def _pending(self) -> int:
        record = self._read_record()
        with self._engine.connect() as conn:
            last = _last_change(conn)
        return last - (record["applied"] if record else -1)

    # -- files -------------------------------------------------------------------------------

    def _open(self) -> None:
        if self._index is not None:
            return
        import tantivy

        builder = tantivy.SchemaBuilder()
        # freq, not positions: BM25 needs term frequencies only, and positions would double the index.
        builder.add_text_field("text", tokenizer_name="whitespace", index_option="freq")
        builder.add_integer_field("pk", indexed=True, fast=True)
        builder.add_integer_field("file_id", indexed=True, fast=True)
        # A passage's length in terms: tantivy's BM25 keeps it in one byte, rounded (store.exact_top).
        builder.add_integer_field("length", fast=True)
        # What Haystack filters most often name (store.index_filters): indexed for equality,
        # counts and the ranges read from postings; fast for "== None" (has a passage a value at
        # all?) and the ranges read from the column (index_filters._COLUMN_RANGES).
        builder.add_integer_field("page", indexed=True, fast=True)
        builder.add_integer_field("ordinal", indexed=True, fast=True)
        builder.add_integer_field("start", indexed=True, fast=True)
        builder.add_text_field("meta_terms", tokenizer_name="raw", index_option="basic")
        builder.add_text_field("meta_order", tokenizer_name="raw", index_option="basic")
        # `content ==`: a bucket of a hash of the text, which SQLite checks (index_filters.text_term).
        builder.add_text_field("text_hash", tokenizer_name="raw", index_option="basic")
        self._schema = builder.build()
        self.folder.mkdir(exist_ok=True)
        try:
            self._index = tantivy.Index(self._schema, path=str(self.folder))
        except (OSError, ValueError) as exc:
            # An index of another schema or a damaged one: it is only a cache of the database.
            logger.warning("cannot open the search index %s (%s): building it again", self.folder, exc)
            for child in self.folder.iterdir():
                child.unlink()
            self._index = tantivy.Index(self._schema, path=str(self.folder))
        self._index.config_reader(reload_policy="Manual")

    def _take_writer(self) -> Any:
        self._open()
        try:
            return self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        except ValueError as exc:
            if "lock" not in str(exc).lower():
                raise
            logger.debug("the search index %s is being written by another process", self.folder)
            return None

    def _read_record(self) -> dict[str, Any] | None:
        """What the index has applied, or None when it must be built (no record, a damaged
        one, or one made for another database at this path)."""
        try:
            record = json.loads((self.folder / _RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("format") != _FORMAT or record.get("database") != self._database_id():
            return None
        return record

    def _write_record(self, *, applied: int, applying: int | None) -> None:
        # Written whole and renamed over the old one: a crash leaves the old or the new record.
        path = self.folder / _RECORD
        temporary = path.with_suffix(".tmp")
        record = {"format": _FORMAT, "database": self._database_id(), "applied": applied, "applying": applying}
        temporary.write_text(json.dumps(record), encoding="utf-8")
        os.replace(temporary, path)

    def _database_id(self) -> str:
        if self._database is None:
            with self._engine.connect() as conn:
                self._database = conn.execute(select(DatabaseIdRow.uuid)).scalar_one()
        return self._database


def _follow(db_path: str, parent: Any, changes: int, seconds: float) -> None:
    """The follower process of SearchIndex.bulk(): apply the log every `changes` changes or
    `seconds` (the indexing process's BULK_CHANGES and BULK_SECONDS), and once more when the
    indexing process closes its end of `parent` or dies (kill -9 closes it too)."""
    import signal

    from store.schema import open_engine

    # Ctrl-C reaches the whole process group: the indexing process decides when to stop, and
    # then this one applies what was committed (the log keeps it either way).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engine = open_engine(Path(db_path), create=False)
    index = SearchIndex(Path(db_path), engine)
    try:
        with index.bulk():
            applied = time.monotonic()
            while not parent.poll(_FOLLOW_POLL):
                if time.monotonic() - applied >= seconds or index._pending() >= changes:
                    index.sync()
                    applied = time.monotonic()
    finally:
        engine.dispose()


_INDEXED = (PassageRow.pk, PassageRow.file_id, PassageRow.page, PassageRow.ordinal, PassageRow.start, PassageRow.meta, PassageRow.text)


def _document(row: Any) -> Any:
    import tantivy

    document = tantivy.Document()
    document.add_integer("pk", row.pk)
    if row.file_id is not None:
        # An indexed passage: its structural keys are columns, its JSON holds the user's keys.
        document.add_integer("file_id", row.file_id)
        for field, value in (("page", row.page), ("ordinal", row.ordinal), ("start", row.start)):
            if value is not None:
                document.add_integer(field, value)
    if row.meta:
        for field, term in meta_terms(row.meta, STRUCTURAL_KEYS if row.file_id is not None else ()):
            document.add_text(field, term)
    document.add_text("text_hash", text_term(row.text))
    words = terms(row.text)
    document.add_integer("length", len(words))
    document.add_text("text", " ".join(words))
    return document


def _explained(node: dict[str, Any]) -> dict[str, float]:
    """The values of an explanation's "N, ..." and "avgdl, ..." nodes, found anywhere in it."""
    found: dict[str, float] = {}
    description = node.get("description", "")
    if description.startswith(("N,", "avgdl,")):
        found[description.split(",")[0]] = float(node["value"])
    for child in node.get("details", []):
        found.update(_explained(child))
    return found


def _last_change(conn: Any) -> int:
    """The id of the last change committed (AUTOINCREMENT's counter: it survives the log being cleared)."""
    seq = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'passage_changes'")).scalar()
    return int(seq or 0)

