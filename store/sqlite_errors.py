"""SQLite's failures as StoreErrors whose messages name the database, the cause and the fix.

Installed on every engine (schema.open_engine) through SQLAlchemy's handle_error event, so
a full disk or a read-only file reads the same whichever statement meets it. Errors that
are docqa's own business (constraint violations, SQL mistakes) pass through unchanged.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from store.errors import StoreError

# How long a connection waits for another process's write lock (schema.open_engine sets
# SQLite's busy_timeout from it) before "database is locked".
BUSY_TIMEOUT_S = 30

# SQLite rolls the failed transaction back: nothing committed before it is lost.
_KEPT = "what was written before is kept and the database is unharmed"


def as_store_error(path: Path, error: BaseException) -> StoreError | None:
    """The StoreError that explains `error` (a sqlite3 error, possibly wrapped), or None."""
    cause = getattr(error, "orig", None) or error
    if not isinstance(cause, sqlite3.Error):
        return None
    name = getattr(cause, "sqlite_errorname", "") or ""
    detail = f"{cause}, {name}" if name else str(cause)
    if name.startswith("SQLITE_READONLY") or "readonly database" in str(cause) or (name.startswith("SQLITE_CANTOPEN") and _read_only(path)):
        return StoreError(
            f"cannot write to database {path} ({detail}): it is read-only here, and docqa needs write access to the "
            f"file and to its folder (SQLite keeps -wal and -shm files beside it); fix the permissions, or copy it somewhere writable"
        )
    if name == "SQLITE_FULL":
        return StoreError(f"cannot write to database {path}: the disk is full ({detail}); {_KEPT}. Free some space and run the command again")
    if name.startswith("SQLITE_IOERR"):
        return StoreError(
            f"cannot read or write database {path} ({detail}), often a full disk or a file-size limit (`ulimit -f`); "
            f"{_KEPT}. Free some space or raise the limit and run the command again"
        )
    if name.startswith("SQLITE_BUSY") or "database is locked" in str(cause):
        return StoreError(
            f"database {path} is locked: another process has been writing to it for more than {BUSY_TIMEOUT_S} s ({detail}); "
            f"wait for it (another `docqa index`?) to finish and run the command again"
        )
    if name.startswith("SQLITE_CORRUPT"):
        return StoreError(f"database {path} is damaged ({detail}): rebuild it with `docqa index` into a new file (--db NEW.db)")
    if name == "SQLITE_NOTADB" or "not a database" in str(cause):
        return StoreError(f"{path} is not a usable SQLite database ({cause}): point --db at a docqa database or a new file")
    if name.startswith("SQLITE_CANTOPEN"):
        return StoreError(f"cannot open database {path} ({detail}): check that its folder exists and is writable")
    return None


def _read_only(path: Path) -> bool:
    """Whether the database's folder is on a read-only filesystem or not writable to this user."""
    folder = path.resolve().parent
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY) or not os.access(folder, os.W_OK)
    except OSError:
        return False
