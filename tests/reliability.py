"""Shared checks for the reliability tests and scripts: what a consistent database means."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path


def _is_empty(conn: sqlite3.Connection) -> bool:
    # SQLite creates the file before the indexer's schema transaction commits: a database
    # seen (or killed) in between has no tables yet, and nothing indexed in it.
    return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every indexed file's passages (ordinal, page, start, text), by path."""
    with closing(sqlite3.connect(db)) as conn:
        if _is_empty(conn):
            return {}
        rows = conn.execute(
            "SELECT f.path, p.ordinal, p.page, p.start, p.text FROM passages p JOIN files f ON f.id = p.file_id "
            "WHERE f.status = 'indexed' ORDER BY f.path, p.ordinal"
        ).fetchall()
    out: dict[str, list[tuple]] = {}
    for path, *rest in rows:
        out.setdefault(path, []).append(tuple(rest))
    return out


def consistency_problems(db: Path, reference: dict[str, list[tuple]]) -> list[str]:
    """What is wrong with `db`: corruption, FTS out of step, or a file whose passages are not
    exactly those of the uninterrupted reference build (a half-indexed file). [] when fine."""
    problems = []
    with closing(sqlite3.connect(db)) as conn:
        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            problems.append(f"integrity_check: {integrity[:3]}")
        if _is_empty(conn):
            return problems
        try:
            # With rank 1, FTS5 also checks its index against the passages table.
            conn.execute("INSERT INTO passages_fts(passages_fts, rank) VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            problems.append(f"FTS5 index out of step: {exc}")
        orphans = conn.execute("SELECT count(*) FROM passages WHERE file_id NOT IN (SELECT id FROM files)").fetchone()[0]
        if orphans:
            problems.append(f"{orphans} passages without a file")
        failed_with_passages = conn.execute(
            "SELECT count(*) FROM passages p JOIN files f ON f.id = p.file_id WHERE f.status = 'failed'"
        ).fetchone()[0]
        if failed_with_passages:
            problems.append(f"{failed_with_passages} passages of failed files")
    for path, passages in snapshot(db).items():
        if reference.get(path) != passages:
            problems.append(f"{path}: passages differ from the reference build")
    return problems
