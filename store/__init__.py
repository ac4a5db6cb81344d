"""SQLite storage for docqa: files, passages, the FTS5 index and Haystack's DocumentStore protocol."""

from store import haystack_compat  # noqa: F401  (first: imports Haystack without torch)
from store.document_store import FileInfo, FileState, Failure, SQLiteDocumentStore, StoreStats
from store.errors import DatabaseMissingError, DocqaError, SchemaVersionError, StoreError

__all__ = [
    "DatabaseMissingError",
    "DocqaError",
    "Failure",
    "FileInfo",
    "FileState",
    "SQLiteDocumentStore",
    "SchemaVersionError",
    "StoreError",
    "StoreStats",
]
