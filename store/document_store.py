"""SQLiteDocumentStore: Haystack's DocumentStore protocol, plus file-level writes for indexing.

Passages are `haystack.Document`s. Haystack is imported on first use (through
store.haystack_compat), so opening a store and checking files for changes stays cheap. An indexed passage's `meta` carries `file_path`,
`file_id`, `page_number`, `split_id` and `split_idx_start` (kept in columns, so they can be
filtered and joined) plus any user metadata; a document written through the protocol keeps
its `meta` exactly as given. Every write is one transaction, and the FTS5 index follows the
passages table through triggers inside it; the tantivy index beside the database
(store.search_index) catches up after each write (or in batches, inside `bulk()`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    bindparam,
    case,
    delete,
    func,
    insert,
    column,
    literal,
    literal_column,
    or_,
    select,
    table,
    update,
)
from store.errors import SQLITE_MAX_INT, SQLITE_MIN_INT, DatabaseMissingError, check_count, check_sqlite_int
from store.records import Failure, FileInfo, FileRecord, FileState, StoreStats

if TYPE_CHECKING:
    from haystack import Document
    from haystack.document_stores.types import DuplicatePolicy

    from store.index_filters import Translated
from store.schema import FileRow, PassageRow, integrity_check, open_engine
from store.search_index import Hit, SearchIndex, Snapshot

# Ids per `IN (...)`: well under SQLite's limit on bound parameters.
_ID_CHUNK = 10_000
# Passages per INSERT when a file's passages arrive as a stream.
_INSERT_BATCH = 1_000
# Restrictions (filters, --file) that may keep many passages are first checked on this many x
# top_k of the best passages without them; at 5, one that keeps a third of the passages or
# more is nearly always answered by that first query (bench/retrieval.py).
_PROBE = 5
# A file restriction holding more than this share of the passages is probed first; a smaller
# one goes straight into tantivy's query, where it costs less the less it selects.
_BROAD = 0.3
# A filter tantivy can apply goes straight into its query when it keeps under this share (by
# the index's counts, or of its last probe); a broader one is probed on enough passages that
# about 3 x top_k of them pass, up to _PROBE_MOST x top_k (a top 500 costs 1.2x a top 20).
_NARROW = 0.1
_PROBE_MOST = 25
# tantivy's candidates for the exact top k (_exact_search) grow to at most this x top_k.
_EXACT_MOST = 32
# --file selections remembered per store.
_SELECTIONS = 64


@dataclasses.dataclass
class _FilterPlan:
    generation: int  # the database change it was made at
    translated: Translated | None  # the filter as a tantivy query (store.index_filters), bounds on what it keeps
    check: Any  # the filter as SQL on given passages (_check_statement): one statement, compiled once
    share: float | None = None  # of the probe that passed it, the last time one was made

    @property
    def query(self) -> Any:
        """The filter as a tantivy query, or None where SQLite decides it."""
        return None if self.translated is None else self.translated.query

# meta keys that indexed passages keep in columns rather than in the JSON `meta` column.
_STRUCTURAL = {
    "file_id": PassageRow.file_id,
    "page_number": PassageRow.page,
    "split_id": PassageRow.ordinal,
    "split_idx_start": PassageRow.start,
}

# meta keys of indexed passages that are the indexer's, kept neither in `meta` nor as filter fields.
_INDEXER_KEYS = {"file_path", "next_page_spans"}


class SQLiteDocumentStore:
    """A Haystack DocumentStore over one SQLite file (WAL mode, FTS5 index over passages).

    `create=False` refuses to create a missing database (for commands that only read).
    """

    def __init__(self, path: str | os.PathLike[str] = "docqa.db", *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise DatabaseMissingError(f"no database at {self.path}: run `docqa index PATH` first (or pass --db)")
        self._engine: Engine = open_engine(self.path, create=create)
        # Document frequency of index terms, for max_postings planning; fts5vocab counts a
        # common term's documents by reading its whole posting list, so counts are kept
        # (a little staleness only shifts which words a query leaves out).
        self._frequency: dict[str, int] = {}
        self._search = SearchIndex(self.path, self._engine)
        # --file selections resolved to file ids, by the database change they were resolved at.
        self._selections: dict[tuple[Any, ...], tuple[int, set[int], int]] = {}
        # Haystack filters (with their restriction to files) as last asked: what they
        # translate to and the share of the probe that passed them (_tantivy_retrieval).
        self._filter_plans: dict[tuple[Any, ...], _FilterPlan] = {}

    # -- Haystack DocumentStore protocol -------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        from store.haystack_compat import default_to_dict

        return default_to_dict(self, path=str(self.path))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SQLiteDocumentStore:
        from store.haystack_compat import default_from_dict

        return default_from_dict(cls, data)

    def count_documents(self) -> int:
        with self._engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(PassageRow)).scalar_one()

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """Documents matching Haystack `filters`, in the order they were written."""
        query = self._select_documents()
        if filters:
            from store.filters import to_sql

            query = query.where(to_sql(filters, _resolve_field))
        with self._engine.connect() as conn:
            return [_to_document(row) for row in conn.execute(query.order_by(PassageRow.pk))]

    def bm25_retrieval(
        self,
        query: str,
        top_k: int = 10,
        filters: dict[str, Any] | None = None,
        *,
        paths: list[str] | None = None,
        file_ids: list[int] | None = None,
        max_postings: int | None = None,
        engine: str = "tantivy",
    ) -> list[Document]:
        """The `top_k` passages that best match the words of `query`, best first.

        BM25 (k1 = 1.2, b = 0.75) over the question's non-stopword words, OR-ed, with
        docqa's one tokenizer policy (store.terms); each Document's score is its BM25 score,
        higher is better. `filters` are Haystack filters; `paths` are glob patterns on the
        file path (any may match); `file_ids` restrict to those files.

        `engine` "tantivy" (the default) ranks with the index beside the database
        (store.search_index): the exact top k, skipping the passages that cannot reach it.
        Its IDF is Lucene's ln(1 + (N - n + 0.5) / (n + 0.5)), FTS5's the same without the
        1 +, so a word in most passages still counts a little; for the rare words that carry
        a question the two agree to a few hundredths of a point. While that index is behind
        the database and another process is writing it, FTS5 answers instead (exact too).

        `engine` "fts5" ranks with FTS5's bm25() (Robertson's BM25; the score is -bm25()).
        FTS5 scores every passage that holds any query word, so a word found in a large
        share of a big collection dominates the cost while adding little to the ranking (its
        IDF is small). With `max_postings` (fts5 only), the words are taken rarest first
        while the passages holding them add up to at most that many (the rarest word
        always), and the rest are left out of the query. Collections where the words'
        postings stay under the budget are ranked exactly.
        """
        from store.terms import match_expression, query_words

        check_sqlite_int("top_k", check_count("top_k", top_k))
        for file_id in file_ids or ():
            check_sqlite_int("file_ids", file_id)
        if engine not in ("tantivy", "fts5"):
            raise ValueError(f"engine must be 'tantivy' or 'fts5', got {engine!r}")
        if engine == "tantivy" and max_postings is not None:
            raise ValueError("max_postings applies to engine 'fts5' only: tantivy ranks with every word at no extra cost")
        condition = None
        if filters:
            from store.filters import to_sql

            condition = to_sql(filters, _resolve_field)  # a malformed filter fails the same way on either engine
        words = query_words(query)
        if engine == "tantivy":
            found = self._tantivy_retrieval(words, top_k, filters or None, condition, paths, file_ids)
            if found is not None:
                return found
        elif max_postings is not None and len(words) > 1:
            words = self._within_postings(words, max_postings)
        expression = match_expression(words)
        if expression is None:
            return []
        fts = table("passages_fts", column("rowid"), column("rank"))
        matches = literal_column("passages_fts").op("MATCH")(expression)
        conditions = [] if condition is None else [condition]
        if paths:
            conditions.append(or_(*(FileRow.path.op("GLOB")(pattern) for pattern in paths)))
        if file_ids is not None:
            conditions.append(PassageRow.file_id.in_(file_ids))
        if conditions:
            # Filters must be applied before the cut to top_k, so the join drives the query.
            ranked = (
                select(fts.c.rowid, fts.c.rank)
                .select_from(fts.join(PassageRow, PassageRow.pk == fts.c.rowid).outerjoin(FileRow, FileRow.id == PassageRow.file_id))
                .where(matches, *conditions)
            )
        else:
            ranked = select(fts.c.rowid, fts.c.rank).where(matches)
        # `rank` is FTS5's bm25() by default; ordering by it lets FTS5 keep only the best k.
        best = ranked.order_by(fts.c.rank).limit(top_k).subquery()
        query_ = (
            self._select_documents()
            .add_columns((-best.c.rank).label("score"))
            .join(best, best.c.rowid == PassageRow.pk)
            .order_by(best.c.rank, PassageRow.pk)
        )
        with self._engine.connect() as conn:
            return [_to_document(row, score=row.score) for row in conn.execute(query_)]

    def _tantivy_retrieval(
        self,
        words: list[str],
        top_k: int,
        filters: dict[str, Any] | None,
        condition: ColumnElement[bool] | None,
        paths: list[str] | None,
        file_ids: list[int] | None,
    ) -> list[Document] | None:
        """bm25_retrieval by the tantivy index; None when it is behind and cannot catch up now.
        `condition`: the Haystack `filters` as SQL (store.filters.to_sql), or None.

        A restriction to files (`paths`, `file_ids`; the files table is small) goes into
        tantivy's query as a set of file ids, applied while scoring: cheap when it selects
        few passages. One that selects many (over _BROAD of them) is first tried on the best
        _PROBE x top_k passages without it: when at least `top_k` of those pass they are the
        answer, since whatever ranks below them cannot come first. Haystack filters may name
        any passage's metadata: on the probe's passages tantivy decides those that translate
        to its fields (store.index_filters) and SQLite the others; when too few pass, tantivy
        applies them while scoring where they translate, and otherwise SQLite decides them on
        every passage, whose pks then restrict tantivy's query. A filter tantivy can apply
        skips the probe when the index's counts show it keeps under _NARROW of the passages,
        or it passed under _NARROW of the probe the last time it was asked (the same
        restriction, the same database); a broader one is probed on enough passages for about
        3 x top_k to pass.
        What a filter translates to is kept until the database changes.
        """
        from store.terms import terms

        stems = list(dict.fromkeys(stem for word in words for stem in terms(word)))
        if not stems:
            return []
        snapshot = self._search.snapshot()
        if snapshot is None:
            return None
        if not (condition is not None or paths or file_ids is not None):
            return self._documents_by_pk(self._exact_search(snapshot, stems, top_k))
        only_files = None
        broad = True
        if paths or file_ids is not None:
            only_files, passages = self._files_selected(paths, file_ids, snapshot.generation)
            if not only_files:
                return []
            broad = passages > _BROAD * snapshot.passages
        plan = None
        if filters is not None:
            key = (json.dumps(filters, sort_keys=True, default=repr), tuple(paths or ()), None if file_ids is None else tuple(file_ids))
            plan = self._filter_plans.get(key)
            if plan is None or plan.generation != snapshot.generation or (plan.translated is not None and plan.translated.reads_clock):
                from store.index_filters import Translator

                if len(self._filter_plans) >= _SELECTIONS:
                    self._filter_plans.clear()
                translated = Translator(snapshot, self._file_ids_with_path, self._file_ids_ordered, self._pks_with_id, self._pks_passing).query(filters)
                plan = self._filter_plans[key] = _FilterPlan(snapshot.generation, translated, _check_statement(condition))
        probe = step = _PROBE * top_k
        if broad and plan is not None and plan.translated is not None:
            # Only a plan: either way the answer is exact (bench/filters.py for the costs).
            # The share it keeps: of the last probe, else the least the index's counts allow.
            share = plan.share if plan.share is not None else plan.translated.least / max(snapshot.passages, 1)
            if plan.translated.most < _NARROW * snapshot.passages or (plan.share is not None and share < _NARROW):
                broad = False
            elif share >= _NARROW:
                probe = min(_PROBE_MOST * top_k, max(probe, math.ceil(3 * top_k / share)))
                # The probe is checked a chunk at a time: one chunk holds top_k passing at this share.
                step = min(probe, math.ceil(1.5 * top_k / share))
        only = None if plan is None else plan.query
        if broad:
            found = self._probe(snapshot, stems, top_k, probe, step, only_files, plan)
            if found is not None:
                return found
        pks = None
        if only is not None:
            return self._documents_by_pk(self._exact_search(snapshot, stems, top_k, file_ids=only_files, only=only))
        if condition is not None:
            with self._engine.connect() as conn:
                query = select(PassageRow.pk).select_from(_PASSAGES_WITH_FILES).where(condition)
                if only_files is not None:
                    query = query.where(PassageRow.file_id.in_(only_files))
                pks = list(conn.execute(query).scalars())
            if not pks:
                return []
        return self._documents_by_pk(self._exact_search(snapshot, stems, top_k, file_ids=only_files, pks=pks))

    def _exact_search(self, snapshot: Snapshot, stems: list[str], top_k: int, **restrictions: Any) -> list[Hit]:
        """BM25's exact top `top_k` among tantivy's passages (store.exact_top): tantivy's best
        2 x top_k, and 4 times as many while the band of scores its rounded lengths leave
        uncertain reaches their last; from _EXACT_MOST x top_k on, what ranks below them is
        left out."""
        limit = 2 * top_k
        while True:
            hits = snapshot.search(stems, limit, **restrictions)
            complete = len(hits) < limit or limit >= _EXACT_MOST * top_k
            best = self._exact_top(snapshot, stems, hits, top_k, None if complete else hits[-1].score, None)
            if best is not None:
                return best
            limit *= 4

    def _exact_top(
        self, snapshot: Snapshot, stems: list[str], hits: list[Hit], top_k: int, beyond: float | None, rows: dict[int, Any] | None
    ) -> list[Hit] | None:
        """store.exact_top.exact_top over `hits`, with the texts it asks for from `rows` where
        the probe's check read them, else from SQLite (pk and text only: a tenth of the cost of
        reading the whole rows, which only the top_k returned need)."""
        from store.exact_top import exact_top

        if not hits:
            return None if beyond is not None else []

        def texts(pks: list[int]) -> dict[int, str]:
            if rows is not None:
                return {pk: rows[pk].text for pk in pks if pk in rows}
            with self._engine.connect() as conn:
                return dict(conn.execute(_TEXTS, {"pks": json.dumps(pks)}).all())

        return exact_top(hits, top_k, beyond, snapshot.statistics(stems, hits[0]), texts)

    def _files_selected(self, paths: list[str] | None, file_ids: list[int] | None, generation: int) -> tuple[set[int], int]:
        """The ids of the files that `paths` (globs, any may match) and `file_ids` select, and
        how many passages they hold; kept until the database next changes (a question asked
        again with the same --file costs no SQL)."""
        key = (tuple(paths or ()), None if file_ids is None else tuple(file_ids))
        cached = self._selections.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1], cached[2]
        query = select(FileRow.id)
        if paths:
            query = query.where(or_(*(FileRow.path.op("GLOB")(pattern) for pattern in paths)))
        if file_ids is not None:
            query = query.where(FileRow.id.in_(file_ids))
        with self._engine.connect() as conn:
            ids = set(conn.execute(query).scalars())
            passages = conn.execute(select(func.count()).select_from(PassageRow).where(PassageRow.file_id.in_(query))).scalar_one() if ids else 0
        if len(self._selections) >= _SELECTIONS:
            self._selections.clear()
        self._selections[key] = (generation, ids, passages)
        return ids, passages

    def _file_ids_with_path(self, paths: list[str]) -> list[int]:
        return self._keys_where(FileRow.id, FileRow.path, paths)

    def _file_ids_ordered(self, operator: str, value: Any) -> tuple[list[int], list[int], bool]:
        """The ids of the files whose path compares with `value` as the filter
        `meta.file_path <operator> value` compares an indexed passage's, the ids of the
        others, and whether a path read the clock (julianday('now'))."""
        from store.filters import to_sql

        # CASE, as in _resolve_field: an expression without the column's TEXT affinity, which
        # would turn a number compared with it into text.
        path = case((FileRow.id.is_(None), None), else_=FileRow.path)
        condition = to_sql({"field": "meta.file_path", "operator": operator, "value": value}, lambda _: path)
        kept: list[int] = []
        others: list[int] = []
        clock = False
        with self._engine.connect() as conn:
            for file_id, passes, now in conn.execute(select(FileRow.id, condition, func.lower(FileRow.path) == "now")):
                (kept if passes else others).append(file_id)
                clock |= bool(now)
        return kept, others, clock and isinstance(value, str)

    def _pks_with_id(self, ids: list[str]) -> list[int]:
        return self._keys_where(PassageRow.pk, PassageRow.id, ids)

    def _pks_passing(self, pks: list[int], filters: dict[str, Any]) -> list[int]:
        """Those of `pks` whose passages `filters` keep."""
        from store.filters import to_sql

        query = select(PassageRow.pk).select_from(_PASSAGES_WITH_FILES).where(_GIVEN, to_sql(filters, _resolve_field))
        with self._engine.connect() as conn:
            return list(conn.execute(query, {"pks": json.dumps(pks)}).scalars())

    def _keys_where(self, key: Any, column: Any, values: list[str]) -> list[int]:
        """`key` of the rows whose `column` is one of `values` (an indexed column: SQL in chunks)."""
        keys: list[int] = []
        with self._engine.connect() as conn:
            for i in range(0, len(values), _ID_CHUNK):
                keys.extend(conn.execute(select(key).where(column.in_(values[i : i + _ID_CHUNK]))).scalars())
        return keys

    def _probe(
        self, snapshot: Snapshot, stems: list[str], top_k: int, probe: int, step: int, only_files: set[int] | None, plan: _FilterPlan | None
    ) -> list[Document] | None:
        """The exact top_k of the unrestricted ranking's best `probe` passages that are in
        `only_files` and pass the plan's filter, or None when too few pass; the filter is decided
        on `step` of them at a time. Where the passages that pass leave the cut in doubt
        (store.exact_top), the probe grows 4-fold, up to _PROBE_MOST x top_k.

        tantivy decides a filter it translates (Snapshot.passing), and only the answer's rows
        are read: SQLite's check reads the row of every passage probed, from disk once the page
        cache no longer holds them (bench/filters.py --cold: 28.8 ms against 7.1 for the
        question unfiltered at a million passages). SQLite decides the others, reading the rows
        the answer needs in the same statement."""
        only = None if plan is None else plan.query
        check = None if plan is None or only is not None else plan.check
        limit, ranked = probe, snapshot.search(stems, probe)
        kept: list[Hit] = []
        rows: dict[int, Any] | None = None if check is None else {}
        checked = 0
        while True:
            chunk = [hit for hit in ranked[checked : checked + step] if only_files is None or hit.file_id in only_files]
            checked = min(len(ranked), checked + step)
            if only is not None and chunk:
                passing = snapshot.passing([hit.pk for hit in chunk], only)
                chunk = [hit for hit in chunk if hit.pk in passing]
            elif rows is not None and chunk:
                with self._engine.connect() as conn:
                    rows.update((row.pk, row) for row in conn.execute(check, {"pks": json.dumps([hit.pk for hit in chunk])}))
                chunk = [hit for hit in chunk if hit.pk in rows]
            kept.extend(chunk)
            if plan is not None and checked:
                plan.share = len(kept) / checked
            more = len(ranked) == limit  # passages past the probe, each scoring at most its last
            if len(kept) >= top_k or checked == len(ranked):
                beyond = ranked[checked].score if checked < len(ranked) else ranked[-1].score if more else None
                best = self._exact_top(snapshot, stems, kept, top_k, beyond, rows)
                if best is not None:
                    return self._documents_by_pk(best, rows)
            if checked == len(ranked):
                if len(kept) < top_k or not more or limit >= _PROBE_MOST * top_k:
                    return None
                limit = min(4 * limit, _PROBE_MOST * top_k)
                first = {hit.pk for hit in ranked}
                ranked = snapshot.search(stems, limit)
                if {hit.pk for hit in ranked[:checked]} != first:
                    return None  # ties ordered otherwise this time: the restricted query decides

    def _documents_by_pk(self, ranked: list[Hit], rows: dict[int, Any] | None = None) -> list[Document]:
        """Documents for tantivy's hits, in their order; a passage deleted meanwhile is left out.
        `rows`: those already read; the others are read here."""
        if not ranked:
            return []
        rows = dict(rows or {})
        missing = [hit.pk for hit in ranked if hit.pk not in rows]
        if missing:
            rows.update(self._rows_by_pk(missing))
        return [_to_document(rows[hit.pk], score=hit.score) for hit in ranked if hit.pk in rows]

    def _rows_by_pk(self, pks: list[int]) -> dict[int, Any]:
        with self._engine.connect() as conn:
            return {row.pk: row for row in conn.execute(_ROWS, {"pks": json.dumps(pks)})}

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Many writes in a row (an indexing run): the tantivy index catches up in batches and
        at the end of the block rather than after every transaction. A crash inside it loses
        nothing: what the index missed is in SQLite's change log, applied on the next open."""
        with self._search.bulk():
            yield

    def _within_postings(self, words: list[str], budget: int) -> list[str]:
        """`words` rarest first, as many as keep their postings within `budget` (at least one)."""
        from store.terms import terms

        stems = {w: (terms(w) or [w])[0] for w in words}
        missing = {stem for stem in stems.values() if stem not in self._frequency}
        if missing:
            with self._engine.connect() as conn:
                # fts5vocab reads document frequencies from the index; a temp table, so the
                # database file is not changed.
                conn.exec_driver_sql("CREATE VIRTUAL TABLE IF NOT EXISTS temp.passages_vocab USING fts5vocab(main, passages_fts, 'row')")
                for stem in missing:
                    found = conn.exec_driver_sql("SELECT doc FROM temp.passages_vocab WHERE term = ?", (stem,)).scalar()
                    self._frequency[stem] = found or 0
                conn.rollback()
        frequency = self._frequency
        ranked = sorted(words, key=lambda w: frequency[stems[w]])
        kept, total = [ranked[0]], frequency[stems[ranked[0]]]
        for word in ranked[1:]:
            total += frequency[stems[word]]
            if total > budget:
                break
            kept.append(word)
        return kept

    @staticmethod
    def check_filters(filters: dict[str, Any]) -> None:
        """Raise Haystack's FilterError when `filters` is malformed (without running a query)."""
        from store.filters import to_sql

        to_sql(filters, _resolve_field)

    def write_documents(self, documents: list[Document], policy: DuplicatePolicy | None = None) -> int:
        """Write documents in one transaction; NONE (the default) behaves as FAIL. Returns how many were written."""
        from store.haystack_compat import Document, DuplicateDocumentError, DuplicatePolicy

        policy = DuplicatePolicy.NONE if policy is None else policy
        if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
            raise ValueError("write_documents() expects a list of haystack.Document")
        with self._write() as conn:
            ids = [d.id for d in documents]
            existing: set[str] = set()
            for i in range(0, len(ids), _ID_CHUNK):
                chunk = ids[i : i + _ID_CHUNK]
                existing.update(conn.execute(select(PassageRow.id).where(PassageRow.id.in_(chunk))).scalars())
            rows, seen = [], set()
            for doc in documents:
                if doc.id in existing or doc.id in seen:
                    if policy == DuplicatePolicy.SKIP:
                        continue
                    if policy in (DuplicatePolicy.NONE, DuplicatePolicy.FAIL):
                        raise DuplicateDocumentError(f"a document with id {doc.id!r} is already in the store")
                    conn.execute(delete(PassageRow).where(PassageRow.id == doc.id))
                seen.add(doc.id)
                rows.append(_protocol_row(doc))
            if rows:
                conn.execute(insert(PassageRow), rows)
        return len(rows)

    def delete_documents(self, document_ids: list[str]) -> None:
        with self._write() as conn:
            conn.execute(delete(PassageRow).where(PassageRow.id.in_(document_ids)))

    # -- indexing: files and their passages ----------------------------------------------

    def file_states(self) -> dict[str, FileState]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(FileRow.id, FileRow.path, FileRow.sha256, FileRow.splitter, FileRow.status))
            return {r.path: FileState(r.id, r.path, r.sha256, r.splitter, r.status) for r in rows}

    def save_file(
        self, file: FileInfo, pages: int | None, passages: Iterable[Document], *, splitter: str | None = None
    ) -> int:
        """Record `file` as indexed with exactly `passages`, replacing what it had, atomically.

        Each passage's meta must hold page_number, split_id and split_idx_start; user keys
        other than the structural ones are kept. `passages` may be a generator (a huge file
        is written as it is read, a batch at a time); if it raises, nothing is written.
        Returns the file's id.
        """
        with self._write() as conn:
            file_id = self._upsert_file(conn, file, pages=pages, splitter=splitter, status="indexed", error=None)
            conn.execute(delete(PassageRow).where(PassageRow.file_id == file_id))
            stream = iter(passages)
            while batch := [_passage_row(doc, file_id) for doc in itertools.islice(stream, _INSERT_BATCH)]:
                conn.execute(insert(PassageRow), batch)
        return file_id

    def save_failure(self, file: FileInfo, error: str, *, splitter: str | None = None) -> None:
        """Record that `file` could not be indexed, and drop any passages an earlier version left."""
        with self._write() as conn:
            file_id = self._upsert_file(conn, file, pages=None, splitter=splitter, status="failed", error=error)
            conn.execute(delete(PassageRow).where(PassageRow.file_id == file_id))

    def remove_files(self, paths: Iterable[str]) -> int:
        """Forget files (and their passages); returns how many were known."""
        paths = list(paths)
        if not paths:
            return 0
        with self._write() as conn:
            ids = list(conn.execute(select(FileRow.id).where(FileRow.path.in_(paths))).scalars())
            conn.execute(delete(PassageRow).where(PassageRow.file_id.in_(ids)))
            conn.execute(delete(FileRow).where(FileRow.id.in_(ids)))
        return len(ids)

    def list_files(self, offset: int = 0, limit: int | None = 50, status: str | None = None) -> tuple[list[FileRecord], int]:
        """A page of files by path (`limit` None: all), only those of `status` when given, and how many there are in all."""
        check_sqlite_int("offset", offset)
        if limit is not None:
            check_sqlite_int("limit", limit)
        where = [] if status is None else [FileRow.status == status]
        with self._engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(FileRow).where(*where)).scalar_one()
            rows = conn.execute(self._select_files().where(*where).order_by(FileRow.path).offset(offset).limit(limit))
            return [_to_file_record(r) for r in rows], total

    def count_files_matching(self, patterns: Iterable[str]) -> int:
        """How many files (indexed or failed) have a path matching one of the glob `patterns` (SQLite GLOB)."""
        with self._engine.connect() as conn:
            matching = or_(*(FileRow.path.op("GLOB")(pattern) for pattern in patterns))
            return conn.execute(select(func.count()).select_from(FileRow).where(matching)).scalar_one()

    def get_file(self, file_id: int) -> FileRecord | None:
        return self._one_file(FileRow.id == check_sqlite_int("file_id", file_id))

    def get_file_by_path(self, path: str) -> FileRecord | None:
        return self._one_file(FileRow.path == path)

    def get_indexed_file_by_sha256(self, sha256: str) -> FileRecord | None:
        """An indexed file with exactly this content, if there is one."""
        return self._one_file((FileRow.sha256 == sha256) & (FileRow.status == "indexed"))

    def _one_file(self, condition: ColumnElement[bool]) -> FileRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(self._select_files().where(condition)).first()
            return _to_file_record(row) if row is not None else None

    def has_passages(self) -> bool:
        """Whether any passage is stored (cheaper than counting them on a large database)."""
        with self._engine.connect() as conn:
            return conn.execute(select(PassageRow.pk).limit(1)).first() is not None

    def file_passages(self, file_id: int) -> list[Document]:
        """The passages of one file, in order."""
        check_sqlite_int("file_id", file_id)
        with self._engine.connect() as conn:
            rows = conn.execute(self._select_documents().where(PassageRow.file_id == file_id).order_by(PassageRow.ordinal))
            return [_to_document(row) for row in rows]

    def delete_file(self, file_id: int) -> bool:
        """Forget one file and its passages; False when there is no such file."""
        check_sqlite_int("file_id", file_id)
        with self._write() as conn:
            if conn.execute(select(FileRow.id).where(FileRow.id == file_id)).first() is None:
                return False
            conn.execute(delete(PassageRow).where(PassageRow.file_id == file_id))
            conn.execute(delete(FileRow).where(FileRow.id == file_id))
        return True

    def stats(self) -> StoreStats:
        with self._engine.connect() as conn:
            files = conn.execute(select(FileRow.status, func.count(), func.sum(FileRow.pages)).group_by(FileRow.status))
            by_status = {r[0]: (r[1], r[2] or 0) for r in files}
            passages = conn.execute(select(func.count()).select_from(PassageRow)).scalar_one()
            failures = [
                Failure(r.path, r.error or "")
                for r in conn.execute(select(FileRow.path, FileRow.error).where(FileRow.status == "failed").order_by(FileRow.path))
            ]
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        return StoreStats(
            files=by_status.get("indexed", (0, 0))[0],
            failed=by_status.get("failed", (0, 0))[0],
            passages=passages,
            pages=by_status.get("indexed", (0, 0))[1],
            failures=failures,
            size_bytes=size,
        )

    def integrity_check(self) -> list[str]:
        """["ok"] when SQLite's and the FTS5 index's integrity checks both pass."""
        return integrity_check(self._engine)

    def search_index_check(self, sample: int = 50) -> list[str]:
        """["ok"] when the tantivy index beside the database holds exactly its passages (after
        catching up), checked by count and by the passages of `sample` of their terms."""
        from store.terms import words

        with self._engine.connect() as conn:
            texts = conn.execute(select(PassageRow.text).order_by(func.random()).limit(sample)).scalars()
            sample_words = sorted({word for t in texts for word in words(t)[:3]})
        return self._search.check(sample_words[:sample])

    def close(self) -> None:
        self._engine.dispose()

    # -- internals -----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction, holding SQLite's write lock from its first statement."""
        with self._engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            yield conn
        self._frequency.clear()
        self._search.after_write()

    @staticmethod
    def _upsert_file(
        conn: Connection, file: FileInfo, *, pages: int | None, splitter: str | None, status: str, error: str | None
    ) -> int:
        values = dict(
            splitter=splitter,
            sha256=file.sha256,
            size=file.size,
            mtime=file.mtime,
            pages=pages,
            status=status,
            error=error,
            indexed_at=datetime.now(timezone.utc),
        )
        file_id = conn.execute(select(FileRow.id).where(FileRow.path == file.path)).scalar()
        if file_id is None:
            return conn.execute(insert(FileRow).values(path=file.path, **values).returning(FileRow.id)).scalar_one()
        conn.execute(update(FileRow).where(FileRow.id == file_id).values(**values))
        return file_id

    @staticmethod
    def _select_files() -> Any:
        count = select(func.count()).where(PassageRow.file_id == FileRow.id).scalar_subquery()
        return select(
            FileRow.id, FileRow.path, FileRow.status, FileRow.error, FileRow.pages, FileRow.size, FileRow.sha256,
            FileRow.indexed_at, count.label("passages"),
        )

    @staticmethod
    def _select_documents() -> Any:
        return select(
            PassageRow.id,
            PassageRow.text,
            PassageRow.meta,
            PassageRow.embedding,
            PassageRow.file_id,
            PassageRow.page,
            PassageRow.ordinal,
            PassageRow.start,
            PassageRow.next_page_spans,
            FileRow.path,
        ).select_from(PassageRow.__table__.outerjoin(FileRow.__table__))


_PASSAGES_WITH_FILES = PassageRow.__table__.outerjoin(FileRow.__table__)

# Statements over the passages whose pks are given as one JSON array (parameter `pks`): one
# compiled statement for any number of them (an IN list is rendered again for each count:
# 0.56 against 0.26 ms for the rows of 20 passages).
_GIVEN = PassageRow.pk.in_(select(func.json_each(bindparam("pks")).table_valued("value").c.value))
_TEXTS = select(PassageRow.pk, PassageRow.text).where(_GIVEN)
_ROWS = SQLiteDocumentStore._select_documents().add_columns(PassageRow.pk).where(_GIVEN)


def _check_statement(condition: ColumnElement[bool] | None) -> Any:
    """The rows (_ROWS) of the passages among `pks` that satisfy `condition`: one statement
    both decides the filter and reads what the answer needs (a second one cost 0.5 ms of a
    3 ms question). Kept per filter, so SQLAlchemy compiles it once (0.4 → 0.2 ms for 100)."""
    return _ROWS if condition is None else _ROWS.where(condition)


def _resolve_field(name: str) -> ColumnElement[Any]:
    if name == "id":
        return PassageRow.id.expression
    if name == "content":
        return PassageRow.text.expression
    if not name.startswith("meta."):
        from store.haystack_compat import FilterError

        raise FilterError(f"unknown filter field {name!r}: use 'id', 'content' or 'meta.<key>'")
    key = name[len("meta.") :]
    if '"' in key or "\x00" in key:
        # A quoted label ends at '"', and a NUL makes SQLite refuse the path ("JSON path error").
        from store.haystack_compat import FilterError

        raise FilterError(f"filter field {name!r}: a metadata key holding '\"' or a NUL character cannot be filtered on (SQLite's JSON paths cannot name it)")
    from store.index_filters import json_path  # the one spelling of a key's path, shared with the index

    in_json = func.json_extract(PassageRow.meta, literal(json_path(key.split("."))))
    if key == "file_path":
        column: ColumnElement[Any] = FileRow.path.expression
    elif key in _STRUCTURAL:
        column = _STRUCTURAL[key].expression
    else:
        return in_json
    return case((PassageRow.file_id.is_(None), in_json), else_=column)


def _protocol_row(doc: Document) -> dict[str, Any]:
    meta = doc.meta or {}
    try:
        # Python writes NaN and infinity as JSON it cannot read back, nor SQLite (every filter
        # over such a passage would fail with "malformed JSON"): refused before anything is written.
        json.dumps([meta, doc.embedding], allow_nan=False, default=lambda _: None)
    except ValueError:
        raise ValueError(
            f"document {doc.id!r}: its meta or embedding holds NaN or infinity, which JSON cannot hold; store such a value as a string or None"
        ) from None
    return dict(
        id=doc.id,
        file_id=None,
        ordinal=_column_int(meta.get("split_id")),
        page=_column_int(meta.get("page_number")),
        start=_column_int(meta.get("split_idx_start")),
        end=None,
        text=doc.content or "",
        meta=meta,
        embedding=doc.embedding,
    )


def _column_int(value: Any) -> int | None:
    # A protocol document's structural keys are copied to columns only when SQLite can hold
    # them; its `meta` (JSON) keeps every value as given, and filters on it read the JSON.
    if isinstance(value, int) and SQLITE_MIN_INT <= value <= SQLITE_MAX_INT:
        return value
    return None


def _passage_row(doc: Document, file_id: int) -> dict[str, Any]:
    meta = doc.meta
    start = meta["split_idx_start"]
    text = doc.content or ""
    return dict(
        id=doc.id,
        file_id=file_id,
        ordinal=meta["split_id"],
        page=meta["page_number"],
        start=start,
        end=start + len(text),
        text=text,
        meta={k: v for k, v in meta.items() if k not in _STRUCTURAL and k not in _INDEXER_KEYS},
        embedding=doc.embedding,
        next_page_spans=meta.get("next_page_spans"),
    )


def _to_file_record(row: Any) -> FileRecord:
    return FileRecord(
        id=row.id, path=row.path, status=row.status, error=row.error, pages=row.pages, passages=row.passages,
        size=row.size, sha256=row.sha256, indexed_at=row.indexed_at.isoformat(),
    )


def _to_document(row: Any, score: float | None = None) -> Document:
    from store.haystack_compat import Document

    meta = dict(row.meta or {})
    if row.file_id is not None:
        meta.update(
            file_path=row.path,
            file_id=row.file_id,
            page_number=row.page,
            split_id=row.ordinal,
            split_idx_start=row.start,
        )
        if row.next_page_spans:
            meta["next_page_spans"] = row.next_page_spans
    return Document(id=row.id, content=row.text, meta=meta, embedding=row.embedding, score=score)
