"""SQLite storage for docqa: files, passages, the FTS5 index and Haystack's DocumentStore protocol.

Names are loaded on first use (PEP 562), so `docqa --help` and the configuration can import
`store.errors` without importing Haystack.
"""

from __future__ import annotations

from store.lazy import lazy_attributes
from store.errors import DatabaseMissingError, DocqaError, SchemaVersionError, StoreError

_LAZY = {
    "Failure": "store.records",
    "FileInfo": "store.records",
    "FileState": "store.records",
    "SQLiteDocumentStore": "store.document_store",
    "StoreStats": "store.records",
}

__all__ = ["DatabaseMissingError", "DocqaError", "SchemaVersionError", "StoreError", *_LAZY]

__getattr__ = lazy_attributes(__name__, _LAZY)
