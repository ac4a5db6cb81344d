"""Restrictions of several selectivities against the unrestricted query, on a database
`bench/scale.py` built (its SQuAD questions, top 20, median ms after a warm-up).

    python bench/filters.py DB [--questions 150] [--below 500,100,20,2] [--start-below N,...] [--globs '*/synthetic-000*,...'] [--meta] [--cold]

Haystack metadata filters `meta.split_id < N` (one per --below), the same filter asked once and
then for every question (docqa remembers how much of its probe a filter passed: see
store.document_store) and as a new filter for every question; the same for
`meta.split_idx_start < N` (one per --start-below, none by default); then `--file` globs (one
per --globs). The share of passages each keeps is printed beside it.

--cold (root only): before each row, empties the kernel's page cache and reads the search index's
files back, as a server that has answered questions holds its index but not the rows of a
database larger than its memory; every passage read from SQLite then comes from disk.

--meta: filters on the passages' JSON (a number, a date, also with one passage dated 'now',
written for those rows and deleted after them), `file_path` orderings, `page_number` None or
not, `id`, and `content` (equal to a passage's text, a different one for each question; in 50
texts; equal to 'x'; not empty). A database without
those keys gets them first: it CHANGES THE DATABASE (run it on a copy): every passage's meta
becomes {"year": 1900..2019, "published": a date of 2000..2019}, spread by a hash of its pk,
and the search index beside it is removed, to be built again from SQLite on the first question.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1-public.json"


def main() -> None:
    import numpy as np

    from pipeline.evaluate import load_squad
    from store.document_store import SQLiteDocumentStore

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db")
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--below", default="500,100,20,2")
    parser.add_argument("--start-below", default="", help="bounds on split_idx_start ('' for none)")
    parser.add_argument("--meta", action="store_true", help="also JSON and id filters (changes a database without them: see above)")
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each row (root only: see above)")
    parser.add_argument("--globs", default="*/synthetic-00[0-4]*,*/synthetic-00[0-2]*,*/synthetic-000*,*/synthetic-0000*", help="--file patterns ('' for none)")
    args = parser.parse_args()
    questions_all, _ = load_squad(SQUAD)
    rng = np.random.default_rng(0)
    questions = [questions_all[i].question for i in sorted(rng.choice(len(questions_all), args.questions, replace=False))]
    if args.meta:
        add_meta(Path(args.db))
    store = SQLiteDocumentStore(args.db, create=False)
    counts = sqlite3.connect(args.db)
    total = counts.execute("SELECT count(*) FROM passages").fetchone()[0]

    def medians_ms(restrict: Callable[[int], dict]) -> tuple[float, float]:  # type: ignore[type-arg]
        """Median ms unrestricted and restricted (`restrict(n)` for the n-th question), each
        question asked both ways in turn, so that a change in the machine's load falls on both
        alike."""
        if args.cold:
            cold(Path(args.db))
        store.bm25_retrieval(questions[0], 20)  # warm
        store.bm25_retrieval(questions[0], 20, **restrict(-1))
        plain, filtered = [], []
        for n, q in enumerate(questions):
            for times, restriction in ((plain, {}), (filtered, restrict(n))):
                started = time.perf_counter()
                store.bm25_retrieval(q, 20, **restriction)
                times.append(time.perf_counter() - started)
        return 1000 * statistics.median(plain), 1000 * statistics.median(filtered)

    def row(name: str, kept: int, restrict: Callable[[int], dict]) -> None:  # type: ignore[type-arg]
        plain, filtered = medians_ms(restrict)
        print(f"| {name} | {100 * kept / total:.1f}% | {plain:.1f} | {filtered:.1f} | {filtered / plain:.2f} |", flush=True)

    print(f"{total:,} passages, {len(questions)} questions, top 20")
    print("| restriction | share of passages | unrestricted median ms | restricted median ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for below in (int(b) for b in args.below.split(",")):
        kept = counts.execute("SELECT count(*) FROM passages WHERE ordinal < ?", (below,)).fetchone()[0]
        below_filter = {"field": "meta.split_id", "operator": "<", "value": below}
        row(f"meta.split_id < {below}", kept, lambda n: {"filters": below_filter})
        # The same passages, but a filter never asked before for each question (a condition
        # that keeps every passage, on a new value each time): what the first question with a
        # filter costs.
        row(f"meta.split_id < {below}, a new filter each question", kept, lambda n: {
            "filters": {"operator": "AND", "conditions": [below_filter, {"field": "meta.split_id", "operator": "!=", "value": -2 - n}]}
        })
    for below in (int(b) for b in filter(None, args.start_below.split(","))):
        kept = counts.execute("SELECT count(*) FROM passages WHERE start < ?", (below,)).fetchone()[0]
        start_filter = {"field": "meta.split_idx_start", "operator": "<", "value": below}
        row(f"meta.split_idx_start < {below}", kept, lambda n: {"filters": start_filter})
        row(f"meta.split_idx_start < {below}, a new filter each question", kept, lambda n: {
            "filters": {"operator": "AND", "conditions": [start_filter, {"field": "meta.split_idx_start", "operator": "!=", "value": -2 - n}]}
        })
    if args.meta:
        store.bm25_retrieval(questions[0], 20)  # (re)builds the search index: not timed
        for name, sql, filters in (
            ("meta.year >= 2019", "json_extract(meta, '$.year') >= 2019", {"field": "meta.year", "operator": ">=", "value": 2019}),
            ("meta.year >= 2000", "json_extract(meta, '$.year') >= 2000", {"field": "meta.year", "operator": ">=", "value": 2000}),
            ("meta.year >= 1960", "json_extract(meta, '$.year') >= 1960", {"field": "meta.year", "operator": ">=", "value": 1960}),
            ("meta.published < 2000-02-20", "julianday(json_extract(meta, '$.published')) < julianday('2000-02-20')",
             {"field": "meta.published", "operator": "<", "value": "2000-02-20"}),
            ("meta.published < 2004-01-01", "julianday(json_extract(meta, '$.published')) < julianday('2004-01-01')",
             {"field": "meta.published", "operator": "<", "value": "2004-01-01"}),
        ):
            kept = counts.execute(f"SELECT count(*) FROM passages WHERE {sql}").fetchone()[0]
            row(name, kept, lambda n, filters=filters: {"filters": filters})
            row(f"{name}, a new filter each question", kept, lambda n, filters=filters: {
                "filters": {"operator": "AND", "conditions": [filters, {"field": "meta.year", "operator": "!=", "value": -2 - n}]}
            })
        # Paths are not dates: julianday() of each is NULL, and text is greater than any number.
        for name, kept, filters in (
            ("meta.file_path > '2020-01-01'", 0, {"field": "meta.file_path", "operator": ">", "value": "2020-01-01"}),
            ("meta.file_path > 5", total, {"field": "meta.file_path", "operator": ">", "value": 5}),
        ):
            row(name, kept, lambda n, filters=filters: {"filters": filters})
        # A date of 'now' on the key makes every date filter on it read the clock: translated
        # again for each question. One such passage, removed after these rows.
        from haystack import Document

        store.write_documents([Document(id="bench-filters-now", content="a passage dated now", meta={"published": "now"})])
        try:
            for name, sql, filters in (
                ("meta.published < 2000-02-20", "julianday(json_extract(meta, '$.published')) < julianday('2000-02-20')",
                 {"field": "meta.published", "operator": "<", "value": "2000-02-20"}),
                ("meta.published < 2004-01-01", "julianday(json_extract(meta, '$.published')) < julianday('2004-01-01')",
                 {"field": "meta.published", "operator": "<", "value": "2004-01-01"}),
                ("meta.published > 2010-01-01", "julianday(json_extract(meta, '$.published')) > julianday('2010-01-01')",
                 {"field": "meta.published", "operator": ">", "value": "2010-01-01"}),
            ):
                kept = counts.execute(f"SELECT count(*) FROM passages WHERE {sql}").fetchone()[0]
                row(f"{name}, a passage holds 'now'", kept, lambda n, filters=filters: {"filters": filters})
        finally:
            store.delete_documents(["bench-filters-now"])
        null_page = "(file_id IS NULL AND json_extract(meta, '$.page_number') IS NULL) OR (file_id IS NOT NULL AND page IS NULL)"
        for operator, sql in (("==", null_page), ("!=", f"NOT ({null_page})")):
            kept = counts.execute(f"SELECT count(*) FROM passages WHERE {sql}").fetchone()[0]
            row(f"meta.page_number {operator} None", kept, lambda n, operator=operator: {
                "filters": {"field": "meta.page_number", "operator": operator, "value": None}})
        ids = [i for (i,) in counts.execute("SELECT id FROM passages ORDER BY pk % 9973, pk LIMIT 50")]
        row("id in 50 ids", 50, lambda n: {"filters": {"field": "id", "operator": "in", "value": ids}})
        row("id not in 50 ids", total - 50, lambda n: {"filters": {"field": "id", "operator": "not in", "value": ids}})
        # content: equality through the index's bucket of each text's hash, SQLite comparing that bucket's texts.
        texts = [t for (t,) in counts.execute("SELECT text FROM passages ORDER BY pk % 9973, pk LIMIT 50")]
        for name, filters in (
            ("content == a passage's text", lambda n: {"field": "content", "operator": "==", "value": texts[n % len(texts)]}),
            ("content in 50 passages' texts", lambda n: {"field": "content", "operator": "in", "value": texts}),
            ("content == 'x'", lambda n: {"field": "content", "operator": "==", "value": "x"}),
            ("content != ''", lambda n: {"field": "content", "operator": "!=", "value": ""}),
        ):
            value = filters(0)["value"]
            kept = counts.execute(
                "SELECT count(*) FROM passages WHERE text " + ("IN (SELECT value FROM json_each(?))" if isinstance(value, list) else "!= ?" if "!=" in name else "= ?"),
                (json.dumps(value) if isinstance(value, list) else value,),
            ).fetchone()[0]
            row(name, kept, lambda n, filters=filters: {"filters": filters(n)})
    for glob in filter(None, args.globs.split(",")):
        kept = counts.execute("SELECT count(*) FROM passages JOIN files ON files.id = passages.file_id WHERE files.path GLOB ?", (glob,)).fetchone()[0]
        row(f"--file '{glob}'", kept, lambda n: {"paths": [glob]})


def cold(db: Path) -> None:
    """Empties the page cache, then reads the search index's files into it again."""
    import os

    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("1\n")
    for path in Path(f"{db}.tantivy").iterdir():
        if path.is_file():
            path.read_bytes()


def add_meta(db: Path) -> None:
    """Gives every passage of `db` a year and a date in its JSON meta, unless they have them,
    and removes the search index so that it is built again with them (a change of `meta`
    alone is not in the log the index follows: docqa replaces a passage, never edits it)."""
    import shutil

    connection = sqlite3.connect(db)
    if connection.execute("SELECT json_extract(meta, '$.year') FROM passages LIMIT 1").fetchone()[0] is not None:
        return
    print(f"adding meta.year and meta.published to the passages of {db}", file=sys.stderr)
    with connection:
        connection.execute(
            "UPDATE passages SET meta = json_object('year', 1900 + (pk * 2654435761) % 120,"
            " 'published', date('2000-01-01', '+' || ((pk * 40503) % 7300) || ' days'))"
        )
    connection.close()
    shutil.rmtree(f"{db}.tantivy", ignore_errors=True)


if __name__ == "__main__":
    main()
