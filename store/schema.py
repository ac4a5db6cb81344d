"""The database schema: tables, the FTS5 index, pragmas and the schema version.

One SQLite file holds everything. `files` knows each indexed (or failed) file by path and
content hash; `passages` holds the passages with their character span in the file's
extracted text; `passages_fts` is an external-content FTS5 index over passage text, kept in
step with `passages` by triggers, so every write to `passages` updates it inside the same
transaction and the two can never disagree after a crash. Triggers also log every changed
passage in `passage_changes`, in the same transaction: the tantivy index beside the database
(store.search_index) applies and clears that log, so it can always tell what it has missed.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Engine,
    ForeignKey,
    Index,
    MetaData,
    create_engine,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.errors import SchemaVersionError, StoreError
from store.sqlite_errors import BUSY_TIMEOUT_S, as_store_error

# Bumped whenever a database stops being readable by the docqa releases before it; recorded
# in `PRAGMA user_version`. Compatible changes (every release of the version still reads and
# writes the database correctly) keep the version and are applied in place when a database
# is opened: see _upgrade().
SCHEMA_VERSION = 1
# Marks a file as a docqa database (`PRAGMA application_id`), so that pointing --db at some
# other SQLite file fails clearly instead of adding tables to it. ASCII "dqa1".
APPLICATION_ID = 0x64716131

# porter: English stemming, so "indexing" matches "indexed"; remove_diacritics 2 so that
# "Amazonia" matches "Amazonía". The query side (pipeline's retriever) relies on the same
# tokenizer, which is what keeps indexing and querying consistent.
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"


class Base(DeclarativeBase):
    pass


class FileRow(Base):
    __tablename__ = "files"
    # AUTOINCREMENT: a deleted file's id is never handed out again, so a client holding an
    # old id (the HTTP API's /documents/{id}) cannot read or delete another file with it.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(unique=True)
    sha256: Mapped[str | None]
    size: Mapped[int | None]
    mtime: Mapped[float | None]
    pages: Mapped[int | None]
    # How the file was split (ingest's settings); a file split otherwise is re-indexed.
    splitter: Mapped[str | None]
    status: Mapped[str]  # "indexed" or "failed"
    error: Mapped[str | None]
    indexed_at: Mapped[datetime]


class PassageRow(Base):
    __tablename__ = "passages"

    # INTEGER PRIMARY KEY is SQLite's rowid: the key the FTS5 index refers to.
    pk: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[str] = mapped_column(unique=True)  # the haystack.Document id
    # NULL for documents written through the DocumentStore protocol rather than by indexing.
    file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    ordinal: Mapped[int | None]  # split_id: position of the passage in its file
    page: Mapped[int | None]  # 1-based page of the passage's first character; NULL for text
    start: Mapped[int | None]  # split_idx_start: offset in the file's extracted text
    end: Mapped[int | None]
    text: Mapped[str]
    # For indexed passages: user metadata only (the structural keys live in columns above).
    # For protocol documents: their whole `meta`, as given.
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    embedding: Mapped[list[float] | None] = mapped_column(JSON)
    # [[start, end], ...] of the text printed on the page after the passage's next form feed
    # (ingest.converted.Converted.next_page_spans); NULL when there is none.
    next_page_spans: Mapped[list[list[int]] | None] = mapped_column(JSON(none_as_null=True))

    __table_args__ = (Index("passages_file_ordinal", "file_id", "ordinal"),)


# passage_changes.op: what happened to the passage (store.search_index deletes a passage from
# its index before adding it again only when it may be there).
CHANGE_INSERT, CHANGE_DELETE, CHANGE_UPDATE = 0, 1, 2


class PassageChangeRow(Base):
    """A passage written or deleted since the search index beside the database last caught up."""

    __tablename__ = "passage_changes"
    # AUTOINCREMENT: ids only grow, even after the log is cleared, so "the last change applied"
    # is a position in the database's history (sqlite_sequence holds the last one).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    pk: Mapped[int]  # passages.pk, not a foreign key: a deleted passage's change must stay
    op: Mapped[int]


class DatabaseIdRow(Base):
    """One row: a random id given to the database when it is made, so that the index beside it
    can tell its own database from another one made at the same path since."""

    __tablename__ = "database_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str]


# Every column the search index holds (store.search_index._document): an update of any of
# them, by docqa or by another tool, is a change the index must apply.
_CHANGES_UPDATE_DDL = f"""CREATE TRIGGER passage_changes_au AFTER UPDATE OF text, file_id, meta, page, ordinal ON passages BEGIN
        INSERT INTO passage_changes(pk, op) VALUES (new.pk, {CHANGE_UPDATE});
    END"""
_CHANGES_DDL = [
    f"""CREATE TRIGGER passage_changes_ai AFTER INSERT ON passages BEGIN
        INSERT INTO passage_changes(pk, op) VALUES (new.pk, {CHANGE_INSERT});
    END""",
    f"""CREATE TRIGGER passage_changes_ad AFTER DELETE ON passages BEGIN
        INSERT INTO passage_changes(pk, op) VALUES (old.pk, {CHANGE_DELETE});
    END""",
    _CHANGES_UPDATE_DDL,
]

_FTS_DDL = [
    f"""CREATE VIRTUAL TABLE passages_fts USING fts5(
        text, content='passages', content_rowid='pk', tokenize='{FTS_TOKENIZER}')""",
    """CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN
        INSERT INTO passages_fts(rowid, text) VALUES (new.pk, new.text);
    END""",
    """CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN
        INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.pk, old.text);
    END""",
    """CREATE TRIGGER passages_au AFTER UPDATE OF text ON passages BEGIN
        INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.pk, old.text);
        INSERT INTO passages_fts(rowid, text) VALUES (new.pk, new.text);
    END""",
]


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself: the sqlite3 module's implicit
    # transactions start late (at the first write) and would break one-transaction-per-file.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Wait for a concurrent writer instead of failing with "database is locked".
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys = ON")
    # In WAL mode NORMAL still never corrupts the database, and a killed process loses no
    # committed transaction; only a power cut can lose the last commits. It saves an fsync
    # per committed file.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _on_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout rather
    # than deadlocking when both try to upgrade a read transaction.
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def open_engine(path: Path, *, create: bool) -> Engine:
    """Open (and with `create`, initialise) the database at `path`.

    Raises SchemaVersionError for a database of another schema version and StoreError for a
    file that is not a docqa database.
    """
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    event.listen(engine, "handle_error", lambda context: as_store_error(path, context.original_exception))
    try:
        _check_or_create(engine, path, create=create)
    except StoreError:
        engine.dispose()
        raise
    except Exception as exc:
        engine.dispose()
        error = as_store_error(path, exc)
        if error is not None:
            raise error from exc
        cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the sqlite3 error
        raise StoreError(f"cannot open database {path}: {cause}") from exc
    return engine


def _check_or_create(engine: Engine, path: Path, *, create: bool) -> None:
    with engine.connect() as conn:
        # Pragmas through the DBAPI connection: they must not open a transaction, and
        # journal_mode cannot change inside one.
        raw = conn.connection.dbapi_connection
        assert raw is not None
        # One statement, so one snapshot: read one by one, they could straddle another
        # process's schema commit (no tables yet, then tables but version 0).
        tables, version, app_id, files_sql, has_database_id, has_next_page_spans, update_sql = raw.execute(
            "SELECT (SELECT count(*) FROM sqlite_master), (SELECT user_version FROM pragma_user_version), "
            "(SELECT application_id FROM pragma_application_id), "
            "(SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'files'), "
            "(SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'database_id'), "
            "(SELECT count(*) FROM pragma_table_info('passages') WHERE name = 'next_page_spans'), "
            "(SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'passage_changes_au')"
        ).fetchone()
        if tables == 0 and version == 0:
            if not create:
                raise StoreError(f"{path} is an empty database: run `docqa index PATH` first")
            _create(conn)
            return
        if app_id != APPLICATION_ID:
            raise StoreError(f"{path} is an SQLite database but not a docqa one: point --db at another file")
        if version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{path} has schema version {version}, this docqa reads version {SCHEMA_VERSION}: "
                f"index into a new database (--db NEW.db) or use the docqa release that wrote it"
            )
        if not _never_reuses_ids(files_sql):
            _upgrade(conn)
        if not has_database_id:
            _add_change_log(conn)
        elif update_sql != _CHANGES_UPDATE_DDL:
            _widen_update_trigger(conn)
        if not has_next_page_spans:
            _add_next_page_spans(conn)


def _create(conn: Any) -> None:
    raw = conn.connection.dbapi_connection
    # WAL lets readers (docqa ask, the HTTP API) run while an indexer writes; it is a
    # property of the file, so setting it once at creation is enough.
    _switch_to_wal(raw)
    # IMMEDIATE, and a second look inside the transaction: two processes opening a new
    # database at once must not both create the tables.
    with conn.execution_options(sqlite_begin="IMMEDIATE").begin():
        if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
            return
        Base.metadata.create_all(conn)
        for ddl in _FTS_DDL + _CHANGES_DDL:
            conn.exec_driver_sql(ddl)
        conn.execute(DatabaseIdRow.__table__.insert().values(id=1, uuid=uuid.uuid4().hex))
        conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _never_reuses_ids(files_sql: str | None) -> bool:
    return files_sql is not None and "AUTOINCREMENT" in files_sql.upper()


def _upgrade(conn: Any) -> None:
    """Give `files` AUTOINCREMENT in a database made before it had it, keeping every row.

    SQLite cannot add AUTOINCREMENT to a table, so the table is rebuilt (SQLite's documented
    procedure, https://www.sqlite.org/lang_altertable.html#otheralter): a new table, the rows
    copied with their ids, the old one dropped, the new one renamed. Foreign keys are off
    meanwhile, or dropping `files` would cascade to every passage; `passages` and its FTS5
    index are not touched. The copied ids seed AUTOINCREMENT's counter, so new ids start
    above the highest existing one (an id deleted above it before the upgrade can come back
    once). One IMMEDIATE transaction with a second look inside it: two processes opening
    the database at once upgrade it once, and a crash leaves it as it was. Releases before
    the upgrade read and write the upgraded table as they did.
    """
    raw = conn.connection.dbapi_connection
    raw.execute("PRAGMA foreign_keys = OFF")  # only outside a transaction does this take effect
    try:
        with conn.execution_options(sqlite_begin="IMMEDIATE").begin():
            files_sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'files'").scalar()
            if _never_reuses_ids(files_sql):
                return
            new = FileRow.__table__.to_metadata(MetaData(), name="files_upgrade")
            new.create(conn)
            columns = ", ".join(f'"{c.name}"' for c in FileRow.__table__.columns)
            conn.exec_driver_sql(f"INSERT INTO files_upgrade ({columns}) SELECT {columns} FROM files")
            conn.exec_driver_sql("DROP TABLE files")
            conn.exec_driver_sql("ALTER TABLE files_upgrade RENAME TO files")
            problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise StoreError(f"cannot upgrade the files table: {len(problems)} passages would lose their file (PRAGMA foreign_key_check)")
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def _add_next_page_spans(conn: Any) -> None:
    """Give `passages` of a database made before it the next_page_spans column, in place.

    Compatible: releases before it write passages without it (NULL: no text of a next page),
    and the rows already there keep NULL until their file is indexed again. One IMMEDIATE
    transaction with a second look inside it, as _upgrade().
    """
    with conn.execution_options(sqlite_begin="IMMEDIATE").begin():
        if not conn.exec_driver_sql("SELECT count(*) FROM pragma_table_info('passages') WHERE name = 'next_page_spans'").scalar():
            conn.exec_driver_sql("ALTER TABLE passages ADD COLUMN next_page_spans JSON")


def _widen_update_trigger(conn: Any) -> None:
    """Log updates of `meta`, `page` and `ordinal` too, in a database whose change log logged
    only `text` and `file_id` (what docqa itself updates: it replaces a passage, never edits
    it), so that a tool editing metadata in place reaches the search index. Compatible with
    the releases before; one IMMEDIATE transaction with a second look inside it, as _upgrade()."""
    with conn.execution_options(sqlite_begin="IMMEDIATE").begin():
        current = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'passage_changes_au'").scalar()
        if current == _CHANGES_UPDATE_DDL:
            return
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS passage_changes_au")
        conn.exec_driver_sql(_CHANGES_UPDATE_DDL)


def _add_change_log(conn: Any) -> None:
    """Give a database made before the search index its change log, in place.

    Compatible: releases before it write passages as they did, and the triggers log their
    writes too. The log starts empty, and an index with no record of what it applied is
    built from the passages (store.search_index), so nothing written before is missed. One
    IMMEDIATE transaction with a second look inside it, as _upgrade().
    """
    with conn.execution_options(sqlite_begin="IMMEDIATE").begin():
        if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 'database_id'").scalar():
            return
        if not conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 'passage_changes'").scalar():
            PassageChangeRow.__table__.create(conn)
            for ddl in _CHANGES_DDL:
                conn.exec_driver_sql(ddl)
        # Last, and in the same transaction: its presence says the rest is there.
        DatabaseIdRow.__table__.create(conn)
        conn.execute(DatabaseIdRow.__table__.insert().values(id=1, uuid=uuid.uuid4().hex))


def _switch_to_wal(raw: sqlite3.Connection) -> None:
    # When two processes create one database at once, both switch it to WAL, and SQLite
    # answers one of them SQLITE_BUSY at once instead of calling the busy handler (waiting
    # could deadlock). The pragma is idempotent, so that one tries again: by then the file
    # is in WAL mode and the switch is a no-op.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            raw.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def integrity_check(engine: Engine) -> list[str]:
    """SQLite's integrity check plus the FTS5 index's own; ["ok"] when all is well."""
    with engine.connect() as conn:
        rows = [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]
        conn.execute(text("INSERT INTO passages_fts(passages_fts, rank) VALUES ('integrity-check', 1)"))
        conn.rollback()
    return rows
