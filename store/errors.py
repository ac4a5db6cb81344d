"""docqa's exception hierarchy, and the one range rule for counts.

It lives in `store/` because that is the bottom of the dependency graph
(pipeline -> ingest -> store): every layer can raise and catch these. Each message names the
value, the rule and the fix; the CLI prints it as it is.
"""

from __future__ import annotations


class DocqaError(Exception):
    """Base of every error docqa raises on purpose."""


class StoreError(DocqaError):
    """The database cannot be opened, read or written."""


class DatabaseMissingError(StoreError):
    """A command that reads the index was pointed at a database that does not exist."""


class SchemaVersionError(StoreError):
    """The database was written by a docqa with another schema version."""


class OutOfRangeError(DocqaError, ValueError):
    """A count (top_k, retrieve_k, ...) outside its range; `name` is the parameter's name.

    Also a ValueError, so that the configuration's validation reports it like any other
    wrong value.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def check_count(name: str, value: int, most: int | None = None) -> int:
    """`value` if it is >= 1 (and <= `most` when given), else OutOfRangeError naming `name`.

    Every layer that takes a count (the store, the retrievers, the reader, the ranking, QA,
    the configuration) checks it here, so the rule has one wording wherever it is broken.
    """
    if most is None and value < 1:
        raise OutOfRangeError(name, f"{name} must be >= 1, got {value}")
    if most is not None and not 1 <= value <= most:
        raise OutOfRangeError(name, f"{name} must be between 1 and {most}, got {value}")
    return value


# SQLite stores integers in 8 bytes; a larger Python int cannot be bound to a statement.
SQLITE_MIN_INT, SQLITE_MAX_INT = -(2**63), 2**63 - 1


def check_sqlite_int(name: str, value: int, subject: str | None = None) -> int:
    """`value` if SQLite can hold it (a signed 64-bit integer), else OutOfRangeError naming `name`.

    Python ints are unbounded and sqlite3 raises OverflowError on binding a larger one; the
    store checks every integer a caller hands it here, so the caller hears which one.
    `subject` words the message where the value is part of `name` ("the value of 'meta.x'").
    """
    if not SQLITE_MIN_INT <= value <= SQLITE_MAX_INT:
        raise OutOfRangeError(
            name, f"{subject or name} must be between {SQLITE_MIN_INT} and {SQLITE_MAX_INT} (SQLite's integer range), got {value}"
        )
    return value
